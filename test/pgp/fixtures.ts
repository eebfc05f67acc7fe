/**
 * Shared material for the OpenPGP tests: a GnuPG home with the gateway and partner keys, the
 * keys loaded into openpgp.js, and a helper that consumes an opened message the way the
 * intake pipeline must (plaintext to the end, then the result).
 */
import * as openpgp from 'openpgp';
import { openMessage, type OpenOptions, type OpenResult } from '../../gateway/pgp/open.js';
import type { InputStream } from '../../gateway/pgp/streams.js';
import { readPrivateKey, readPublicKeys } from '../../gateway/pgp/keys.js';
import { isGatewayError } from '../../gateway/errors.js';
import { GnuPG } from './gnupg.js';

export const DAY = 24 * 3600;
/** Keys are made 30 days ago so that signatures can be made (faked) in the past. */
export const KEYS_AT = Math.floor(Date.now() / 1000) - 30 * DAY;

export const GATEWAY = 'gateway@passerelle.test';
export const PARTNER_ED = 'partner-ed@partner.test';
export const PARTNER_RSA = 'partner-rsa@partner.test';

export interface Outcome {
  plaintext: Buffer;
  verdict?: OpenResult;
  code?: string;
  error?: unknown;
}

/** Consumes `plaintext` fully, then awaits `result`: the contract of openMessage. */
export async function consume(input: InputStream, opts: OpenOptions): Promise<Outcome> {
  const opened = openMessage(input, opts);
  const chunks: Buffer[] = [];
  try {
    for await (const c of opened.plaintext) chunks.push(Buffer.from(c));
    const verdict = await opened.result;
    return { plaintext: Buffer.concat(chunks), verdict };
  } catch (e) {
    // The iteration's error and the result's rejection are the same error.
    const fromResult = await opened.result.then(() => undefined, (r: unknown) => r);
    if (fromResult !== e) throw new Error(`result rejected with another error than the iteration: ${String(fromResult)} vs ${String(e)}`, { cause: e });
    return { plaintext: Buffer.concat(chunks), code: isGatewayError(e) ? e.code : 'NOT_A_GATEWAY_ERROR', error: e };
  }
}

export function fileStream(buf: Buffer, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (off >= buf.length) { c.close(); return; }
      c.enqueue(new Uint8Array(buf.subarray(off, off + chunk)));
      off += chunk;
    },
  });
}

export async function loadPrivate(g: GnuPG, who: string): Promise<openpgp.PrivateKey> {
  return readPrivateKey(g.exportSecret(who));
}

export async function loadPublic(g: GnuPG, who: string): Promise<openpgp.PublicKey[]> {
  return readPublicKeys(g.exportPublic(who));
}

/**
 * Builds a signed message with openpgp.js, lets `tamper` change its packets after signing (add a
 * literal packet, change the data), then encrypts the packets as they are to `recipient`: what
 * an attacker who builds packets by hand can send. GnuPG cannot make these.
 */
export async function craftSignedEncrypted(
  body: Uint8Array, signer: openpgp.PrivateKey, recipient: openpgp.PublicKey,
  tamper: (packets: openpgp.PacketList<openpgp.AnyPacket>) => void = () => undefined,
): Promise<Buffer> {
  const message = await openpgp.createMessage({ binary: body });
  const signed = await message.sign([signer]);
  tamper(signed.packets);
  const encrypted = await signed.encrypt([recipient]);
  return Buffer.from(encrypted.write() as Uint8Array);
}

/** A literal data packet holding `data`. */
export function literalPacket(data: Uint8Array): openpgp.LiteralDataPacket {
  const p = new openpgp.LiteralDataPacket();
  (p as unknown as { setBytes(b: Uint8Array, f: openpgp.enums.literal): void }).setBytes(data, openpgp.enums.literal.binary);
  return p;
}

/**
 * `packets` (raw bytes, any structure) in a stored (algorithm 0) compressed packet, encrypted to
 * `recipient` with a valid MDC: packets no OpenPGP implementation would write, sealed properly.
 */
export async function encryptRawPackets(packets: Uint8Array, recipient: openpgp.PublicKey): Promise<Buffer> {
  const packet = new openpgp.CompressedDataPacket();
  // Fields openpgp's types keep private: the bytes are set as they are, not compressed.
  Object.assign(packet, { algorithm: openpgp.enums.compression.uncompressed, compressed: packets });
  const list = new openpgp.PacketList<openpgp.AnyPacket>();
  list.push(packet);
  const encrypted = await new openpgp.Message(list).encrypt([recipient]);
  return Buffer.from(encrypted.write() as Uint8Array);
}

/**
 * A signed message built byte by byte (one-pass signature, literal data, a v4 EdDSA signature
 * over SHA-256 with its creation time, issuer fingerprint and `extra` hashed subpackets), encrypted
 * to `recipient`: a valid signature carrying subpackets no implementation writes. `signer` is a
 * legacy-EdDSA key (GnuPG's ed25519) that signs with its primary key.
 */
