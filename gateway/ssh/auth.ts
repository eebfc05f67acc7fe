import { timingSafeEqual } from 'node:crypto';
import ssh2 from 'ssh2';
import type { AnyParty } from '../config/model.js';
import { parsePublicKeyLine, sshFingerprint, type KeyIndex, type RegisteredKey } from './keys.js';

/**
 * The public-key authentication decision (security.md invariant 4), free of ssh2 plumbing so
 * every branch can be tested with plain values.
 *
 * - only `publickey` is a method; `none` is the client asking which methods exist;
 * - the key is looked up among the keys of that username only;
 * - unknown users and unregistered keys take the same path: the offered blob is compared, in
 *   constant time, against the user's keys or against a dummy key, and neither leads to a
 *   signature check, so both answer the same failure after the same work;
 * - a probe (no signature) is answered PK_OK only for a registered key;
 * - a signature counts only if `verify(...) === true` (ssh2 returns an Error object on failure
 *   paths, which is truthy).
 */
export interface AuthRequest {
  readonly username: string;
  readonly method: string;
  /** publickey only: algorithm named by the client, wire blob, and the signed data when signed. */
  readonly keyAlgo?: string;
  readonly keyData?: Buffer;
  readonly signature?: Buffer;
  readonly signedData?: Buffer;
  readonly hashAlgo?: string;
}

export type AuthFailureReason =
  | 'method_none'
  | 'method_not_allowed'
  | 'unknown_user'
  | 'key_not_registered'
  | 'weak_signature_algorithm'
  | 'bad_signature';

export type AuthDecision =
  | { readonly verdict: 'accept'; readonly party: AnyParty; readonly key: RegisteredKey }
  | { readonly verdict: 'pk-ok'; readonly party: AnyParty; readonly key: RegisteredKey }
  | {
      readonly verdict: 'reject';
      readonly reason: AuthFailureReason;
      readonly party?: AnyParty;
      /** Fingerprint of the offered key, when one was offered. */
      readonly fingerprint?: string;
    };

/** A freshly generated key whose private half is discarded: compared when the user is unknown. */
export function dummyKey(): RegisteredKey {
  // ssh2 1.17 drops a leading zero byte of an Ed25519 public key (about 1 key in 250) and then
  // cannot parse its own output: draw again.
  for (let i = 0; i < 32; i++) {
    const k = parsePublicKeyLine(ssh2.utils.generateKeyPairSync('ed25519').public);
    if (k) return k;
  }
  throw new Error('ssh2 could not parse its own generated key');
}

function sameBlob(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Compares against every candidate without stopping early, so the work does not depend on the position of a match. */
function findKey(offered: Buffer, candidates: readonly RegisteredKey[]): RegisteredKey | undefined {
  let found: RegisteredKey | undefined;
  for (const k of candidates) if (sameBlob(offered, k.blob) && !found) found = k;
  return found;
}

export function decideAuth(req: AuthRequest, index: KeyIndex, dummy: RegisteredKey): AuthDecision {
  if (req.method === 'none') return { verdict: 'reject', reason: 'method_none' };
  if (req.method !== 'publickey' || !req.keyData) return { verdict: 'reject', reason: 'method_not_allowed' };

  const offered = req.keyData;
  const fingerprint = sshFingerprint(offered);
  const entry = index.get(req.username);
  const key = findKey(offered, entry ? entry.keys : [dummy]);
  if (!entry) return { verdict: 'reject', reason: 'unknown_user', fingerprint };
  if (!key || key.parsed.type !== req.keyAlgo) {
    return { verdict: 'reject', reason: 'key_not_registered', party: entry.party, fingerprint };
  }
  // ssh2 maps rsa-sha2-256/512 to hashAlgo sha256/sha512; plain "ssh-rsa" means SHA-1.
  if (key.parsed.type === 'ssh-rsa' && req.hashAlgo !== 'sha256' && req.hashAlgo !== 'sha512') {
    return { verdict: 'reject', reason: 'weak_signature_algorithm', party: entry.party, fingerprint };
  }
  if (!req.signature || !req.signedData) return { verdict: 'pk-ok', party: entry.party, key };
  const ok = key.parsed.verify(req.signedData, req.signature, req.hashAlgo);
  if (ok !== true) return { verdict: 'reject', reason: 'bad_signature', party: entry.party, fingerprint };
  return { verdict: 'accept', party: entry.party, key };
}
