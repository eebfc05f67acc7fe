/**
 * Signature verification with node:crypto for v4 signatures by Ed25519 (legacy EdDSA and RFC
 * 9580) and RSA keys, over a hash the caller computed while streaming the literal data. The
 * result has the shape openpgp.js gives (`keyID`, `verified`, `signature`), with the same checks
 * after the cryptography (key not newer than the signature, key valid for signing when it signed),
 * so the policy (policy.ts) judges both engines' signatures with the same code.
 */
import { createPublicKey, publicDecrypt, timingSafeEqual, verify as cryptoVerify, constants, type Hash, type KeyObject } from 'node:crypto';
import * as openpgp from 'openpgp';
import type { PublicKey, SignaturePacket, Subkey, Key } from 'openpgp';

/** DER DigestInfo prefixes of PKCS#1 v1.5 (RFC 8017 §9.2 note 1). */
const DIGEST_INFO: Record<number, string> = {
  [openpgp.enums.hash.sha256]: '3031300d060960864801650304020105000420',
  [openpgp.enums.hash.sha384]: '3041300d060960864801650304020205000430',
  [openpgp.enums.hash.sha512]: '3051300d060960864801650304020305000440',
};

export const NATIVE_HASHES: Record<number, string> = {
  [openpgp.enums.hash.sha256]: 'sha256',
  [openpgp.enums.hash.sha384]: 'sha384',
  [openpgp.enums.hash.sha512]: 'sha512',
};

const { publicKey: PK } = openpgp.enums;
export const NATIVE_KEY_ALGORITHMS: ReadonlySet<number> = new Set([PK.rsaEncryptSign, PK.rsaSign, PK.eddsaLegacy, PK.ed25519]);

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

function leftPad(b: Uint8Array, n: number): Buffer {
  if (b.length > n) throw new Error('signature value too long');
  return Buffer.concat([Buffer.alloc(n - b.length), b]);
}

/** The node:crypto public key of an openpgp (sub)key packet. */
function nodeKey(k: Key | Subkey): KeyObject {
  const algo = k.keyPacket.algorithm as number;
  const params = (k.keyPacket as unknown as { publicParams: Record<string, Uint8Array> }).publicParams;
  if (algo === PK.eddsaLegacy) {
    const q = params['Q'] as Uint8Array; // 0x40 ‖ 32-byte point
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(q.subarray(1)) }, format: 'jwk' });
  }
  if (algo === PK.ed25519) return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(params['A'] as Uint8Array) }, format: 'jwk' });
  return createPublicKey({ key: { kty: 'RSA', n: b64u(params['n'] as Uint8Array), e: b64u(params['e'] as Uint8Array) }, format: 'jwk' });
}

/** The cryptographic check of `sig` over `digest` (the hash of data ‖ hashed part ‖ trailer). */
function checkCrypto(sig: SignaturePacket, digest: Buffer, k: Key | Subkey): boolean {
  const params = (sig as unknown as { params: Record<string, Uint8Array> }).params;
  const key = nodeKey(k);
  const algo = sig.publicKeyAlgorithm as number;
  if (algo !== (k.keyPacket.algorithm as number)) return false;
  if (algo === PK.eddsaLegacy) {
    const rs = Buffer.concat([leftPad(params['r'] as Uint8Array, 32), leftPad(params['s'] as Uint8Array, 32)]);
    return cryptoVerify(null, digest, key, rs);
  }
  if (algo === PK.ed25519) return cryptoVerify(null, digest, key, Buffer.from(params['RS'] as Uint8Array));
  const prefix = DIGEST_INFO[sig.hashAlgorithm as number];
  if (prefix === undefined) return false;
  const modulusBytes = ((k.keyPacket as unknown as { publicParams: { n: Uint8Array } }).publicParams.n).length;
  let recovered: Buffer;
  try {
    recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, leftPad(params['s'] as Uint8Array, modulusBytes));
  } catch {
    return false;
  }
  const expected = Buffer.concat([Buffer.from(prefix, 'hex'), digest]);
  return recovered.length === expected.length && timingSafeEqual(recovered, expected);
}

/** Finishes `hash` with the v4 signature trailer: the digest the signature covers. */
export function finishV4Hash(hash: Hash, sig: SignaturePacket): Buffer {
  const data = sig.signatureData as Uint8Array;
  hash.update(data);
  const trailer = Buffer.alloc(6);
  trailer[0] = 4;
  trailer[1] = 0xff;
  trailer.writeUInt32BE(data.length, 2);
  hash.update(trailer);
  return hash.digest();
}

/** Verifies one signature the way openpgp.js's `verified` does; throws an Error on failure. */
export async function verifyNative(sig: SignaturePacket, digest: Buffer, senderKeys: readonly PublicKey[], now: Date, config: openpgp.Config): Promise<true> {
  const primary = senderKeys.find((k) => k.getKeys(sig.issuerKeyID).length > 0);
  const signing = primary?.getKeys(sig.issuerKeyID)[0];
  if (primary === undefined || signing === undefined) throw new Error(`Could not find signing key with key ID ${sig.issuerKeyID.toHex()}`);
  const left = sig.signedHashValue as Uint8Array;
  if (digest[0] !== left[0] || digest[1] !== left[1]) throw new Error('Signed digest did not match');
  if (!checkCrypto(sig, digest, signing)) throw new Error('Signature verification failed');
  if (sig.isExpired(now)) throw new Error('Signature is expired');
  // What openpgp.js's SignaturePacket.verify checks besides the cryptography (same messages): a
  // signature that says it must not be taken without understanding something is not taken.
  const parsed = sig as unknown as { unknownSubpackets: { type: number; critical: boolean }[]; rawNotations: { name: string; critical: boolean }[]; revocationKeyClass: number | null };
  for (const { type, critical } of parsed.unknownSubpackets) if (critical) throw new Error(`Unknown critical signature subpacket type ${type}`);
  for (const { name, critical } of parsed.rawNotations) if (critical && !config.knownNotations.includes(name)) throw new Error(`Unknown critical notation: ${name}`);
  if (parsed.revocationKeyClass !== null) throw new Error('This key is intended to be revoked with an authorized key, which OpenPGP.js does not support.');
  const created = sig.created as Date;
  if (signing.getCreationTime() > created) throw new Error('Key is newer than the signature');
  await primary.getSigningKey(signing.getKeyID(), created, undefined, config);
  return true;
}
