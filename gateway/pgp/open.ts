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
 */
import * as openpgp from 'openpgp';
import type { PrivateKey, PublicKey } from 'openpgp';
import { GatewayError, isGatewayError } from '../errors.js';
import { sniff } from './sniff.js';
import { toWebStream, type InputStream } from './streams.js';
import { checkSignature, type VerifiedSignature } from './policy.js';
import { classifyOpenpgpError } from './classify.js';

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
}

export interface OpenedMessage {
  /** UNVERIFIED plaintext: keep it in quarantine until `result` resolves. */
  plaintext: AsyncIterable<Uint8Array>;
  /** Resolves after `plaintext` was consumed and every check passed; rejects with a coded GatewayError. */
  result: Promise<VerifiedSignature>;
}

export const DEFAULT_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
const DEFAULT_SKEW_MS = 5 * 60 * 1000;
// openpgp's own decompression limit also counts the packets around the literal data (one-pass
// signature, signature, headers); ours on the literal bytes is the exact one.
const DECOMPRESSION_SLACK = 1 << 20;

function refuse(code: 'PGP_NOT_ENCRYPTED' | 'PGP_WRONG_RECIPIENT' | 'PGP_MALFORMED' | 'PGP_NOT_SIGNED' | 'PGP_TOO_LARGE' | 'PGP_WEAK_ALGORITHM', message: string, detail: Record<string, unknown> = {}): GatewayError {
  return new GatewayError(code, message, detail);
}

async function readOpenpgpMessage(input: InputStream, config: Partial<openpgp.Config>): Promise<openpgp.Message<ReadableStream<Uint8Array>>> {
  const { kind, stream } = await sniff(toWebStream(input));
  if (kind === 'not-openpgp' || kind === 'armored-other') {
    await stream.cancel().catch(() => undefined);
    throw refuse('PGP_NOT_ENCRYPTED', "le fichier n'est pas un message OpenPGP chiffré / the file is not an encrypted OpenPGP message", { found: kind });
  }
  try {
    if (kind === 'armored-message') {
      // The DOM lib types TextDecoderStream's writable side as BufferSource; Uint8Array is one.
      const text = stream.pipeThrough(new TextDecoderStream('latin1') as unknown as ReadableWritablePair<string, Uint8Array>);
      return await openpgp.readMessage({ armoredMessage: text, config }) as unknown as openpgp.Message<ReadableStream<Uint8Array>>;
    }
    return await openpgp.readMessage({ binaryMessage: stream, config });
  } catch (e) {
    throw classifyOpenpgpError(e, 'PGP_MALFORMED');
  }
}

/** Checks the packets in front of the encrypted data: session keys for the gateway, integrity protection. */
async function checkEnvelope(message: openpgp.Message<ReadableStream<Uint8Array>>, decryptionKey: PrivateKey): Promise<void> {
  const tags = message.packets.map((p) => (p.constructor as unknown as { tag: number }).tag);
  const { packet } = openpgp.enums;
  const hasSessionKey = tags.includes(packet.publicKeyEncryptedSessionKey) || tags.includes(packet.symEncryptedSessionKey);
  const hasEncrypted = tags.some((t) => t === packet.symEncryptedIntegrityProtectedData || t === packet.aeadEncryptedData || t === packet.symmetricallyEncryptedData);
  if (!hasSessionKey || !hasEncrypted) {
    throw refuse('PGP_NOT_ENCRYPTED', "le message n'est pas chiffré / the message is not encrypted", { packets: tags });
  }
  if (tags.includes(packet.symmetricallyEncryptedData)) {
    throw refuse('PGP_WEAK_ALGORITHM', "données chiffrées sans contrôle d'intégrité (MDC) / encrypted data without integrity protection", {});
  }
  const ours = (await decryptionKey.getDecryptionKeys()).map((k) => k.getKeyID());
  const recipients = message.getEncryptionKeyIDs();
  if (!recipients.some((r) => ours.some((k) => k.equals(r, true)))) {
    throw refuse('PGP_WRONG_RECIPIENT', "le message n'est pas chiffré pour la clé de la passerelle / not encrypted to the gateway key",
      { recipients: recipients.map((r) => r.toHex().toUpperCase()) });
  }
}