export async function craftSignatureWithSubpackets(
  body: Buffer, signer: openpgp.PrivateKey, recipient: openpgp.PublicKey, extra: { type: number; critical: boolean; data: Buffer }[],
  o: { signatureType?: number; noCreationTime?: boolean } = {},
): Promise<Buffer> {
  const { createHash, createPrivateKey, sign } = await import('node:crypto');
  const packet = (tag: number, b: Buffer): Buffer => {
    if (b.length >= 192) throw new Error('craftSignatureWithSubpackets: keep packets small');
    return Buffer.concat([Buffer.from([0xc0 | tag, b.length]), b]);
  };
  const sub = (type: number, critical: boolean, data: Buffer): Buffer => Buffer.concat([Buffer.from([data.length + 1, (critical ? 0x80 : 0) | type]), data]);
  const created = Buffer.alloc(4);
  created.writeUInt32BE(Math.floor(Date.now() / 1000) - 60);
  const fpr = Buffer.from(signer.getFingerprint(), 'hex');
  const hashed = Buffer.concat([...(o.noCreationTime === true ? [] : [sub(2, false, created)]), sub(33, false, Buffer.concat([Buffer.from([4]), fpr])), ...extra.map((e) => sub(e.type, e.critical, e.data))]);
  const head = Buffer.concat([Buffer.from([4, o.signatureType ?? 0x00, openpgp.enums.publicKey.eddsaLegacy, openpgp.enums.hash.sha256, hashed.length >> 8, hashed.length & 0xff]), hashed]);
  const trailer = Buffer.alloc(6);
  trailer[0] = 4;
  trailer[1] = 0xff;
  trailer.writeUInt32BE(head.length, 2);
  const digest = createHash('sha256').update(body).update(head).update(trailer).digest();
  const params = (signer.keyPacket as unknown as { privateParams: { seed: Uint8Array }; publicParams: { Q: Uint8Array } });
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(params.privateParams.seed).toString('base64url'), x: Buffer.from(params.publicParams.Q.subarray(1)).toString('base64url') }, format: 'jwk' });
  const rs = sign(null, digest, key);
  const mpi = (b: Buffer): Buffer => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = b.subarray(i);
    const bits = (v.length - 1) * 8 + (32 - Math.clz32(v[0] as number));
    return Buffer.concat([Buffer.from([bits >> 8, bits & 0xff]), v]);
  };
  const unhashed = sub(16, false, Buffer.from(signer.getKeyID().toHex(), 'hex'));
  const signature = Buffer.concat([head, Buffer.from([unhashed.length >> 8, unhashed.length & 0xff]), unhashed, digest.subarray(0, 2), mpi(rs.subarray(0, 32)), mpi(rs.subarray(32))]);
  const literal = Buffer.concat([Buffer.from('b\x00\x00\x00\x00\x00', 'latin1'), body]);
  return encryptRawPackets(Buffer.concat([onePassSignature(signer.toPublic(), o.signatureType), packet(11, literal), packet(2, signature)]), recipient);
}

/** A one-pass signature packet (version 3, binary unless told, SHA-256, EdDSA, last) announcing `signer`. */
export function onePassSignature(signer: openpgp.PublicKey, signatureType = 0): Buffer {
  return Buffer.concat([Buffer.from([0x90, 0x0d, 3, signatureType, 8, 22]), Buffer.from(signer.getKeyID().toHex(), 'hex'), Buffer.from([1])]);
}

/**
 * A zlib compression bomb: a compressed packet whose content is a one-pass signature announcing
 * `signer` (an Ed25519 key) and a literal packet of `size` zero bytes, encrypted to `recipient`. Built without compressing `size` bytes: after a
 * full flush deflate forgets its history, so every 1 MiB block of zeros compresses to the same
 * bytes and the stream is that block repeated (the Adler-32 at the end is not the real one; a
 * reader stopped at its limit never gets there).
 */
export async function zlibBomb(size: number, recipient: openpgp.PublicKey, signer: openpgp.PublicKey): Promise<Buffer> {
  const { deflateSync, constants } = await import('node:zlib');
  const MiB = 1 << 20;
  const ops = onePassSignature(signer);
  const header = Buffer.alloc(2 + 4 + 6);
  header[0] = 0xcb; // new-format literal data packet
  header[1] = 0xff; // five-octet length follows
  header.writeUInt32BE(size + 6, 2);
  header.write('b', 6, 'latin1'); // binary, no file name, date 0
  const first = deflateSync(Buffer.concat([ops, header, Buffer.alloc(MiB)]), { flush: constants.Z_FULL_FLUSH, finishFlush: constants.Z_FULL_FLUSH });
  const block = deflateSync(Buffer.alloc(MiB), { flush: constants.Z_FULL_FLUSH, finishFlush: constants.Z_FULL_FLUSH }).subarray(2); // without the zlib header
  const parts = [first];
  for (let done = MiB; done < size; done += MiB) parts.push(block);
  parts.push(Buffer.from([0x03, 0x00, 0, 0, 0, 1])); // final empty block, Adler-32 placeholder
  const packet = new openpgp.CompressedDataPacket();
  // Fields openpgp's types keep private: the bytes are set as they are, not compressed again.
  Object.assign(packet, { algorithm: openpgp.enums.compression.zlib, compressed: Buffer.concat(parts) });
  const list = new openpgp.PacketList<openpgp.AnyPacket>();
  list.push(packet);
  const encrypted = await new openpgp.Message(list).encrypt([recipient]);
  return Buffer.from(encrypted.write() as Uint8Array);
}
