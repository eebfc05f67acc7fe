/**
 * C2SP signed-note Ed25519 keys (https://c2sp.org/signed-note), pure apart from node:crypto:
 *   verifier key  <name>+<hex key id>+<base64(0x01 ‖ 32-byte public key)>
 *   signer key    PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 ‖ 32-byte seed)>
 *   key id        first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)
 * Key text read from files or given by an auditor is attacker-controlled: every parse error is
 * an AUDIT_CHECKPOINT_INVALID with the reason.
 */
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { GatewayError } from '../errors.js';
import { sha256 } from './merkle.js';

const ALG_ED25519 = 0x01;
// DER prefixes of an Ed25519 PKCS#8 private key and SPKI public key (RFC 8410), before the 32 raw bytes.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface VerifierKey {
  readonly name: string;
  readonly keyId: Buffer; // 4 bytes
  readonly publicKey: KeyObject;
  readonly raw: Buffer; // 32 bytes
}

export interface SignerKey extends VerifierKey {
  readonly privateKey: KeyObject;
}

function bad(message: string): never {
  throw new GatewayError('AUDIT_CHECKPOINT_INVALID', message);
}

/** Key names: non-empty, no '+', no whitespace or control characters (signed-note rules). */
export function checkKeyName(name: string): string {
  if (name.length === 0 || name.length > 256 || /[+\s\p{Cc}]/u.test(name)) bad(`nom de clé invalide : ${JSON.stringify(name)}`);
  return name;
}

export function keyId(name: string, rawPublic: Uint8Array): Buffer {
  return sha256(Buffer.from(name, 'utf8'), Buffer.from([0x0a, ALG_ED25519]), rawPublic).subarray(0, 4);
}

function fromPublicRaw(name: string, raw: Buffer): VerifierKey {
  const publicKey = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  return { name, keyId: keyId(name, raw), publicKey, raw };
}

function signerFromSeed(name: string, seed: Buffer): SignerKey {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const raw = Buffer.from(spki.subarray(spki.length - 32));
  return { ...fromPublicRaw(name, raw), privateKey };
}

export function generateSignerKey(name: string): SignerKey {
  return signerFromSeed(checkKeyName(name), randomBytes(32));
}

function decodeKeyMaterial(b64: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) bad(`${what} : base64 invalide`);
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length !== 33 || bytes[0] !== ALG_ED25519) bad(`${what} : clé Ed25519 attendue (0x01 ‖ 32 octets)`);
  return bytes.subarray(1);
}

function checkId(name: string, raw: Buffer, hexId: string, what: string): void {
  if (!/^[0-9a-f]{8}$/.test(hexId)) bad(`${what} : identifiant de clé invalide`);
  if (keyId(name, raw).toString('hex') !== hexId) bad(`${what} : l'identifiant de clé ne correspond pas à la clé`);
}

export function parseVerifierKey(text: string): VerifierKey {
  const parts = text.trim().split('+');
  // The base64 part may itself contain '+': name and id are the first two fields.
  if (parts.length < 3) bad('clé de vérification : format <nom>+<id>+<clé> attendu');
  const name = checkKeyName(parts[0]!);
  const raw = decodeKeyMaterial(parts.slice(2).join('+'), 'clé de vérification');
  checkId(name, raw, parts[1]!, 'clé de vérification');
  return fromPublicRaw(name, raw);
}

export function parseSignerKey(text: string): SignerKey {
  const parts = text.trim().split('+');
  if (parts.length < 5 || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY') bad('clé de signature : format PRIVATE+KEY+<nom>+<id>+<clé> attendu');
  const name = checkKeyName(parts[2]!);
  const signer = signerFromSeed(name, decodeKeyMaterial(parts.slice(4).join('+'), 'clé de signature'));
  checkId(name, signer.raw, parts[3]!, 'clé de signature');
  return signer;
}

export function formatVerifierKey(k: VerifierKey): string {
  return `${k.name}+${k.keyId.toString('hex')}+${Buffer.concat([Buffer.from([ALG_ED25519]), k.raw]).toString('base64')}`;
}

export function formatSignerKey(k: SignerKey): string {
  const der = k.privateKey.export({ format: 'der', type: 'pkcs8' });
  const seed = der.subarray(der.length - 32);
  return `PRIVATE+KEY+${k.name}+${k.keyId.toString('hex')}+${Buffer.concat([Buffer.from([ALG_ED25519]), seed]).toString('base64')}`;
}
