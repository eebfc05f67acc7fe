import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import type { AnyParty, GatewayConfig } from '../config/model.js';

/**
 * Public keys of the parties, indexed by SFTP username (= party id). Built once per
 * configuration snapshot, so authentication never parses configuration text.
 */
export interface RegisteredKey {
  /** The key in SSH wire format (what the client sends in USERAUTH_REQUEST). */
  readonly blob: Buffer;
  readonly parsed: ParsedKey;
  readonly fingerprint: string;
}

export interface PartyKeys {
  readonly party: AnyParty;
  readonly keys: readonly RegisteredKey[];
}

export type KeyIndex = ReadonlyMap<string, PartyKeys>;

/** OpenSSH-style fingerprint of a key in wire format: "SHA256:" + unpadded base64. */
export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Parses an authorized_keys line ("ssh-ed25519 AAAA… comment"); undefined if it is not a public key. */
export function parsePublicKeyLine(line: string): RegisteredKey | undefined {
  const parsed = ssh2.utils.parseKey(line.trim());
  if (parsed instanceof Error || parsed.isPrivateKey()) return undefined;
  const blob = parsed.getPublicSSH();
  return { blob, parsed, fingerprint: sshFingerprint(blob) };
}

/**
 * Partners and recipients by id. Config loading already validated the key lines; a line that
 * does not parse here is skipped (and reported by the caller) rather than stopping the gateway.
 */
export function buildKeyIndex(config: GatewayConfig, onBadKey?: (partyId: string, index: number) => void): KeyIndex {
  const index = new Map<string, PartyKeys>();
  const add = (party: AnyParty): void => {
    if (index.has(party.id)) return; // the config loader refuses duplicate ids; first one wins here
    const keys: RegisteredKey[] = [];
    party.sshKeys.forEach((line, i) => {
      const k = parsePublicKeyLine(line);
      if (k) keys.push(k);
      else onBadKey?.(party.id, i);
    });
    index.set(party.id, { party, keys });
  };
  for (const p of config.partners.values()) add(p);
  for (const r of config.recipients.values()) add(r);
  return index;
}

/** True when `blob` is still a registered key of the party with this id and kind. */
export function stillAuthorized(index: KeyIndex, party: AnyParty, blob: Buffer): boolean {
  const entry = index.get(party.id);
  if (!entry || entry.party.kind !== party.kind) return false;
  return entry.keys.some((k) => k.blob.equals(blob));
}
