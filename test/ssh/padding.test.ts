import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { allocChachaPacket, allocGcmPacket, bulkPadding, cipherPrototype, ssh2Crypto } from '../../gateway/ssh/ssh2-padding.js';

interface Decipher { decrypt(data: Buffer, p: number, len: number): unknown }
const createDecipher = (ssh2Crypto as unknown as { createDecipher(config: unknown): Decipher }).createDecipher;

describe('bulk padding of outgoing SSH packets', () => {
  it('is installed on ssh2 1.17\'s AES-GCM and chacha20-poly1305 ciphers', () => {
    expect(ssh2Crypto.bindingAvailable).toBe(true); // the pinned ssh2 builds its binding here
    bulkPadding();
    expect(cipherPrototype('aes128-gcm@openssh.com')?.allocPacket).toBe(allocGcmPacket);
    expect(cipherPrototype('aes256-gcm@openssh.com')?.allocPacket).toBe(allocGcmPacket);
    expect(cipherPrototype('chacha20-poly1305@openssh.com')?.allocPacket).toBe(allocChachaPacket);
  });

  it('frames packets that ssh2\'s own decipher reads back, for every payload length class and cipher', () => {
    bulkPadding();
    for (const name of ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com']) {
      const block = name.startsWith('chacha') ? 8 : 16;
      const info = ssh2Crypto.CIPHER_INFO[name]!;
      const key = randomBytes(info.keyLen);
      const iv = randomBytes(info.ivLen);
      const wire: Buffer[] = [];
      const cipher = ssh2Crypto.createCipher({ outbound: { onWrite: (p: Buffer) => wire.push(Buffer.from(p)), cipherInfo: info, cipherKey: key, cipherIV: iv, seqno: 0 } }) as unknown as {
        allocPacket(n: number): Buffer; encrypt(p: Buffer): void;
      };
      const got: Buffer[] = [];
      const decipher = createDecipher({ inbound: { onPayload: (p: Buffer) => void got.push(Buffer.from(p)), decipherInfo: info, decipherKey: key, decipherIV: iv, seqno: 0 } });
      const sent: Buffer[] = [];
      for (let len = 1; len <= 70; len++) sent.push(randomBytes(len));
      sent.push(randomBytes(32768), randomBytes(32768 + 13));
      for (const payload of sent) {
        const packet = cipher.allocPacket(payload.length);
        const padLen = packet[4]!;
        expect(padLen).toBeGreaterThanOrEqual(4);
        expect((packet.readUInt32BE(0)) % block).toBe(0);
        expect(packet.length).toBe(4 + packet.readUInt32BE(0) + 16);
        payload.copy(packet, 5);
        cipher.encrypt(packet);
      }
      const stream = Buffer.concat(wire);
      decipher.decrypt(stream, 0, stream.length);
      expect(got).toEqual(sent);
    }
  });

  it('gives each packet fresh random padding', () => {
    const paddings = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const p = allocGcmPacket(15); // padding length byte + 15 bytes fill a block: 16 bytes of padding
      expect(p[4]).toBe(16);
      const pad = p.subarray(20, 36);
      paddings.add(pad.toString('hex'));
    }
    expect(paddings.size).toBe(2000); // 2000 draws of 128 bits: a repeat means reuse
    expect(paddings.has('00'.repeat(16))).toBe(false);
  });
});
