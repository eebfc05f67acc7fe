/**
 * The inner layer, natively: the decrypted packets [compressed (zip/zlib/none)] one-pass
 * signature(s), one literal packet, the signature(s), nothing else. The literal data is hashed
 * with node:crypto while it streams; the signatures are verified at the end (verify.ts). Shapes
 * this does not handle (bzip2, text-mode or v6 signatures, other hashes or key algorithms, no
 * one-pass signature) are handed back unread, as a packet sequence, for openpgp.js.
 */
import { createHash, type Hash } from 'node:crypto';
import { createInflate, createInflateRaw } from 'node:zlib';
import { pipeline, Readable } from 'node:stream';
import * as openpgp from 'openpgp';
import type { OnePassSignaturePacket, PublicKey, SignaturePacket } from 'openpgp';
import { GatewayError } from '../../errors.js';
import { classifyOpenpgpError } from '../classify.js';
import { ByteReader, readHeader, packetBody, readSmallBody, framePacket, Truncated, type PacketHeader } from './bytes.js';
import { finishV4Hash, verifyNative, NATIVE_HASHES, NATIVE_KEY_ALGORITHMS } from './verify.js';

type VerificationResult = openpgp.DecryptMessageResult['signatures'][number];

export type Inner =
  | { kind: 'fallback'; replay: AsyncIterable<Uint8Array> }
  | { kind: 'native'; data: AsyncIterable<Uint8Array>; signatures: VerificationResult[] };

const { packet: TAG, compression } = openpgp.enums;
/** GnuPG and sq make one per signing key; a stream of them is a resource attack. */
const MAX_ONE_PASS_SIGNATURES = 16;

function malformed(why: string): GatewayError {
  return new GatewayError('PGP_MALFORMED', "la structure OpenPGP n'est pas un message signé et chiffré unique / not a single signed and encrypted message", { why });
}

function inflate(body: AsyncIterable<Uint8Array>, raw: boolean): AsyncIterator<Uint8Array> {
  const z = raw ? createInflateRaw({ chunkSize: 1 << 18 }) : createInflate({ chunkSize: 1 << 18 });
  // pipeline forwards errors and backpressure: zlib inflates only as fast as we read.
  return pipeline(Readable.from(body, { objectMode: false }), z, () => undefined)[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
}

async function* rest(r: ByteReader): AsyncGenerator<Uint8Array> {
  for (;;) {
    const c = await r.chunk(1 << 20);
    if (c === null) return;
    yield c;
  }
}

interface Deferred<T> { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void }
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => undefined); // judged later by the policy, or superseded by a stream error
  return { promise, resolve, reject };
}

/**
 * A header read before the literal data (a one-pass signature, the literal packet's own fields)
 * runs past the end of its packet. When the ciphertext was cut, its own check (truncation, MDC)
 * outranks this in open.ts; when that check passes, the packets were sealed this way: their
 * structure is wrong, nothing was truncated. (Literal data that ends early stays "truncated",
 * the verdict openpgp.js gives too.)
 */
function structural(e: unknown): unknown {
  return e instanceof Truncated ? malformed(`${String(e.detail['what'])} runs past the end of its packet`) : e;
}

export async function openInner(plain: AsyncIterator<Uint8Array>, senderKeys: readonly PublicKey[], now: Date, config: openpgp.Config): Promise<Inner> {
  try {
    return await readInner(plain, senderKeys, now, config);
  } catch (e) {
    throw structural(e);
  }
}