async function* run(input: InputStream, opts: OpenOptions, settle: (r: Promise<VerifiedSignature>) => void): AsyncGenerator<Uint8Array> {
  const config: Partial<openpgp.Config> = {
    // Streams the plaintext before the MDC/signature are checked; safe only because the caller
    // keeps it in quarantine until `result` resolves (the contract above).
    allowUnauthenticatedStream: true,
    maxDecompressedMessageSize: opts.maxDecompressedBytes + DECOMPRESSION_SLACK,
  };
  const message = await readOpenpgpMessage(input, config);
  await checkEnvelope(message, opts.decryptionKey);
  let decrypted: openpgp.DecryptMessageResult;
  try {
    decrypted = await openpgp.decrypt({
      message, decryptionKeys: opts.decryptionKey, verificationKeys: opts.senderKeys,
      format: 'binary', date: opts.now, config,
    });
  } catch (e) {
    throw classifyOpenpgpError(e, 'PGP_CORRUPT');
  }
  if (decrypted.signatures.length === 0) {
    await cancel(decrypted.data);
    throw refuse('PGP_NOT_SIGNED', "le message n'est pas signé / the message is not signed");
  }
  const data = decrypted.data as ReadableStream<Uint8Array>;
  const reader = data.getReader();
  let total = 0;
  let finished = false;
  try {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        throw classifyOpenpgpError(e, 'PGP_CORRUPT');
      }
      if (r.done) { finished = true; break; }
      total += r.value.length;
      if (total > opts.maxDecompressedBytes) {
        throw refuse('PGP_TOO_LARGE', 'le contenu déchiffré dépasse la taille maximale / the plaintext is over the size limit', { limit: opts.maxDecompressedBytes });
      }
      yield r.value;
    }
  } finally {
    // An error, a limit or a consumer that stopped early: release openpgp's streams.
    if (!finished) await reader.cancel().catch(() => undefined);
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
    return { ...first, warnings: [...new Set(verdicts.flatMap((v) => v.warnings))] };
  })();
  settle(checks);
  await checks; // a failed check also ends the iteration with the same error
}

async function cancel(data: unknown): Promise<void> {
  if (data instanceof ReadableStream) await data.cancel().catch(() => undefined);
}

/**
 * Opens an uploaded message. Nothing is read until `plaintext` is iterated. See the CONTRACT at
 * the top of this file: consume `plaintext` fully, then await `result`.
 */
export function openMessage(input: InputStream, opts: OpenOptions): OpenedMessage {
  let resolve!: (v: VerifiedSignature) => void;
  let reject!: (e: unknown) => void;
  const result = new Promise<VerifiedSignature>((res, rej) => { resolve = res; reject = rej; });
  // The caller may only iterate and see the error there; keep the rejection "handled".
  result.catch(() => undefined);
  let started = false;
  const plaintext: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]() {
      if (started) throw new Error('openMessage: plaintext can be iterated only once');
      started = true;
      const gen = run(input, opts, (p) => { p.then(resolve, reject); });
      return {
        async next() {
          try {
            return await gen.next();
          } catch (e) {
            const err = isGatewayError(e) ? e : classifyOpenpgpError(e, 'PGP_CORRUPT');
            reject(err);
            throw err;
          }
        },
        async return(value?: unknown) {
          const r = await gen.return(value as undefined);
          reject(new GatewayError('GATEWAY_FAILURE', 'lecture du contenu interrompue avant la fin / plaintext not consumed to the end', {}));
          return r;
        },
      };
    },
  };
  return { plaintext, result };
}
