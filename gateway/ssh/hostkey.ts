import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { GatewayError } from '../errors.js';
import { sshFingerprint } from './keys.js';

export interface HostKey {
  readonly parsed: ParsedKey;
  /** "SHA256:…" as OpenSSH prints it. */
  readonly fingerprint: string;
  /** "ssh-ed25519 AAAA…" — the public half, for known_hosts lines. */
  readonly publicLine: string;
}

/**
 * Parses the gateway's host private keys (OpenSSH format, no passphrase). Only ssh-ed25519 is
 * accepted: see algorithms.ts for why an RSA host key would drag SHA-1 signatures in.
 */
export function parseHostKeys(keys: readonly Buffer[]): HostKey[] {
  if (keys.length === 0) throw new GatewayError('CONFIG_INVALID', 'aucune clé d\'hôte SSH / no SSH host key configured');
  return keys.map((buf, i) => {
    const k = ssh2.utils.parseKey(buf);
    const parsed = Array.isArray(k) ? (k[0] as ParsedKey | undefined) : k;
    if (!parsed || parsed instanceof Error || !parsed.isPrivateKey()) {
      throw new GatewayError('CONFIG_UNREADABLE', 'clé d\'hôte SSH illisible / unreadable SSH host key', { index: i });
    }
    if (parsed.type !== 'ssh-ed25519') {
      throw new GatewayError('CONFIG_INVALID', 'la clé d\'hôte SSH doit être ssh-ed25519 / the SSH host key must be ssh-ed25519', {
        index: i,
        type: parsed.type,
      });
    }
    const blob = parsed.getPublicSSH();
    return { parsed, fingerprint: sshFingerprint(blob), publicLine: `${parsed.type} ${blob.toString('base64')}` };
  });
}