async function readInner(plain: AsyncIterator<Uint8Array>, senderKeys: readonly PublicKey[], now: Date, config: openpgp.Config): Promise<Inner> {
  const outer = new ByteReader(plain);
  outer.record();
  let seq = outer;
  let h = await readHeader(outer);
  if (h?.tag === TAG.compressedData) {
    const body = new ByteReader(packetBody(outer, h));
    const algo = await body.byte('compression algorithm');
    if (algo !== compression.uncompressed && algo !== compression.zip && algo !== compression.zlib) return { kind: 'fallback', replay: outer.replay() };
    outer.stopRecording();
    seq = new ByteReader(algo === compression.uncompressed ? rest(body) : inflate(rest(body), algo === compression.zip));
    seq.record();
    h = await readHeader(seq);
  }
  const ops: OnePassSignaturePacket[] = [];
  while (h !== null && h.tag === TAG.onePassSignature) {
    const p = new openpgp.OnePassSignaturePacket();
    try {
      (p as unknown as { read(b: Uint8Array): void }).read(await readSmallBody(seq, h, 64));
    } catch {
      return { kind: 'fallback', replay: seq.replay() };
    }
    const f = p as unknown as { version: number; signatureType: number; hashAlgorithm: number; publicKeyAlgorithm: number };
    if (f.version !== 3 || f.signatureType !== openpgp.enums.signature.binary || NATIVE_HASHES[f.hashAlgorithm] === undefined || !NATIVE_KEY_ALGORITHMS.has(f.publicKeyAlgorithm)) {
      return { kind: 'fallback', replay: seq.replay() };
    }
    ops.push(p);
    if (ops.length > MAX_ONE_PASS_SIGNATURES) throw malformed('too many one-pass signatures');
    h = await readHeader(seq);
  }
  if (h === null || h.tag !== TAG.literalData || ops.length === 0) return { kind: 'fallback', replay: seq.replay() };
  seq.stopRecording();
  const literal = new ByteReader(packetBody(seq, h));
  await literal.byte('literal format');
  await literal.exact(await literal.byte('literal name length'), 'literal name'); // ignored (invariant 7)
  await literal.exact(4, 'literal date');

  const hashes = ops.map((o) => createHash(NATIVE_HASHES[(o as unknown as { hashAlgorithm: number }).hashAlgorithm] as string));
  const pending = ops.map(() => ({ signature: deferred<openpgp.Signature>(), verified: deferred<true>() }));
  const signatures: VerificationResult[] = ops.map((o, i) => ({
    keyID: (o as unknown as { issuerKeyID: openpgp.KeyID }).issuerKeyID,
    signature: (pending[i] as (typeof pending)[number]).signature.promise,
    verified: (pending[i] as (typeof pending)[number]).verified.promise,
  }));

  async function* data(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const c = await literal.chunk(1 << 20);
        if (c === null) break;
        for (const hash of hashes) hash.update(c);
        yield c;
      }
      const sigs = await readSignatures(seq, ops.length, config);
      if ((await readHeader(seq)) !== null) throw malformed('packet after the signatures');
      // Drives the decrypted stream to its end: the MDC is checked there.
      if (!(await outer.atEnd())) throw malformed('data after the compressed packet');
      settle(ops, sigs, hashes, pending, senderKeys, now, config);
    } catch (e) {
      for (const p of pending) { p.signature.reject(e); p.verified.reject(e); }
      throw e;
    }
  }
  return { kind: 'native', data: data(), signatures };
}

async function readSignatures(seq: ByteReader, n: number, config: openpgp.Config): Promise<SignaturePacket[]> {
  const sigs: SignaturePacket[] = [];
  for (let i = 0; i < n; i++) {
    const h: PacketHeader | null = await readHeader(seq);
    if (h === null || h.tag !== TAG.signature) throw malformed('missing trailing signature packets');
    const body = await readSmallBody(seq, h, 1 << 16);
    try {
      const sig = (await openpgp.readSignature({ binarySignature: framePacket(TAG.signature, body), config })).packets[0];
      if (sig === undefined) throw malformed('empty signature');
      sigs.push(sig);
    } catch (e) {
      throw classifyOpenpgpError(e, 'PGP_MALFORMED');
    }
  }
  return sigs;
}

/** Pairs each one-pass signature with its signature (nested: last OPS ↔ first signature) and verifies. */
function settle(ops: OnePassSignaturePacket[], sigs: SignaturePacket[], hashes: Hash[], pending: { signature: Deferred<openpgp.Signature>; verified: Deferred<true> }[],
  senderKeys: readonly PublicKey[], now: Date, config: openpgp.Config): void {
  ops.forEach((o, i) => {
    const sig = sigs[ops.length - 1 - i] as SignaturePacket;
    const p = pending[i] as (typeof pending)[number];
    const list = new openpgp.PacketList<SignaturePacket>();
    list.push(sig);
    p.signature.resolve(new openpgp.Signature(list));
    const op = o as unknown as { issuerKeyID: openpgp.KeyID; hashAlgorithm: number; signatureType: number; publicKeyAlgorithm: number };
    const matches = sig.version === 4 && sig.issuerKeyID.equals(op.issuerKeyID) && sig.hashAlgorithm === op.hashAlgorithm
      && sig.signatureType === op.signatureType && sig.publicKeyAlgorithm === op.publicKeyAlgorithm;
    if (!matches) { p.verified.reject(new Error('Signature does not match its one-pass signature packet')); return; }
    verifyNative(sig, finishV4Hash(hashes[i] as Hash, sig), senderKeys, now, config).then(p.verified.resolve, p.verified.reject);
  });
}
