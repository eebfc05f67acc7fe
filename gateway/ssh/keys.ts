import { createHash, createPublicKey } from 'node:crypto';
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

/** RSA client keys below this size are not accepted (ANSSI / RGS: 2048 until 2030). */
export const MIN_RSA_BITS = 2048;

/** Client key types we accept: no DSA (1024-bit, SHA-1). */
function acceptableKey(k: ParsedKey): boolean {
  if (k.type === 'ssh-ed25519' || k.type.startsWith('ecdsa-sha2-')) return true;
  if (k.type !== 'ssh-rsa') return false;
  const bits = createPublicKey(k.getPublicPEM()).asymmetricKeyDetails?.modulusLength ?? 0;
  return bits >= MIN_RSA_BITS;
}

/**
 * Parses an authorized_keys line ("ssh-ed25519 AAAA… comment"); undefined if it is not a public
 * key of an acceptable type and size.
 */
export function parsePublicKeyLine(line: string): RegisteredKey | undefined {
  const parsed = ssh2.utils.parseKey(line.trim());
  if (parsed instanceof Error || parsed.isPrivateKey() || !acceptableKey(parsed)) return undefined;
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
