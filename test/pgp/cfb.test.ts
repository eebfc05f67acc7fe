import { describe, it, expect } from 'vitest';
import { createCipheriv, createDecipheriv, randomBytes, randomInt } from 'node:crypto';
import { CfbDecipher } from '../../gateway/pgp/native/cfb.js';

describe('CfbDecipher (CFB-128 from ECB)', () => {
  for (const bits of [128, 192, 256]) {
    it(`decrypts AES-${bits}-CFB like OpenSSL, whatever the chunk boundaries and offsets`, () => {
      for (let round = 0; round < 20; round++) {
        const key = randomBytes(bits / 8);
        const plain = randomBytes(randomInt(0, 200_000));
        const cipher = createCipheriv(`aes-${bits}-cfb`, key, Buffer.alloc(16));
        const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
        const d = new CfbDecipher(`aes-${bits}-ecb`, key);
        const out: Buffer[] = [];
        for (let off = 0; off < ct.length;) {
          const len = randomInt(1, 70_000);
          // Unaligned views, as packet bodies are inside input chunks.
          const lead = randomInt(0, 4);
          const host = Buffer.alloc(lead + len);
          ct.copy(host, lead, off, off + len);
          out.push(d.update(host.subarray(lead, lead + Math.min(len, ct.length - off))));
          off += len;
        }
        out.push(d.final());
        expect(Buffer.concat(out).equals(plain)).toBe(true);
        const ref = createDecipheriv(`aes-${bits}-cfb`, key, Buffer.alloc(16));
        expect(Buffer.concat([ref.update(ct), ref.final()]).equals(plain)).toBe(true);
      }
    });
  }
});
