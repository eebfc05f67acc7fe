/**
 * C2SP tlog-checkpoint in a C2SP signed note, pure apart from node:crypto:
 *
 *   <origin>\n<tree size, decimal>\n<base64 root hash>\n[extension lines\n]
 *   \n
 *   — <key name> <base64(4-byte key id ‖ 64-byte Ed25519 signature)>\n   (one or more)
 *
 * The signature covers the note body (every line before the blank line, newlines included).
 * Note text is attacker-controlled (an auditor's file, a receipt): parsing is strict and every
 * failure is an AUDIT_CHECKPOINT_INVALID whose `detail.reason` names the check.
 */
import { sign, verify } from 'node:crypto';
import { GatewayError } from '../errors.js';
import { HASH_SIZE } from './merkle.js';
import type { SignerKey, VerifierKey } from './notekey.js';

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Buffer;
  readonly extensions: readonly string[];
}

export interface NoteSignature {
  readonly name: string;
  readonly keyId: Buffer;
  readonly signature: Buffer;
}

export interface SignedNote {
  readonly body: string;
  readonly signatures: readonly NoteSignature[];
}

const MAX_NOTE = 64 * 1024;
const MAX_SIGNATURES = 100;
const EM_DASH = '\u2014';

export type CheckpointFailure =
  | 'TOO_LONG' | 'NOT_UTF8' | 'NO_SEPARATOR' | 'BAD_SIGNATURE_LINE' | 'TOO_MANY_SIGNATURES'
  | 'BAD_ORIGIN' | 'BAD_SIZE' | 'BAD_ROOT' | 'BAD_EXTENSION' | 'WRONG_ORIGIN'
  | 'NO_SIGNATURE_BY_KEY' | 'SIGNATURE_INVALID';

function bad(reason: CheckpointFailure, message: string, detail: Record<string, unknown> = {}): never {
  throw new GatewayError('AUDIT_CHECKPOINT_INVALID', message, { reason, ...detail });
}

export function formatCheckpointBody(c: Checkpoint): string {
  if (c.origin.length === 0 || /[\p{Cc}]/u.test(c.origin)) bad('BAD_ORIGIN', 'origine invalide');
  if (!Number.isSafeInteger(c.size) || c.size < 0) bad('BAD_SIZE', 'taille invalide');
  if (c.root.length !== HASH_SIZE) bad('BAD_ROOT', 'racine de 32 octets attendue');
  return [c.origin, String(c.size), c.root.toString('base64'), ...c.extensions].map((l) => `${l}\n`).join('');
}

export function signCheckpoint(c: Checkpoint, key: SignerKey): string {
  const body = formatCheckpointBody(c);
  const sig = sign(null, Buffer.from(body, 'utf8'), key.privateKey);
  return `${body}\n${EM_DASH} ${key.name} ${Buffer.concat([key.keyId, sig]).toString('base64')}\n`;
}

export function parseNote(input: string | Uint8Array): SignedNote {
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    if (input.length > MAX_NOTE) bad('TOO_LONG', 'note trop longue');
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      return bad('NOT_UTF8', 'note : UTF-8 invalide');
    }
  }
  if (text.length > MAX_NOTE) bad('TOO_LONG', 'note trop longue');
  const sep = text.lastIndexOf('\n\n');
  if (sep < 0) bad('NO_SEPARATOR', 'note : pas de ligne vide avant les signatures');
  const body = text.slice(0, sep + 1);
  const sigText = text.slice(sep + 2);
  if (!sigText.endsWith('\n')) bad('BAD_SIGNATURE_LINE', 'note : la dernière ligne de signature doit finir par un saut de ligne');
  const lines = sigText.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) bad('TOO_MANY_SIGNATURES', 'note : trop de signatures');
  const signatures = lines.map((line, i) => {
    const m = /^\u2014 ([^\s+]+) ([A-Za-z0-9+/]+={0,2})$/u.exec(line);
    if (!m) bad('BAD_SIGNATURE_LINE', `note : ligne de signature ${i + 1} mal formée`, { line: i + 1 });
    const bytes = Buffer.from(m[2]!, 'base64');
    if (bytes.length < 5) bad('BAD_SIGNATURE_LINE', `note : signature ${i + 1} trop courte`, { line: i + 1 });
    return { name: m[1]!, keyId: bytes.subarray(0, 4), signature: bytes.subarray(4) };
  });
  return { body, signatures };
}

export function parseCheckpointBody(body: string): Checkpoint {
  const lines = body.slice(0, -1).split('\n');
  if (!body.endsWith('\n') || lines.length < 3) bad('NO_SEPARATOR', 'checkpoint : trois lignes attendues (origine, taille, racine)');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0 || /[\p{Cc}]/u.test(origin)) bad('BAD_ORIGIN', 'checkpoint : origine invalide');
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) bad('BAD_SIZE', 'checkpoint : taille décimale invalide');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(rootText)) bad('BAD_ROOT', 'checkpoint : racine base64 de 32 octets attendue');
  const root = Buffer.from(rootText, 'base64');
  if (root.toString('base64') !== rootText) bad('BAD_ROOT', 'checkpoint : racine base64 non canonique');
  if (extensions.some((l) => l.length === 0)) bad('BAD_EXTENSION', 'checkpoint : ligne d\'extension vide');
  return { origin, size: Number(sizeText), root, extensions };
}

/**
 * Verifies a checkpoint note with one trusted key; returns the checkpoint. Other signatures are
 * ignored (a witness may cosign); a note with none by this key fails with NO_SIGNATURE_BY_KEY.
 */
export function verifyCheckpoint(note: string | Uint8Array, key: VerifierKey, expectedOrigin?: string): Checkpoint {
  const { body, signatures } = parseNote(note);
  const checkpoint = parseCheckpointBody(body);
  if (expectedOrigin !== undefined && checkpoint.origin !== expectedOrigin) {
    bad('WRONG_ORIGIN', `checkpoint d'une autre origine : ${JSON.stringify(checkpoint.origin)}`, { origin: checkpoint.origin });
  }
  const mine = signatures.filter((s) => s.name === key.name && s.keyId.equals(key.keyId));
  if (mine.length === 0) {
    bad('NO_SIGNATURE_BY_KEY', `checkpoint non signé par la clé ${key.name}+${key.keyId.toString('hex')} (signé par : ${signatures.map((s) => `${s.name}+${s.keyId.toString('hex')}`).join(', ')})`);
  }
  const data = Buffer.from(body, 'utf8');
  if (!mine.some((s) => s.signature.length === 64 && verify(null, data, key.publicKey, s.signature))) {
    bad('SIGNATURE_INVALID', `signature du checkpoint invalide (clé ${key.name})`);
  }
  return checkpoint;
}
