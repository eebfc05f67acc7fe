/**
 * Re-encryption for a recipient: the gateway signs what it delivers and encrypts it to the
 * recipient's key, streamed (binary OpenPGP: one-pass signature, literal data, signature, in
 * SEIPD v1 so that GnuPG 2.2 recipients can read it; no compression).
 */
import * as openpgp from 'openpgp';
import type { Readable } from 'node:stream';
import type { PrivateKey, PublicKey } from 'openpgp';
import { GatewayError } from '../errors.js';
import { iterableToWebStream, webToReadable } from './streams.js';

export interface SealOptions {
  recipientKey: PublicKey;
  /** The gateway's signing key (already unlocked). */
  signingKey: PrivateKey;
  /** Signature time (default: now). */
  date?: Date;
}

/**
 * Signs and encrypts `plaintext` for one recipient; returns the binary OpenPGP message as a
 * stream. Errors (a recipient key without a valid encryption subkey…) surface as a
 * GatewayError on the returned stream.
 */
export function sealForRecipient(plaintext: AsyncIterable<Uint8Array> | Readable, opts: SealOptions): Readable {
  const out = new TransformStream<Uint8Array, Uint8Array>();
  const produce = async (): Promise<void> => {
    const message = await openpgp.createMessage({ binary: iterableToWebStream(plaintext), format: 'binary' });
    const encrypted = await openpgp.encrypt({
      message,
      encryptionKeys: opts.recipientKey,
      signingKeys: opts.signingKey,
      format: 'binary',
      date: opts.date ?? new Date(),
      // SEIPD v1 + no compression: what GnuPG 2.2 and every partner tool reads.
      config: { aeadProtect: false, preferredCompressionAlgorithm: openpgp.enums.compression.uncompressed },
    });
    await (encrypted as unknown as ReadableStream<Uint8Array>).pipeTo(out.writable);
  };
  produce().catch(async (e: unknown) => {
    const err = new GatewayError('GATEWAY_FAILURE', 'chiffrement pour le destinataire impossible / cannot encrypt for the recipient', {}, { cause: e });
    await out.writable.abort(err).catch(() => undefined);
  });
  return webToReadable(out.readable);
}
