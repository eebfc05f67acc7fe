/**
 * The decryptor: an uploaded OpenPGP message in, its plaintext out as a stream, and a verdict
 * (signer, signature time, warnings) once every check has passed.
 *
 * ┌────────────────────────────────────────────────────────────────────────────────────────┐
 * │ CONTRACT — the plaintext is UNVERIFIED until `result` resolves.                         │
 * │  1. Consume `plaintext` to the end (write it to quarantine, parse it, …).               │
 * │  2. Then await `result`. Only if it resolves may anything derived from the plaintext   │
 * │     leave quarantine (security.md invariant 2).                                          │
 * │ openpgp.js releases plaintext before the integrity (MDC) and signature checks end;     │
 * │ `result` is what says they passed. If iterating `plaintext` throws, the same            │
 * │ GatewayError rejects `result`. `result` never settles if `plaintext` is not consumed.  │
 * └────────────────────────────────────────────────────────────────────────────────────────┘
 *
 * Checks: the input is one OpenPGP message (binary or armored), encrypted to the gateway key,
 * integrity-protected, containing exactly one literal packet, signed (every signature) by a key
 * of this partner's (`senderKeys` must hold only the uploading partner's registered keys), the key
 * neither expired nor revoked at `now`, the algorithms within security.md invariant 5, the
 * signature time not in the future and not older than `maxAgeMs`, and the plaintext no larger
 * than `maxDecompressedBytes`. The literal packet's file name is ignored (invariant 7).
 *
 * Two engines give the same verdicts (test/pgp/corpus.test.ts runs every file through both):
 * the native one (native/: node:crypto for AES-CFB, the MDC, the SHA-2 of the literal data and
 * Ed25519/RSA verification; openpgp.js only for the session key and parsing signature packets)
 * takes SEIPD v1 messages with AES and one-pass signatures, as GnuPG and sq make them, binary or
 * armored (native/armor.ts takes the armor off as the bytes arrive); openpgp.js
 * (allowUnauthenticatedStream, bounded memory) takes everything else, whole (password packets,
 * AEAD) or after native decryption (bzip2, text-mode or v6 signatures).
 * Memory stays flat in the file size (test/pgp/memory.test.ts). Input chunks of 64 KiB–1 MiB
 * work best; any async iterable, Node Readable or web stream is accepted as it is.
 */
import * as openpgp from 'openpgp';
import type { PrivateKey, PublicKey } from 'openpgp';
import { GatewayError, isGatewayError } from '../errors.js';
import { DEFAULT_LIMITS } from '../config/defaults.js';
import { sniff, type Sniffed } from './sniff.js';
import { chunksOf, iterableToWebStream, type InputStream } from './streams.js';
import { openOuter } from './native/seipd.js';
import { openInner } from './native/inner.js';
import { dearmor, type ArmorState } from './native/armor.js';
import { checkSignature, type VerifiedSignature } from './policy.js';
import { classifyOpenpgpError } from './classify.js';
import { checkEnvelope, decryptSessionKey } from './envelope.js';

export type { VerifiedSignature };

export interface OpenOptions {
  /** The gateway's decryption key (already unlocked). */
  decryptionKey: PrivateKey;
  /** Only the uploading partner's registered keys: any other signer is PGP_UNKNOWN_SIGNER. */
  senderKeys: PublicKey[];
  /** The time of the verdict (key status and signature age are judged at this time). */
  now: Date;
  /** Replay window: signatures older than this are PGP_SIGNATURE_TOO_OLD (default policy 7 days). */
  maxAgeMs: number;
  /** Tolerance for a signer's clock that runs ahead (default 5 minutes). */
  maxClockSkewMs?: number;
  /** Limit on the plaintext (after decompression): over it the stream stops with PGP_TOO_LARGE. */
  maxDecompressedBytes: number;
  /** Accept RSA-2048 signing keys, with a warning in the result. */
  allowRsa2048?: boolean;
  /**
   * 'auto' (default): the native engine (node:crypto) for the usual shapes, openpgp.js for the
   * rest; 'openpgp': openpgp.js only (the reference, used by the tests to compare verdicts).
   */
  engine?: 'auto' | 'openpgp';
  /**
   * How long the reader may wait for plaintext while the decryptor neither asks for input nor
   * gives output before the message is refused as unreadable (default `limits.decryptStallMs`).
   */
  stallMs?: number;
}

export interface OpenedMessage {
  /** UNVERIFIED plaintext: keep it in quarantine until `result` resolves. */
  plaintext: AsyncIterable<Uint8Array>;
  /** Resolves after `plaintext` was consumed and every check passed; rejects with a coded GatewayError. */
  result: Promise<OpenResult>;
}

