/**
 * Random padding of outgoing SSH packets, drawn in bulk (ssh2 1.17 with its native binding:
 * aes128-gcm and aes256-gcm, what rclone and other Go clients pick first, and the bench;
 * chacha20-poly1305, OpenSSH's first choice).
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
export function randomInto(target: Buffer, offset: number, n: number): void {
  if (used + n > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
    used = 0;
  }
  pool.copy(target, offset, used, used + n);
  used += n;
}

/**
 * ssh2's framing for a cipher of `block`-byte blocks whose packet length is sent apart (AES-GCM,
 * RFC 5647; chacha20-poly1305@openssh.com): length, padding length, payload (filled by the
 * caller), 4 to block+3 bytes of random padding so the rest is a multiple of `block`, room for
 * the `tag`.
 */
export interface Framing {
  readonly block: number;
  readonly tag: number;
}

export const GCM: Framing = { block: 16, tag: 16 };
const CHACHA: Framing = { block: 8, tag: 16 };

/** Padding length and whole size (tag included) of the packet carrying `payloadLen` bytes. */
export function framedSize(f: Framing, payloadLen: number): { padding: number; size: number } {
  const unpadded = 4 + 1 + payloadLen;
  let padding = f.block - ((unpadded - 4) & (f.block - 1));
  if (padding < 4) padding += f.block;
  return { padding, size: unpadded + padding + f.tag };
}

/** Writes the length, padding length and random padding of a packet laid out by `framedSize`. */
export function framePacket(packet: Buffer, payloadLen: number, padding: number, f: Framing): void {
  packet.writeUInt32BE(packet.length - f.tag - 4, 0);
  packet[4] = padding;
  randomInto(packet, 5 + payloadLen, padding);
}

function paddedAlloc(f: Framing): (payloadLen: number) => Buffer {
  return (payloadLen) => {
    const { padding, size } = framedSize(f, payloadLen);
    const packet = Buffer.allocUnsafe(size);
    framePacket(packet, payloadLen, padding, f);
    return packet;
  };
}

export const allocGcmPacket = paddedAlloc(GCM);
export const allocChachaPacket = paddedAlloc(CHACHA);

export const ssh2Crypto = createRequire(import.meta.url)('ssh2/lib/protocol/crypto.js') as Ssh2Crypto;

/** Which of ssh2's native cipher classes get which framing (checked by class name). */
const TARGETS = [
  { cipher: 'aes128-gcm@openssh.com', className: 'AESGCMCipherBinding', framing: GCM, alloc: allocGcmPacket },
  { cipher: 'chacha20-poly1305@openssh.com', className: 'ChaChaPolyCipherBinding', framing: CHACHA, alloc: allocChachaPacket },
] as const;

/**
 * The framing of ssh2's native cipher class named `className`, whose `encrypt(packet)` encrypts
 * such a packet in place and writes it; undefined for the others.
 */
export function framingOf(className: string): Framing | undefined {
  return TARGETS.find((t) => t.className === className)?.framing;
}

let installed = false;

/** The prototype of ssh2's cipher class for `cipher` (undefined without its native binding). */
export function cipherPrototype(cipher: string): { allocPacket: (n: number) => Buffer; constructor: { name: string } } | undefined {
  if (!ssh2Crypto.bindingAvailable) return undefined;
  const info = ssh2Crypto.CIPHER_INFO[cipher];
  if (!info) return undefined;
  const probe = ssh2Crypto.createCipher({
    outbound: { onWrite: () => undefined, cipherInfo: info, cipherKey: Buffer.alloc(info.keyLen), cipherIV: Buffer.alloc(info.ivLen), seqno: 0 },
  });
  probe.free();
  return Object.getPrototypeOf(probe) as { allocPacket: (n: number) => Buffer; constructor: { name: string } };
}

/** Installs the bulk padding once per process, on the classes it knows the framing of. */
export function bulkPadding(): void {
  if (installed) return;
  installed = true;
  for (const t of TARGETS) {
    const proto = cipherPrototype(t.cipher);
    if (proto?.constructor.name === t.className) proto.allocPacket = t.alloc;
  }
}
