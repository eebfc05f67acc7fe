/**
 * Reading checkpoint key files (the I/O edge of notekey.ts). A signer key file must be readable
 * by its owner only (0600), except in demo mode where the committed demo keys are used.
 */
import { readFileSync, statSync } from 'node:fs';
import { GatewayError } from '../errors.js';
import { parseSignerKey, parseVerifierKey, type SignerKey, type VerifierKey } from './notekey.js';

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
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