export const DEFAULT_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
const DEFAULT_SKEW_MS = 5 * 60 * 1000;
// openpgp's own decompression limit also counts the packets around the literal data (one-pass
// signature, signature, headers); ours on the literal bytes is the exact one.
const DECOMPRESSION_SLACK = 1 << 20;

function refuse(code: 'PGP_NOT_ENCRYPTED' | 'PGP_WRONG_RECIPIENT' | 'PGP_MALFORMED' | 'PGP_NOT_SIGNED' | 'PGP_TOO_LARGE' | 'PGP_WEAK_ALGORITHM', message: string, detail: Record<string, unknown> = {}): GatewayError {
  return new GatewayError(code, message, detail);
}

/**
 * Which code did the work: 'native' (node:crypto throughout), 'native+openpgp' (node:crypto
 * decrypted, openpgp.js read the signed message), 'openpgp' (openpgp.js throughout).
 */
export type Engine = 'native' | 'native+openpgp' | 'openpgp';

export interface OpenResult extends VerifiedSignature {
  engine: Engine;
}

type Decrypted = { data: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>; signatures: openpgp.DecryptMessageResult['signatures']; engine?: Engine };
/**
 * Set by the native engine: the integrity failure of the ciphertext, which outranks a parse
 * error, and the failure of the armor around it, which outranks both (its damage is the cause).
 */
type IntegrityHook = { check?: () => Promise<GatewayError | null>; armor?: ArmorState };

/** The reference engine: openpgp.js reads, decrypts and verifies the whole message. */
async function decryptWithOpenpgp(kind: Sniffed, bytes: AsyncIterator<Uint8Array>, opts: OpenOptions, config: Partial<openpgp.Config>): Promise<Decrypted> {
  const stream = iterableToWebStream(bytes);
  let message: openpgp.Message<ReadableStream<Uint8Array>>;
  try {
    if (kind === 'armored-message') {
      // The DOM lib types TextDecoderStream's writable side as BufferSource; Uint8Array is one.
      const text = stream.pipeThrough(new TextDecoderStream('latin1') as unknown as ReadableWritablePair<string, Uint8Array>);
      message = await openpgp.readMessage({ armoredMessage: text, config }) as unknown as openpgp.Message<ReadableStream<Uint8Array>>;
    } else {
      message = await openpgp.readMessage({ binaryMessage: stream, config });
    }
  } catch (e) {
    throw classifyOpenpgpError(e, 'PGP_MALFORMED');
  }
  await checkEnvelope(message, opts.decryptionKey);
  // The session key first, for its cipher: openpgp.js decrypts 3DES and CAST5 without a word.
  const sessionKey = await decryptSessionKey(message, opts.decryptionKey, config);
  try {
    return await openpgp.decrypt({
      // SEIPD v2 names its cipher in the packet: openpgp.js then ignores the session key's (null).
      message, sessionKeys: sessionKey as openpgp.SessionKey, verificationKeys: opts.senderKeys,
      format: 'binary', date: opts.now, config,
    });
  } catch (e) {
    throw classifyOpenpgpError(e, 'PGP_CORRUPT');
  }
}

/** openpgp.js on an already decrypted packet sequence (the native engine's hand-over). */
async function verifyWithOpenpgp(packets: AsyncIterable<Uint8Array>, opts: OpenOptions, config: Partial<openpgp.Config>): Promise<Decrypted> {
  try {
    const message = await openpgp.readMessage({ binaryMessage: iterableToWebStream(packets), config });
    return await openpgp.verify({ message, verificationKeys: opts.senderKeys, format: 'binary', date: opts.now, config });
  } catch (e) {
    // The packets were decrypted already: what openpgp.js cannot read in them is their structure.
    // (A corrupt ciphertext is still reported as such: run() checks the MDC, which outranks this.)
    throw classifyOpenpgpError(e, 'PGP_MALFORMED');
  }
}

/**
 * The native engine (node:crypto for AES-CFB, MDC, hashing and Ed25519/RSA) when the message has
 * the usual shape, openpgp.js otherwise; both give the same verdicts (test/pgp/corpus.test.ts).
 */
