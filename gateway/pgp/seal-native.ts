/**
 * Re-encryption for a recipient with node:crypto (the same output shape as seal.ts; bench/seal.ts:
 * ≈ 2.6× openpgp.js, on par with `gpg --sign --encrypt`, bounded by AES-CFB encryption, which is
 * serial):
 * PKESK v3 to the recipient's encryption (sub)key — made by openpgp.js for a random AES-256 session
 * key — then SEIPD v1 holding a one-pass signature, the literal data ('b', no name) and the
 * gateway's v4 signature. The literal data and the SEIPD body are written with partial body
 * lengths while the plaintext streams: memory is a few parts, whatever the size; the source is
 * read only as fast as the returned stream is read.
 */
import { randomBytes, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import * as openpgp from 'openpgp';
import type { PublicKey } from 'openpgp';
import { GatewayError, isGatewayError } from '../errors.js';
import type { SealOptions } from './seal.js';
import { PartialPacketWriter } from './native-seal/framing.js';
import { SeipdWriter } from './native-seal/seipd.js';
import { signingMaterial, onePassPacket, dataHash, signaturePacket, type SealHash, type SigningMaterial } from './native-seal/signer.js';

export interface NativeSealTuning {
  /** Partial body part size, as a power of two (default 18: 256 KiB; 9…30). */
  partExp?: number;
  /** Signature hash (default sha256). */
  hash?: SealHash;
}

const DEFAULT_PART_EXP = 18;

/**
 * Everything a sealer needs once the keys are chosen: PKESK packet(s), session key, signing
 * material (its KeyObject can be posted to a worker thread), signature date (ms), tuning.
 */
export interface SealInit {
  pkesk: Uint8Array;
  sessionKey: Uint8Array;
  signer: SigningMaterial;
  date: number;
  tuning: Required<NativeSealTuning>;
}

/** PKESK v3 packet(s) for `sessionKey` (AES-256) to the recipient's encryption key valid at `date`. */
async function sessionKeyPackets(recipientKey: PublicKey, sessionKey: Uint8Array, date: Date): Promise<Uint8Array> {
  return openpgp.encryptSessionKey({
    data: sessionKey, algorithm: 'aes256', encryptionKeys: recipientKey, format: 'binary', date,
    config: { aeadProtect: false },
  });
}

/**
 * The synchronous core: feed plaintext chunks, get the message bytes completed so far. Made by
 * `create` (which picks the keys, asynchronously), or `prepare` then `fromInit` in another thread;
 * `update` and `final` only hash, encrypt and frame. The chunks given to `update` are kept (not
 * copied) until their part is written: do not reuse their memory.
 */
export class NativeSealer {
  private readonly out: Uint8Array[];
  private readonly inner: Uint8Array[] = [];
  private readonly seipd: SeipdWriter;
  private readonly literal: PartialPacketWriter;
  private readonly hash: Hash;
  private readonly signer: SigningMaterial;
  private readonly tuning: Required<NativeSealTuning>;
  private readonly date: Date;
  private ended = false;

  private constructor(init: SealInit) {
    this.signer = init.signer;
    this.tuning = init.tuning;
    this.date = new Date(init.date);
    this.out = [init.pkesk];
    this.seipd = new SeipdWriter(init.sessionKey, init.tuning.partExp, this.out);
    this.literal = new PartialPacketWriter(openpgp.enums.packet.literalData, init.tuning.partExp);
    this.hash = dataHash(init.tuning.hash);
    this.inner.push(onePassPacket(init.signer, init.tuning.hash));
    const literalHeader = Buffer.alloc(6); // format 'b', empty file name, date
    literalHeader[0] = 0x62;
    literalHeader.writeUInt32BE(Math.floor(init.date / 1000), 2);
    this.literal.push(literalHeader, this.inner);
  }

  /** The keys' part (asynchronous, openpgp.js): what `fromInit` needs, structured-clonable. */
  static async prepare(opts: SealOptions, tuning: NativeSealTuning = {}): Promise<SealInit> {
    const date = opts.date ?? new Date();
    const signer = await signingMaterial(opts.signingKey, date);
    const sessionKey = randomBytes(32);
    const pkesk = await sessionKeyPackets(opts.recipientKey, sessionKey, date);
    return { pkesk, sessionKey, signer, date: date.getTime(), tuning: { partExp: tuning.partExp ?? DEFAULT_PART_EXP, hash: tuning.hash ?? 'sha256' } };
  }

  static fromInit(init: SealInit): NativeSealer {
    return new NativeSealer(init);
  }

  static async create(opts: SealOptions, tuning: NativeSealTuning = {}): Promise<NativeSealer> {
    return new NativeSealer(await NativeSealer.prepare(opts, tuning));
  }

  /** Takes plaintext; returns the message bytes now complete (whole parts), or null if none yet. */
  update(chunk: Uint8Array): Buffer | null {
    const parts = this.updateParts(chunk);
    if (parts.length === 0) return null;
    const bytes = Buffer.concat(parts);
    return bytes.length > 0 ? bytes : null;
  }

  /** Ends the plaintext: the rest of the message (last parts, signature, MDC). */
  final(): Buffer {
    return Buffer.concat(this.finalParts());
  }

  /**
   * As `update`, the message bytes as the pieces they were made in (headers, ciphertext parts):
   * for a writer that writes them as they are (one writev), without copying them into one.
   */
  updateParts(chunk: Uint8Array): Uint8Array[] {
    if (this.ended) throw new Error('NativeSealer: update after final');
    if (chunk.length > 0) {
      this.hash.update(chunk);
      this.literal.push(chunk, this.inner);
    }
    return this.takeParts();
  }

  /** As `final`, in pieces. */
  finalParts(): Uint8Array[] {
    if (this.ended) throw new Error('NativeSealer: final called twice');
    this.ended = true;
    this.literal.end(this.inner);
    this.inner.push(signaturePacket(this.signer, this.tuning.hash, this.hash, this.date));
    for (const p of this.inner) this.seipd.write(p, this.out);
    this.inner.length = 0;
    this.seipd.end(this.out);
    return this.takeParts();
  }

  private takeParts(): Uint8Array[] {
    for (const p of this.inner) this.seipd.write(p, this.out);
    this.inner.length = 0;
    return this.out.splice(0);
  }
}

async function* seal(source: AsyncIterator<Uint8Array>, opts: SealOptions, tuning: NativeSealTuning): AsyncGenerator<Buffer> {
  const sealer = await NativeSealer.create(opts, tuning);
  for (;;) {
    const r = await source.next();
    if (r.done === true) break;
    const chunk = sealer.update(r.value);
    if (chunk !== null) yield chunk;
  }
  yield sealer.final();
}

/**
 * Signs and encrypts `plaintext` for one recipient; returns the binary OpenPGP message as a
 * stream, read by GnuPG 2.2, sq and openpgp.js. Errors (a recipient key without a valid
 * encryption subkey, a locked signing key…) surface as a GatewayError on the returned stream;
 * an error of the source is passed on as it is if it is a GatewayError.
 */
export function sealNative(plaintext: AsyncIterable<Uint8Array> | Readable, opts: SealOptions, tuning: NativeSealTuning = {}): Readable {
  const source = plaintext[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  async function* guarded(): AsyncGenerator<Buffer> {
    try {
      yield* seal(source, opts, tuning);
    } catch (e) {
      if (isGatewayError(e)) throw e;
      throw new GatewayError('GATEWAY_FAILURE', 'chiffrement pour le destinataire impossible / cannot encrypt for the recipient', {}, { cause: e });
    } finally {
      await source.return?.();
    }
  }
  return Readable.from(guarded(), { objectMode: false, highWaterMark: 1 });
}
