/**
 * The outer layer, natively: public-key session key packets, then one SEIPD v1 packet decrypted
 * with node:crypto (AES in OpenPGP's CFB mode without resync, which is plain CFB-128 with a zero
 * IV over prefix ‖ data ‖ MDC; cfb.ts) and its MDC (SHA-1 over prefix ‖ data ‖ 0xD3 0x14) checked at the
 * end. openpgp.js still decrypts the session key. Anything else (armor, password packets, AEAD,
 * a cipher other than AES, markers) is handed back unread for the openpgp.js engine.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { CfbDecipher } from './cfb.js';
import * as openpgp from 'openpgp';
import type { PrivateKey } from 'openpgp';
import { GatewayError } from '../../errors.js';
import { ByteReader, readHeader, packetBody, readSmallBody, framePacket, Truncated } from './bytes.js';
import { checkRecipients, decryptSessionKey, MAX_SESSION_KEY_PACKETS, tooManySessionKeys } from '../envelope.js';
import { classifyOpenpgpError } from '../classify.js';

export type Outer =
  | { kind: 'fallback'; replay: AsyncIterable<Uint8Array> }
  | {
    kind: 'native';
    plaintext: AsyncIterator<Uint8Array>;
    /**
     * Reads what is left of the ciphertext and returns the integrity failure (MDC, truncation)
     * if there is one: when garbage fails to parse, the verdict is "corrupt", as with openpgp.js.
     */
    integrity: () => Promise<GatewayError | null>;
  };

const { packet: TAG } = openpgp.enums;
const AES: Record<string, string> = { aes128: 'aes-128-ecb', aes192: 'aes-192-ecb', aes256: 'aes-256-ecb' };
const PREFIX = 18; // 16-byte random block + 2 repeated bytes (AES block size)
const MDC = 22; // 0xD3 0x14 + SHA-1

export async function openOuter(source: AsyncIterator<Uint8Array>, decryptionKey: PrivateKey, config: Partial<openpgp.Config>): Promise<Outer> {
  const r = new ByteReader(source);
  r.record();
  const fallback = (): Outer => ({ kind: 'fallback', replay: r.replay() });
  const pkesks: Uint8Array[] = [];
  let h = await readHeader(r).catch(() => null);
  while (h !== null && h.tag === TAG.publicKeyEncryptedSessionKey && h.kind === 'fixed') {
    if (pkesks.length === MAX_SESSION_KEY_PACKETS) throw tooManySessionKeys(pkesks.length + 1);
    pkesks.push(framePacket(h.tag, await readSmallBody(r, h, 4096)));
    h = await readHeader(r);
  }
  if (h === null || h.tag !== TAG.symEncryptedIntegrityProtectedData || h.kind === 'rest' || pkesks.length === 0) return fallback();
  const body = packetBody(r, h);
  const first = await body.next();
  if (first.done === true || first.value[0] !== 1) return fallback();

  let message: openpgp.Message<Uint8Array>;
  try {
    message = await openpgp.readMessage({ binaryMessage: Buffer.concat(pkesks), config });
  } catch (e) {
    throw classifyOpenpgpError(e, 'PGP_MALFORMED');
  }
  await checkRecipients(message, decryptionKey);
  const sessionKey = await decryptSessionKey(message, decryptionKey, config);
  const cipher = sessionKey.algorithm === null ? undefined : AES[sessionKey.algorithm];
  if (cipher === undefined) return fallback();
  r.stopRecording();
  // The ciphertext's own failure, kept: the inner reader may have met it first and passed it on
  // wrapped, and a generator that threw answers `done` afterwards.
  const failure: { error?: unknown } = {};
  const plaintext = decrypt(r, first.value.subarray(1), body, cipher, sessionKey.data, failure);
  const integrity = async (): Promise<GatewayError | null> => {
    try {
      if (failure.error === undefined) for (;;) if ((await plaintext.next()).done === true) return null;
    } catch {
      // recorded in `failure`
    }
    const err = classifyOpenpgpError(failure.error, 'PGP_CORRUPT');
    return err.code === 'PGP_CORRUPT' ? err : null;
  };
  return { kind: 'native', plaintext, integrity };
}

/** Decrypts and checks the MDC; whatever it throws is also kept in `failure`. */
async function* decrypt(r: ByteReader, head: Uint8Array, body: AsyncGenerator<Uint8Array>, cipher: string, key: Uint8Array, failure: { error?: unknown }): AsyncGenerator<Uint8Array> {
  const decipher = new CfbDecipher(cipher, key);
  const sha1 = createHash('sha1');
  let prefix: Buffer | null = Buffer.alloc(0);
  let tail: Buffer = Buffer.alloc(0); // the last MDC bytes seen so far, held back

  function* take(plain: Buffer): Generator<Uint8Array> {
    if (prefix !== null) {
      prefix = Buffer.concat([prefix, plain]);
      if (prefix.length < PREFIX) return;
      sha1.update(prefix.subarray(0, PREFIX));
      plain = prefix.subarray(PREFIX);
      prefix = null;
    }
    const all = tail.length + plain.length;
    if (all <= MDC) { tail = Buffer.concat([tail, plain]); return; }
    const release = all - MDC;
    let out: Buffer[];
    if (release <= tail.length) {
      out = [tail.subarray(0, release)];
      tail = Buffer.concat([tail.subarray(release), plain]);
    } else {
      out = [tail, plain.subarray(0, release - tail.length)];
      tail = Buffer.from(plain.subarray(release - tail.length));
    }
    for (const o of out) {
      if (o.length === 0) continue;
      sha1.update(o);
      yield o;
    }
  }

  try {
    yield* take(decipher.update(head));
    for (;;) {
      const n = await body.next();
      if (n.done === true) break;
      yield* take(decipher.update(n.value));
    }
    yield* take(decipher.final());
    if (prefix !== null || tail.length !== MDC) throw new Truncated('SEIPD');
    sha1.update(tail.subarray(0, 2));
    const ok = tail[0] === 0xd3 && tail[1] === 0x14 && timingSafeEqual(sha1.digest(), tail.subarray(2));
    if (!ok) throw new GatewayError('PGP_CORRUPT', 'contrôle d\'intégrité (MDC) en échec / integrity check (MDC) failed', {});
    if (!(await r.atEnd())) {
      throw new GatewayError('PGP_MALFORMED', 'des données suivent le message chiffré / data after the encrypted message', {});
    }
  } catch (e) {
    failure.error = e;
    throw e;
  }
}