async function decryptAny(input: InputStream, opts: OpenOptions, config: Partial<openpgp.Config>, hook: IntegrityHook): Promise<Decrypted> {
  const { kind, replay } = await sniff(chunksOf(input));
  if (kind === 'not-openpgp' || kind === 'armored-other') {
    await replay.return(undefined);
    throw refuse('PGP_NOT_ENCRYPTED', "le fichier n'est pas un message OpenPGP chiffré / the file is not an encrypted OpenPGP message", { found: kind });
  }
  if (opts.engine === 'openpgp') return { ...await decryptWithOpenpgp(kind, replay, opts, config), engine: 'openpgp' };
  let packets: AsyncIterator<Uint8Array> = replay;
  if (kind === 'armored-message') {
    hook.armor = {};
    packets = dearmor(replay, hook.armor);
  }
  const outer = await openOuter(packets, opts.decryptionKey, config);
  if (outer.kind === 'fallback') return { ...await decryptWithOpenpgp('binary', outer.replay[Symbol.asyncIterator](), opts, config), engine: 'openpgp' };
  hook.check = outer.integrity;
  const fullConfig = { ...openpgp.config, ...config };
  const inner = await openInner(outer.plaintext, opts.senderKeys, opts.now, fullConfig);
  if (inner.kind === 'fallback') return { ...await verifyWithOpenpgp(inner.replay, opts, config), engine: 'native+openpgp' };
  return { data: inner.data, signatures: inner.signatures, engine: 'native' };
}

async function* decryptAndStream(input: InputStream, opts: OpenOptions, config: Partial<openpgp.Config>, hook: IntegrityHook): AsyncGenerator<Uint8Array, Decrypted> {
  const decrypted = await decryptAny(input, opts, config, hook);
  if (decrypted.signatures.length === 0) {
    await cancel(decrypted.data);
    throw refuse('PGP_NOT_SIGNED', "le message n'est pas signé / the message is not signed");
  }
  const reader = decrypted.data instanceof ReadableStream ? chunksOf(decrypted.data) : decrypted.data[Symbol.asyncIterator]();
  let total = 0;
  let finished = false;
  try {
    for (;;) {
      let r: IteratorResult<Uint8Array>;
      try {
        r = await reader.next();
      } catch (e) {
        throw classifyOpenpgpError(e, decrypted.engine === 'native+openpgp' ? 'PGP_MALFORMED' : 'PGP_CORRUPT');
      }
      if (r.done === true) { finished = true; break; }
      total += r.value.length;
      if (total > opts.maxDecompressedBytes) {
        throw refuse('PGP_TOO_LARGE', 'le contenu déchiffré dépasse la taille maximale / the plaintext is over the size limit', { limit: opts.maxDecompressedBytes });
      }
      yield r.value;
    }
  } finally {
    // An error, a limit or a consumer that stopped early: release openpgp's streams.
    if (!finished) await reader.return?.(undefined)?.catch(() => undefined);
  }
  return decrypted;
}

async function* run(input: InputStream, opts: OpenOptions, settle: (r: Promise<OpenResult>) => void): AsyncGenerator<Uint8Array> {
  const config: Partial<openpgp.Config> = {
    // Streams the plaintext before the MDC/signature are checked; safe only because the caller
    // keeps it in quarantine until `result` resolves (the contract above).
    allowUnauthenticatedStream: true,
    maxDecompressedMessageSize: opts.maxDecompressedBytes + DECOMPRESSION_SLACK,
  };
  const hook: IntegrityHook = {};
  let decrypted: Decrypted;
  try {
    decrypted = yield* decryptAndStream(input, opts, config, hook);
  } catch (e) {
    if (hook.armor?.error !== undefined) throw hook.armor.error;
    const err = classifyOpenpgpError(e, 'PGP_CORRUPT');
    // A flipped ciphertext byte decrypts to garbage that fails to parse long before the MDC at
    // the end is reached; the MDC failure is the true reason, so it outranks any parse error
    // (even one already called corrupt, whose cause may be a parser tripping over that garbage).
    // A limit is a verdict of its own: no need to decrypt the rest of a file that is too large.
    const check = err.code === 'PGP_TOO_LARGE' ? undefined : hook.check;
    const integrity = check === undefined ? null : await check();
    throw integrity ?? err;
  }
  const checks = (async () => {
    const verdicts: VerifiedSignature[] = [];
    for (const sig of decrypted.signatures) {
      verdicts.push(await checkSignature(sig, opts.senderKeys, {
        now: opts.now, maxAgeMs: opts.maxAgeMs, maxClockSkewMs: opts.maxClockSkewMs ?? DEFAULT_SKEW_MS,
        allowRsa2048: opts.allowRsa2048 === true,
      }));
    }
    // Every signature passed: report the first (GnuPG and sq make one per signing key).
    const first = verdicts[0] as VerifiedSignature;
    return { ...first, warnings: [...new Set(verdicts.flatMap((v) => v.warnings))], engine: decrypted.engine ?? 'openpgp' };
  })();
  settle(checks);
  await checks; // a failed check also ends the iteration with the same error
}

