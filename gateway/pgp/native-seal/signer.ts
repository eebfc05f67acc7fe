/**
 * The gateway's v4 signature over streamed literal data, made with node:crypto: the one-pass
 * signature packet that goes before the data, a hash fed while the data streams, and the
 * signature packet (binary document, hashed creation time and issuer fingerprint, unhashed
 * issuer key ID) once the data has ended. Ed25519 (legacy EdDSA and RFC 9580) and RSA keys.
 */
import { createHash, createPrivateKey, privateEncrypt, sign as cryptoSign, constants, type Hash, type KeyObject } from 'node:crypto';
import * as openpgp from 'openpgp';
import type { PrivateKey } from 'openpgp';
import { GatewayError } from '../../errors.js';
import { framePacket } from '../native/bytes.js';

const { publicKey: PK, hash: HASH, packet: TAG, signature: SIG } = openpgp.enums;

/** node:crypto names of the hashes a seal may use. */
export const SEAL_HASHES = { sha256: HASH.sha256, sha512: HASH.sha512 } as const;
export type SealHash = keyof typeof SEAL_HASHES;

/** DER DigestInfo prefixes of PKCS#1 v1.5 (RFC 8017 §9.2 note 1). */
const DIGEST_INFO: Record<SealHash, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha512: '3051300d060960864801650304020305000440',
};

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

/** An MPI (RFC 9580 §3.2): bit count, then the value without leading zero octets. */
function mpi(v: Uint8Array): Buffer {
  let i = 0;
  while (i < v.length && v[i] === 0) i++;
  const b = v.subarray(i);
  const bits = b.length === 0 ? 0 : (b.length - 1) * 8 + (32 - Math.clz32(b[0] as number));
  return Buffer.concat([Buffer.from([bits >> 8, bits & 0xff]), b]);
}

const big = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`));
function unbig(v: bigint): Buffer {
  const hex = v.toString(16);
  return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex');
}

export interface SigningMaterial {
  algorithm: number;
  keyID: Uint8Array; // 8 bytes
  fingerprint: Uint8Array; // 20 bytes (v4)
  key: KeyObject;
}

function unusable(why: string): GatewayError {
  return new GatewayError('GATEWAY_FAILURE', 'clé de signature de la passerelle inutilisable / gateway signing key unusable', { why });
}

/** The (sub)key openpgp.js would sign with at `date`, as node:crypto material. */
export async function signingMaterial(signingKey: PrivateKey, date: Date): Promise<SigningMaterial> {
  const k = await signingKey.getSigningKey(undefined, date);
  const packet = k.keyPacket as unknown as {
    version: number; algorithm: number; isDecrypted(): boolean | null;
    publicParams: Record<string, Uint8Array>; privateParams?: Record<string, Uint8Array>;
    getFingerprintBytes(): Uint8Array; getKeyID(): openpgp.KeyID;
  };
  if (packet.version !== 4) throw unusable(`key version ${packet.version}`);
  if (packet.isDecrypted() !== true || packet.privateParams === undefined) throw unusable('locked');
  const pub = packet.publicParams;
  const priv = packet.privateParams;
  let key: KeyObject;
  if (packet.algorithm === PK.eddsaLegacy || packet.algorithm === PK.ed25519) {
    const x = packet.algorithm === PK.eddsaLegacy ? (pub['Q'] as Uint8Array).subarray(1) : (pub['A'] as Uint8Array);
    key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(x), d: b64u(priv['seed'] as Uint8Array) }, format: 'jwk' });
  } else if (packet.algorithm === PK.rsaEncryptSign || packet.algorithm === PK.rsaSign) {
    // OpenPGP's u is p⁻¹ mod q; JWK wants qi = q⁻¹ mod p: with p and q swapped, qi is u.
    const [p, q, d] = [priv['q'] as Uint8Array, priv['p'] as Uint8Array, priv['d'] as Uint8Array];
    const dn = big(d);
    key = createPrivateKey({
      key: {
        kty: 'RSA', n: b64u(pub['n'] as Uint8Array), e: b64u(pub['e'] as Uint8Array), d: b64u(d), p: b64u(p), q: b64u(q),
        dp: b64u(unbig(dn % (big(p) - 1n))), dq: b64u(unbig(dn % (big(q) - 1n))), qi: b64u(priv['u'] as Uint8Array),
      },
      format: 'jwk',
    });
  } else {
    throw unusable(`public key algorithm ${packet.algorithm}`);
  }
  return { algorithm: packet.algorithm, keyID: Buffer.from(packet.getKeyID().toHex(), 'hex'), fingerprint: packet.getFingerprintBytes(), key };
}

/** One-pass signature packet v3 (binary document, last one before the data). */
export function onePassPacket(m: SigningMaterial, hash: SealHash): Uint8Array {
  const body = Buffer.alloc(13);
  body[0] = 3;
  body[1] = SIG.binary;
  body[2] = SEAL_HASHES[hash];
  body[3] = m.algorithm;
  body.set(m.keyID, 4);
  body[12] = 1;
  return framePacket(TAG.onePassSignature, body);
}

/** The hash to feed with the literal data (its body bytes, not the literal packet header). */
export function dataHash(hash: SealHash): Hash {
  return createHash(hash);
}

/** Signature packet v4 over the data hashed into `h` (consumed), made at `date`. */
export function signaturePacket(m: SigningMaterial, hash: SealHash, h: Hash, date: Date): Uint8Array {
  const time = Buffer.alloc(4);
  time.writeUInt32BE(Math.floor(date.getTime() / 1000));
  const hashedSubpackets = Buffer.concat([
    Buffer.from([5, 2]), time, // signature creation time
    Buffer.from([22, 33, 4]), m.fingerprint, // issuer fingerprint (v4)
  ]);
  const hashed = Buffer.concat([Buffer.from([4, SIG.binary, m.algorithm, SEAL_HASHES[hash], hashedSubpackets.length >> 8, hashedSubpackets.length & 0xff]), hashedSubpackets]);
  const trailer = Buffer.from([4, 0xff, 0, 0, 0, 0]);
  trailer.writeUInt32BE(hashed.length, 2);
  h.update(hashed);
  h.update(trailer);
  const digest = h.digest();
  let value: Buffer;
  if (m.algorithm === PK.eddsaLegacy || m.algorithm === PK.ed25519) {
    // OpenPGP's EdDSA signs the digest itself as the message.
    const rs = cryptoSign(null, digest, m.key);
    value = m.algorithm === PK.ed25519 ? rs : Buffer.concat([mpi(rs.subarray(0, 32)), mpi(rs.subarray(32))]);
  } else {
    const em = Buffer.concat([Buffer.from(DIGEST_INFO[hash], 'hex'), digest]);
    value = mpi(privateEncrypt({ key: m.key, padding: constants.RSA_PKCS1_PADDING }, em));
  }
  const unhashed = Buffer.concat([Buffer.from([0, 10, 9, 16]), m.keyID]); // length 10: issuer key ID subpacket
  return framePacket(TAG.signature, Buffer.concat([hashed, unhashed, digest.subarray(0, 2), value]));
}
