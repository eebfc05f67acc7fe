/**
 * The signature policy, judged once the whole message has been read: who signed (only the
 * uploading partner's keys), when (not in the future, not older than the replay window), with
 * what (security.md invariant 5), with a key neither expired nor revoked, and — last — whether
 * the signature verifies. Each failure has its own code; the order only decides which code a
 * signature failing several checks gets.
 */
import * as openpgp from 'openpgp';
import type { DecryptMessageResult, PublicKey, SignaturePacket } from 'openpgp';
import { GatewayError, type ErrorCode } from '../errors.js';
import { checkKeyPolicy, fingerprint, keyStatusAt } from './keys.js';
import { classifyOpenpgpError } from './classify.js';

export interface VerifiedSignature {
  /** Fingerprint (upper-case hex) of the signer's primary key: the one pinned for the partner. */
  signer: string;
  /** Fingerprint of the (sub)key that made the signature. */
  signingKey: string;
  /** The signature creation time. */
  signedAt: Date;
  /** Policy warnings to carry into the receipt (e.g. RSA-2048 tolerated). */
  warnings: string[];
}

export interface SignaturePolicy {
  now: Date;
  maxAgeMs: number;
  maxClockSkewMs: number;
  allowRsa2048: boolean;
}

/** One entry of openpgp's `signatures` (its type is not exported). */
type VerificationResult = DecryptMessageResult['signatures'][number];

const { hash } = openpgp.enums;
/** SHA-256 or stronger (no SHA-1, no SHA-224, no MD5/RIPEMD). */
export const ALLOWED_HASHES: ReadonlySet<number> = new Set([hash.sha256, hash.sha384, hash.sha512, hash.sha3_256, hash.sha3_512]);

function fail(code: ErrorCode, message: string, detail: Record<string, unknown>): never {
  throw new GatewayError(code, message, detail);
}

/** Checks the times and hash of a signature packet against the policy (pure). */
export function checkSignaturePacket(sig: SignaturePacket, policy: SignaturePolicy): Date {
  const created = sig.created;
  const keyID = sig.issuerKeyID.toHex().toUpperCase();
  if (sig.hashAlgorithm === null || !ALLOWED_HASHES.has(sig.hashAlgorithm)) {
    fail('PGP_WEAK_ALGORITHM', 'algorithme de hachage refusé (SHA-256 ou plus fort requis) / signature hash below the policy',
      { keyID, hashAlgorithm: sig.hashAlgorithm === null ? null : openpgp.enums.read(hash, sig.hashAlgorithm) });
  }
  if (sig.version !== 4 && sig.version !== 6) {
    fail('PGP_WEAK_ALGORITHM', 'version de signature refusée / signature version refused', { keyID, version: sig.version });
  }
  if (created === null) fail('PGP_MALFORMED', 'signature sans date / signature without a creation time', { keyID });
  const now = policy.now.getTime();
  if (created.getTime() > now + policy.maxClockSkewMs) {
    fail('PGP_SIGNATURE_IN_FUTURE', 'la signature est datée dans le futur / the signature time is in the future', { keyID, signedAt: created.toISOString() });
  }
  if (now - created.getTime() > policy.maxAgeMs) {
    fail('PGP_SIGNATURE_TOO_OLD', 'la signature est plus ancienne que la fenêtre autorisée / the signature is older than the replay window',
      { keyID, signedAt: created.toISOString(), maxAgeMs: policy.maxAgeMs });
  }
  return created;
}

const STATUS_CODES = { expired: 'PGP_KEY_EXPIRED', revoked: 'PGP_KEY_REVOKED', unusable: 'PGP_BAD_SIGNATURE' } as const;

/** Judges one signature of a fully read message. */
export async function checkSignature(result: VerificationResult, senderKeys: readonly PublicKey[], policy: SignaturePolicy): Promise<VerifiedSignature> {
  let packet: SignaturePacket | undefined;
  try {
    packet = (await result.signature).packets[0];
  } catch (e) {
    throw classifyOpenpgpError(e, 'PGP_CORRUPT');
  }
  const keyID = result.keyID.toHex().toUpperCase();
  if (packet === undefined) fail('PGP_MALFORMED', 'signature absente / missing signature packet', { keyID });
  const key = senderKeys.find((k) => k.getKeys(result.keyID).length > 0);
  if (key === undefined) {
    fail('PGP_UNKNOWN_SIGNER', "la signature n'est pas d'une clé enregistrée pour ce partenaire / the signer is not a registered key of this partner", { keyID });
  }
  const signedAt = checkSignaturePacket(packet, policy);
  const warnings = checkKeyPolicy(key, { allowRsa2048: policy.allowRsa2048 });
  const status = await keyStatusAt(key, policy.now, result.keyID);
  if (status !== 'valid') {
    fail(STATUS_CODES[status], `clé de signature ${status} / signing key ${status}`, { keyID, signer: fingerprint(key) });
  }
  try {
    await result.verified;
  } catch (e) {
    throw new GatewayError('PGP_BAD_SIGNATURE', 'la signature ne vérifie pas / the signature does not verify', { keyID, signer: fingerprint(key) }, { cause: e });
  }
  const signing = key.getKeys(result.keyID)[0] ?? key;
  return { signer: fingerprint(key), signingKey: fingerprint(signing), signedAt, warnings };
}
