/**
 * OpenPGP keys: loading, fingerprints, the algorithm policy (security.md invariant 5) and the
 * status of a key (valid, expired, revoked) at a given time.
 */
import * as openpgp from 'openpgp';
import type { Key, PrivateKey, PublicKey, Subkey, KeyID } from 'openpgp';
import { GatewayError } from '../errors.js';

export type { PrivateKey, PublicKey };

/** Upper-case hexadecimal fingerprint, the form pinned in the configuration and shown to people. */
export function fingerprint(key: Key | Subkey): string {
  return key.getFingerprint().toUpperCase();
}

/** Reads one or more armored (or binary) public keys. Throws CONFIG_UNREADABLE on garbage. */
export async function readPublicKeys(data: string | Uint8Array): Promise<PublicKey[]> {
  try {
    return typeof data === 'string'
      ? await openpgp.readKeys({ armoredKeys: data })
      : await openpgp.readKeys({ binaryKeys: data });
  } catch (e) {
    throw new GatewayError('CONFIG_UNREADABLE', 'clé publique OpenPGP illisible / unreadable OpenPGP public key', {}, { cause: e });
  }
}

/** Reads one armored (or binary) private key without passphrase (keys are protected by file permissions). */
export async function readPrivateKey(data: string | Uint8Array): Promise<PrivateKey> {
  let key: PrivateKey;
  try {
    key = typeof data === 'string'
      ? await openpgp.readPrivateKey({ armoredKey: data })
      : await openpgp.readPrivateKey({ binaryKey: data });
  } catch (e) {
    throw new GatewayError('CONFIG_UNREADABLE', 'clé privée OpenPGP illisible / unreadable OpenPGP private key', {}, { cause: e });
  }
  if (!key.isDecrypted()) {
    throw new GatewayError('CONFIG_UNREADABLE', 'la clé privée OpenPGP est protégée par une phrase secrète / the OpenPGP private key is passphrase-protected', { fingerprint: fingerprint(key) });
  }
  return key;
}

export interface KeyPolicyOptions {
  /** RSA-2048 is accepted (with a warning) for a partner that cannot rotate yet (RGS until 2030). */
  allowRsa2048?: boolean;
}

const RSA = new Set(['rsaEncryptSign', 'rsaEncrypt', 'rsaSign']);
// Ed25519/Cv25519 in their v4 ("legacy") and RFC 9580 encodings.
const ECC_OK = new Set(['ed25519', 'x25519']);
const ECC_LEGACY_CURVES = new Set(['ed25519Legacy', 'curve25519Legacy']);

/** Checks one key packet's algorithm; returns a warning or null, throws PGP_WEAK_ALGORITHM. */
function checkAlgorithm(k: Key | Subkey, opts: KeyPolicyOptions): string | null {
  const info = k.getAlgorithmInfo();
  const algorithm = String(info.algorithm);
  const fpr = fingerprint(k);
  if (ECC_OK.has(algorithm)) return null;
  if ((algorithm === 'eddsaLegacy' || algorithm === 'ecdh') && info.curve !== undefined && ECC_LEGACY_CURVES.has(String(info.curve))) return null;
  if (RSA.has(algorithm) && info.bits !== undefined) {
    if (info.bits >= 3072) return null;
    if (info.bits >= 2048 && opts.allowRsa2048 === true) return `RSA-${info.bits}`;
  }
  throw new GatewayError('PGP_WEAK_ALGORITHM',
    'algorithme de clé refusé (Ed25519/Cv25519 ou RSA ≥ 3072 requis) / key algorithm below the policy',
    { fingerprint: fpr, algorithm, bits: info.bits, curve: info.curve });
}

/**
 * The key policy of security.md invariant 5, on the primary key and every subkey: Ed25519/Cv25519
 * or RSA ≥ 3072 (RSA-2048 only with allowRsa2048, with a warning); nothing else (no DSA/ElGamal,
 * no NIST curves). Returns the warnings; throws PGP_WEAK_ALGORITHM.
 */
export function checkKeyPolicy(key: Key, opts: KeyPolicyOptions = {}): string[] {
  const weak = new Set<string>();
  for (const k of [key, ...key.subkeys]) {
    const w = checkAlgorithm(k, opts);
    if (w !== null) weak.add(w);
  }
  if (weak.size === 0) return [];
  return [`clé ${fingerprint(key)} ${[...weak].join('/')} tolérée jusqu'à sa rotation (RSA-3072 ou Ed25519) / ${[...weak].join('/')} key tolerated until rotated`];
}

export type KeyStatus = 'valid' | 'expired' | 'revoked' | 'unusable';

function isPast(expiry: Date | number | null, at: Date): boolean {
  return expiry instanceof Date && expiry.getTime() <= at.getTime();
}

/**
 * The status at `at` of `key` used through its (sub)key `keyID` for signing (or of the primary
 * key alone when keyID is omitted). 'unusable' covers a missing or invalid binding or a key not
 * flagged for signing.
 */
export async function keyStatusAt(key: PublicKey, at: Date, keyID?: KeyID): Promise<KeyStatus> {
  if (await key.isRevoked(undefined, undefined, at)) return 'revoked';
  if (isPast(await key.getExpirationTime(), at)) return 'expired';
  const sub = keyID === undefined ? undefined : key.getSubkeys(keyID)[0];
  if (sub !== undefined) {
    // Passing no signature checks every revocation signature of the subkey.
    if (await sub.isRevoked(undefined as never, undefined as never, at)) return 'revoked';
    if (isPast(await sub.getExpirationTime(at), at)) return 'expired';
  }
  if (keyID === undefined) {
    try {
      await key.verifyPrimaryKey(at);
      return 'valid';
    } catch {
      return 'unusable';
    }
  }
  try {
    await key.getSigningKey(keyID, at);
    return 'valid';
  } catch {
    return 'unusable';
  }
}
