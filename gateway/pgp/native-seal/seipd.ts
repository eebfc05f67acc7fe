/**
 * SEIPD v1 (RFC 9580 §5.13.1) written as the plaintext streams: version 1, then AES in OpenPGP's
 * CFB mode without resync — plain CFB-128 with a zero IV — over a random 16-byte block and its
 * last two bytes repeated, the packets, and the MDC packet (0xD3 0x14 ‖ SHA-1 of all the
 * plaintext before it, including 0xD3 0x14). The body goes out in partial lengths.
 */
import { createCipheriv, createHash, randomBytes, type Cipher, type Hash } from 'node:crypto';
import * as openpgp from 'openpgp';
import { PartialPacketWriter } from './framing.js';

const AES_CFB: Record<number, string> = { 16: 'aes-128-cfb', 24: 'aes-192-cfb', 32: 'aes-256-cfb' };
const MDC_HEADER = Uint8Array.of(0xd3, 0x14);

export class SeipdWriter {
  private readonly cipher: Cipher;
  private readonly mdc: Hash = createHash('sha1');
  private readonly packet: PartialPacketWriter;

  /** `out` receives the packet bytes (header included) as they become complete. */
  constructor(sessionKey: Uint8Array, partExp: number, out: Uint8Array[]) {
    const algorithm = AES_CFB[sessionKey.length];
    if (algorithm === undefined) throw new RangeError(`AES key of ${sessionKey.length} bytes`);
    this.cipher = createCipheriv(algorithm, sessionKey, Buffer.alloc(16));
    this.packet = new PartialPacketWriter(openpgp.enums.packet.symEncryptedIntegrityProtectedData, partExp);
    this.packet.push(Uint8Array.of(1), out);
    const prefix = randomBytes(18);
    prefix.copyWithin(16, 14, 16);
    this.write(prefix, out);
  }

  /** Encrypts plaintext (inner packet bytes). */
  write(plain: Uint8Array, out: Uint8Array[]): void {
    if (plain.length === 0) return;
    this.mdc.update(plain);
    this.packet.push(this.cipher.update(plain), out);
  }

  end(out: Uint8Array[]): void {
    this.mdc.update(MDC_HEADER);
    this.packet.push(this.cipher.update(MDC_HEADER), out);
    this.packet.push(this.cipher.update(this.mdc.digest()), out);
    const last = this.cipher.final();
    if (last.length > 0) this.packet.push(last, out);
    this.packet.end(out);
  }
}
