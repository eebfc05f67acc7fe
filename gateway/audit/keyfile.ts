/**
 * Reading checkpoint key files (the I/O edge of notekey.ts). A signer key file must be readable
 * by its owner only (0600), except in demo mode where the committed demo keys are used.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { GatewayError } from '../errors.js';
import { formatSignerKey, formatVerifierKey, generateSignerKey, parseSignerKey, parseVerifierKey, type SignerKey, type VerifierKey } from './notekey.js';

/** Key file text without its comment lines ('#…', e.g. a DEMO-ONLY warning). */
function withoutComments(text: string): string {
  return text.split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n');
}

/** A signer key file's text (comments allowed), parsed: what `passerelle check-config` checks. */
export function parseSignerKeyText(text: string): SignerKey {
  return parseSignerKey(withoutComments(text));
}

function read(path: string): string {
  try {
    return withoutComments(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new GatewayError('CONFIG_UNREADABLE', `fichier de clé illisible : ${path}`, { path }, { cause: e });
  }
}

export function readSignerKeyFile(path: string, options: { demo?: boolean } = {}): SignerKey {
  const text = read(path);
  if (!options.demo && process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
    throw new GatewayError('KEY_PERMISSIONS', `la clé de checkpoint ${path} est lisible par d'autres que son propriétaire (0600 requis)`, { path });
  }
  return parseSignerKey(text);
}

/** A verifier key file: the note verifier key line, or a signer key file (its public half). */
export function readVerifierKeyFile(path: string): VerifierKey {
  const text = read(path).trim();
  return text.startsWith('PRIVATE+KEY+') ? parseSignerKey(text) : parseVerifierKey(text);
}

/** Where the verifier key goes next to a signer key file: checkpoint.key → checkpoint.pub. */
export function verifierKeyPath(signerPath: string): string {
  return signerPath.endsWith('.key') ? `${signerPath.slice(0, -4)}.pub` : `${signerPath}.pub`;
}

/**
 * Writes a new key pair: the signer key create-exclusive with mode 0600 (never overwrites), the
 * verifier key next to it for auditors. Returns the key.
 */
export function createSignerKeyFile(path: string, name: string, comment?: string): SignerKey {
  const head = comment === undefined ? '' : comment.split('\n').map((l) => `# ${l}\n`).join('');
  const key = generateSignerKey(name);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, `${head}${formatSignerKey(key)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    throw new GatewayError('CONFIG_UNREADABLE', `impossible de créer la clé de checkpoint ${path} (existe déjà ?)`, { path }, { cause: e });
  }
  writeFileSync(verifierKeyPath(path), `${head}${formatVerifierKey(key)}\n`, { mode: 0o644 });
  return key;
}

/** The gateway's checkpoint key: read it, or create it at first start (named after the origin). */
export function loadOrCreateSignerKey(path: string, name: string, options: { demo?: boolean } = {}): { key: SignerKey; created: boolean } {
  if (existsSync(path)) return { key: readSignerKeyFile(path, options), created: false };
  return { key: createSignerKeyFile(path, name), created: true };
}
