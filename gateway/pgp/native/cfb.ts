/**
 * AES-CFB-128 decryption (OpenPGP SEIPD v1: zero IV, no resync) built on AES-ECB. CFB decryption
 * is P[i] = C[i] XOR E(C[i-1]): every block cipher call takes ciphertext that is already known,
 * so the keystream is one ECB encryption of the ciphertext shifted by a block, which OpenSSL
 * pipelines with AES-NI (≈ 3× its block-by-block CFB decryption here).
 */
import { createCipheriv, type Cipher } from 'node:crypto';

const EMPTY = Buffer.alloc(0);

/** out[i] = a[i] ^ b[i] for i < n; word at a time when the three are 4-byte aligned. */
function xor(out: Buffer, a: Uint8Array, b: Uint8Array, n: number): void {
  let i = 0;
  if (((out.byteOffset | a.byteOffset | b.byteOffset) & 3) === 0) {
    const n4 = n >>> 2;
    const o = new Int32Array(out.buffer, out.byteOffset, n4);
    const x = new Int32Array(a.buffer, a.byteOffset, n4);
    const y = new Int32Array(b.buffer, b.byteOffset, n4);
    for (let w = 0; w < n4; w++) o[w] = (x[w] as number) ^ (y[w] as number);
    i = n4 << 2;
  }
  for (; i < n; i++) out[i] = (a[i] as number) ^ (b[i] as number);
}

export class CfbDecipher {
  private readonly ecb: Cipher;
  private prev: Buffer = Buffer.alloc(16); // the previous ciphertext block (the IV at first)
  private carry: Buffer = EMPTY; // ciphertext bytes short of a whole block

  /** `algorithm`: 'aes-128-ecb' | 'aes-192-ecb' | 'aes-256-ecb'. */
  constructor(algorithm: string, key: Uint8Array) {
    this.ecb = createCipheriv(algorithm, key, null);
    this.ecb.setAutoPadding(false);
  }

  update(chunk: Uint8Array): Buffer {
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    const n = data.length - (data.length % 16);
    this.carry = Buffer.from(data.subarray(n)); // a copy: at most 15 bytes
    if (n === 0) return EMPTY;
    const out = Buffer.allocUnsafe(n);
    const first = this.ecb.update(this.prev);
    xor(out, data, first, 16);
    if (n > 16) {
      const ks = this.ecb.update(data.subarray(0, n - 16));
      const rest = out.subarray(16);
      // Aligned views make the XOR word-wise; an odd input offset costs one copy.
      const c = (data.byteOffset + 16) % 4 === 0 ? data.subarray(16, n) : Buffer.from(data.subarray(16, n));
      xor(rest, c, ks, n - 16);
    }
    this.prev = Buffer.from(data.subarray(n - 16, n));
    return out;
  }

  /** The last partial block, if any. */
  final(): Buffer {
    if (this.carry.length === 0) return EMPTY;
    const out = Buffer.allocUnsafe(this.carry.length);
    xor(out, this.carry, this.ecb.update(this.prev), this.carry.length);
    this.carry = EMPTY;
    return out;
  }
}
