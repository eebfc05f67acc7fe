/**
 * Partners and recipients with their key fingerprints and dates. SSH fingerprints are computed
 * from the configured authorized_keys lines (OpenSSH "SHA256:" form); OpenPGP dates are read
 * from the configured public key files. A key file that cannot be read is shown as such, it
 * does not hide the party.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { readKey } from 'openpgp';
import type { GatewayConfig, PgpKeyRef } from '../../gateway/config/model.js';
import { isConventionValid } from '../../gateway/config/conventions.js';

/** Keys expiring within this many days are highlighted. */
export const EXPIRY_WARNING_DAYS = 60;

export interface SshKeyView { readonly algorithm: string; readonly fingerprint: string; readonly comment: string }
export interface PgpKeyView {
  readonly fingerprint: string;
  readonly file: string;
  readonly created: string | null;
  /** null: never expires. */
  readonly expires: string | null;
  readonly algorithm: string;
  readonly status: 'ok' | 'expiring' | 'expired' | 'unreadable' | 'mismatch';
}
export interface PartyView {
  readonly id: string;
  readonly name: string;
  readonly kind: 'partner' | 'recipient';
  readonly territory: readonly string[];
  readonly ssh: readonly SshKeyView[];
  readonly pgp: readonly PgpKeyView[];
  readonly conventions: readonly { readonly id: string; readonly title: string; readonly inForce: boolean; readonly validTo: string }[];
}

/** "ssh-ed25519 AAAA… comment" → OpenSSH SHA256 fingerprint (base64 without padding). */
export function sshFingerprint(line: string): SshKeyView {
  const [algorithm = '', blob = '', ...rest] = line.trim().split(/\s+/);
  const bytes = Buffer.from(blob, 'base64');
  const fp = bytes.length ? `SHA256:${createHash('sha256').update(bytes).digest('base64').replace(/=+$/, '')}` : '?';
  return { algorithm, fingerprint: fp, comment: rest.join(' ') };
}

export function keyStatus(expires: Date | null, now: Date): 'ok' | 'expiring' | 'expired' {
  if (!expires) return 'ok';
  if (expires.getTime() <= now.getTime()) return 'expired';
  return expires.getTime() - now.getTime() <= EXPIRY_WARNING_DAYS * 86_400_000 ? 'expiring' : 'ok';
}

async function pgpKey(dir: string, ref: PgpKeyRef, now: Date): Promise<PgpKeyView> {
  const base = { fingerprint: ref.fingerprint, file: ref.file };
  try {
    const key = await readKey({ armoredKey: await readFile(resolve(dir, ref.file), 'utf8') });
    const exp = await key.getExpirationTime();
    const expires = exp instanceof Date ? exp : null;
    const info = key.getAlgorithmInfo();
    const algorithm = 'bits' in info && info.bits ? `${info.algorithm} ${info.bits}` : `${info.algorithm}${'curve' in info && info.curve ? ` ${info.curve}` : ''}`;
    const created = key.getCreationTime().toISOString();
    if (key.getFingerprint().toUpperCase() !== ref.fingerprint.toUpperCase()) return { ...base, created, expires: expires?.toISOString() ?? null, algorithm, status: 'mismatch' };
    return { ...base, created, expires: expires?.toISOString() ?? null, algorithm, status: keyStatus(expires, now) };
  } catch {
    return { ...base, created: null, expires: null, algorithm: '', status: 'unreadable' };
  }
}

export async function buildParties(config: GatewayConfig, now: Date): Promise<PartyView[]> {
  const conventionsOf = (id: string) =>
    config.conventions
      .filter((c) => c.senders.some((g) => g.party === id) || c.recipients.some((g) => g.party === id))
      .map((c) => ({ id: c.id, title: c.title, inForce: isConventionValid(c, now), validTo: c.validTo }));
  const parties = [...config.partners.values(), ...config.recipients.values()];
  return Promise.all(
    parties.map(async (p) => ({
      id: p.id,
      name: p.name,
      kind: p.kind,
      territory: p.territory,
      ssh: p.sshKeys.map(sshFingerprint),
      pgp: await Promise.all((p.kind === 'partner' ? p.pgpKeys : [p.pgpKey]).map((k) => pgpKey(config.dir, k, now))),
      conventions: conventionsOf(p.id),
    })),
  );
}
