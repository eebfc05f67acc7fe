/**
 * Re-encryption for a recipient with node:crypto (the same output shape as seal.ts, ≈ 10× faster):
 * PKESK v3 to the recipient's encryption (sub)key — made by openpgp.js for a random AES-256 session
 * key — then SEIPD v1 holding a one-pass signature, the literal data ('b', no name) and the
 * gateway's v4 signature. The literal data and the SEIPD body are written with partial body
 * lengths while the plaintext streams: memory is a few parts, whatever the size; the source is
 * read only as fast as the returned stream is read.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import * as openpgp from 'openpgp';
import type { PublicKey } from 'openpgp';
import { GatewayError, isGatewayError } from '../errors.js';
import type { SealOptions } from './seal.js';
import { PartialPacketWriter } from './native-seal/framing.js';
import { SeipdWriter } from './native-seal/seipd.js';
import { signingMaterial, onePassPacket, dataHash, signaturePacket, type SealHash } from './native-seal/signer.js';

export interface NativeSealTuning {
  /** Partial body part size, as a power of two (default 18: 256 KiB; 9…30). */
  partExp?: number;
  /** Signature hash (default sha256). */
  hash?: SealHash;
}

const DEFAULT_PART_EXP = 18;

/** PKESK v3 packet(s) for `sessionKey` (AES-256) to the recipient's encryption key valid at `date`. */
async function sessionKeyPackets(recipientKey: PublicKey, sessionKey: Uint8Array, date: Date): Promise<Uint8Array> {
  return openpgp.encryptSessionKey({
    data: sessionKey, algorithm: 'aes256', encryptionKeys: recipientKey, format: 'binary', date,
    config: { aeadProtect: false },
  });
}

async function* seal(source: AsyncIterator<Uint8Array>, opts: SealOptions, tuning: NativeSealTuning): AsyncGenerator<Buffer> {
  const date = opts.date ?? new Date();
  const hash = tuning.hash ?? 'sha256';
  const partExp = tuning.partExp ?? DEFAULT_PART_EXP;
  const signer = await signingMaterial(opts.signingKey, date);
  const sessionKey = randomBytes(32);
  const out: Uint8Array[] = [await sessionKeyPackets(opts.recipientKey, sessionKey, date)];
  const seipd = new SeipdWriter(sessionKey, partExp, out);
  const inner: Uint8Array[] = [];
  const literal = new PartialPacketWriter(openpgp.enums.packet.literalData, partExp);
  const h = dataHash(hash);
  const flush = (): Buffer => {
    for (const p of inner) seipd.write(p, out);
    inner.length = 0;
    const chunk = Buffer.concat(out);
    out.length = 0;
    return chunk;
  };

  inner.push(onePassPacket(signer, hash));
  const literalHeader = Buffer.alloc(6); // format 'b', empty file name, date
  literalHeader[0] = 0x62;
  literalHeader.writeUInt32BE(Math.floor(date.getTime() / 1000), 2);
  literal.push(literalHeader, inner);
  for (;;) {
    const r = await source.next();
    if (r.done === true) break;
    if (r.value.length === 0) continue;
    h.update(r.value);
    literal.push(r.value, inner);
    if (inner.length > 0) yield flush();
  }
  literal.end(inner);
  inner.push(signaturePacket(signer, hash, h, date));
  for (const p of inner) seipd.write(p, out);
  inner.length = 0;
  seipd.end(out);
  yield flush();
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
