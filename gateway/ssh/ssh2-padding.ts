/**
 * Random padding of outgoing SSH packets, drawn in bulk (ssh2 1.17, aes128-gcm and aes256-gcm
 * with its native binding: what rclone and other Go clients pick first, and the bench; OpenSSH
 * clients prefer chacha20-poly1305, whose packets keep ssh2's own padding).
 *
 * RFC 4253 §6 wants each packet's padding random. ssh2 fills it with one `randomFillSync` call
 * per packet (4-19 bytes); on a 512 MiB download that is ~16,000 calls of a few microseconds:
 * 7 % of the SSH thread in the profile. The same CSPRNG, read 64 KiB at a time and handed out
 * without reuse, gives every packet fresh random padding for a fraction of the cost.
 *
 * Only `allocPacket` is replaced (framing: length, padding length, padding, room for the tag),
 * on the prototype found by making one throwaway cipher; ssh2 is pinned exactly and the test
 * (test/ssh/padding.test.ts) checks the framing against ssh2's own decipher and fails if the
 * replacement is not installed.
 */
import { randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';

interface CipherInstance {
  allocPacket(payloadLen: number): Buffer;
  free(): void;
}
interface Ssh2Crypto {
  bindingAvailable: boolean;
  CIPHER_INFO: Record<string, { sslName: string; keyLen: number; ivLen: number } | undefined>;
  createCipher(config: unknown): CipherInstance;
}

const POOL_BYTES = 64 * 1024;
let pool = Buffer.alloc(0);
let used = 0;

/** `n` bytes from the CSPRNG, never handed out twice. */
function randomInto(target: Buffer, offset: number, n: number): void {
  if (used + n > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
    used = 0;
  }
  pool.copy(target, offset, used, used + n);
  pool.fill(0, used, used + n); // what was handed out does not stay in memory
  used += n;
}

/** AES-GCM framing (RFC 5647): the length is not encrypted, the rest is a multiple of 16. */
export function allocGcmPacket(payloadLen: number): Buffer {
  let pktLen = 4 + 1 + payloadLen;
  let padLen = 16 - ((pktLen - 4) & 15);
  if (padLen < 4) padLen += 16;
  pktLen += padLen;
  const packet = Buffer.allocUnsafe(pktLen + 16); // + authentication tag
  packet.writeUInt32BE(pktLen - 4, 0);
  packet[4] = padLen;
  randomInto(packet, 5 + payloadLen, padLen);
  return packet;
}

export const ssh2Crypto = createRequire(import.meta.url)('ssh2/lib/protocol/crypto.js') as Ssh2Crypto;

let installed: object | undefined;

/** The prototype whose `allocPacket` is replaced (undefined without ssh2's native binding). */
export function gcmCipherPrototype(): { allocPacket: (n: number) => Buffer } | undefined {
  if (!ssh2Crypto.bindingAvailable) return undefined;
  const info = ssh2Crypto.CIPHER_INFO['aes128-gcm@openssh.com'];
  if (!info) return undefined;
  const probe = ssh2Crypto.createCipher({
    outbound: { onWrite: () => undefined, cipherInfo: info, cipherKey: Buffer.alloc(info.keyLen), cipherIV: Buffer.alloc(info.ivLen), seqno: 0 },
  });
  probe.free();
  return Object.getPrototypeOf(probe) as { allocPacket: (n: number) => Buffer };
}

/** Installs the bulk padding once per process. */
export function bulkPadding(): void {
  if (installed) return;
  const proto = gcmCipherPrototype();
  if (!proto) return;
  proto.allocPacket = allocGcmPacket;
  installed = proto;
}