async function cancel(data: Decrypted['data']): Promise<void> {
  if (data instanceof ReadableStream) await data.cancel().catch(() => undefined);
  else await data[Symbol.asyncIterator]().return?.(undefined)?.catch(() => undefined);
}

/** What the stall watch knows: whether the decryptor waits on its input, and when it last moved. */
interface Watch { pulling: boolean; last: number }

/**
 * The input, noting when the decryptor asks for it. openpgp.js can stop on some corrupt input
 * without settling anything (found with flipped ciphertext bytes in armored GnuPG messages; its
 * issue tracker has other cases): no read of the input, no output, no error. Waiting on the
 * upload (`pulling`) is not a stall; waiting on nothing is.
 */
async function* watchInput(input: InputStream, watch: Watch): AsyncGenerator<Uint8Array> {
  const it = chunksOf(input);
  try {
    for (;;) {
      watch.pulling = true;
      let r: IteratorResult<Uint8Array>;
      try {
        r = await it.next();
      } finally {
        watch.pulling = false;
        watch.last = Date.now();
      }
      if (r.done === true) return;
      yield r.value;
    }
  } finally {
    await it.return?.(undefined);
  }
}

function stallError(stallMs: number): GatewayError {
  return new GatewayError('PGP_CORRUPT', "message illisible : le déchiffrement s'est arrêté sans conclure / unreadable message: decryption stopped without a result", { stalledMs: stallMs });
}

/**
 * Opens an uploaded message. Nothing is read until `plaintext` is iterated. See the CONTRACT at
 * the top of this file: consume `plaintext` fully, then await `result`.
 */
export function openMessage(input: InputStream, opts: OpenOptions): OpenedMessage {
  let resolve!: (v: OpenResult) => void;
  let reject!: (e: unknown) => void;
  const result = new Promise<OpenResult>((res, rej) => { resolve = res; reject = rej; });
  // The caller may only iterate and see the error there; keep the rejection "handled".
  result.catch(() => undefined);
  let started = false;
  const plaintext: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]() {
      if (started) throw new Error('openMessage: plaintext can be iterated only once');
      started = true;
      const watch: Watch = { pulling: false, last: Date.now() };
      const source = watchInput(input, watch);
      const gen = run(source, opts, (p) => { p.then(resolve, reject); });
      const stallMs = opts.stallMs ?? DEFAULT_LIMITS.decryptStallMs;
      // The reader's pending next(), which a stall rejects: `gen` itself would never settle.
      let waiting: ((e: GatewayError) => void) | undefined;
      // Set once the decryptor stalled: `gen` is left alone from then on.
      let stalled: GatewayError | undefined;
      // One timer per message, not per chunk: a timer, a race and an error per next() cost a
      // third of openMessage's throughput (GnuPG's 8 KiB partial lengths make many chunks).
      let timer: NodeJS.Timeout | undefined;
      const watching = (on: boolean): void => {
        if (on && timer === undefined) {
          timer = setInterval(() => {
            if (waiting !== undefined && !watch.pulling && Date.now() - watch.last > stallMs) waiting(stalled = stallError(stallMs));
          }, Math.max(10, Math.min(1000, stallMs / 4)));
          timer.unref();
        } else if (!on && timer !== undefined) {
          clearInterval(timer);
          timer = undefined;
        }
      };
      // Once the verdict is known the input is let go, also when the decryptor stopped reading
      // it early (wrong recipient, integrity failure before its end): an upload read back from
      // its staging file would otherwise keep that file open.
      const release = (): void => { void source.return(undefined).catch(() => undefined); };
      return {
        async next() {
          if (stalled) throw stalled;
          watching(true);
          // Only time spent waiting here counts: a slow reader is not a stalled decryptor.
          watch.last = Date.now();
          try {
            const r = await new Promise<IteratorResult<Uint8Array>>((res, rej) => {
              waiting = rej;
              gen.next().then(res, rej);
            });
            if (r.done === true) {
              watching(false);
              release();
            }
            return r;
          } catch (e) {
            watching(false);
            const err = isGatewayError(e) ? e : classifyOpenpgpError(e, 'PGP_CORRUPT');
            // After a stall `source` is at a yield (not waiting on the input, that is what a
            // stall is); otherwise `gen` has ended.
            release();
            reject(err);
            throw err;
          } finally {
            waiting = undefined;
          }
        },
        async return(value?: unknown) {
          watching(false);
          if (stalled) return { done: true as const, value: undefined };
          const r = await gen.return(value as undefined);
          release();
          reject(new GatewayError('GATEWAY_FAILURE', 'lecture du contenu interrompue avant la fin / plaintext not consumed to the end', {}));
          return r;
        },
      };
    },
  };
  return { plaintext, result };
}
