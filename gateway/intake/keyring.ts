/**
 * The OpenPGP keys a configuration snapshot names, parsed once per snapshot: each partner's
 * signing keys (only those may sign its uploads), each recipient's encryption key, and the
 * gateway's own key (decrypts uploads, signs deliveries and receipts).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { GatewayConfig } from '../config/model.js';
import { GatewayError } from '../errors.js';
import { fingerprint, readPrivateKey, readPublicKeys, type PrivateKey, type PublicKey } from '../pgp/keys.js';

export interface KeyRing {
  readonly gateway: PrivateKey;
  readonly gatewayFingerprint: string;
  partnerKeys(partnerId: string): readonly PublicKey[];
  /** Whether one of the partner's keys is an RSA-2048 key it is allowed to keep for now. */
  partnerAllowsRsa2048(partnerId: string): boolean;
  recipientKey(recipientId: string): PublicKey;
}

async function pinned(config: GatewayConfig, file: string, fpr: string): Promise<PublicKey> {
  const keys = await readPublicKeys(await readFile(resolve(config.dir, file), 'utf8'));
  const key = keys.find((k) => fingerprint(k) === fpr);
  if (!key) throw new GatewayError('CONFIG_INVALID', `clé ${fpr} absente de ${file}`, { file });
  return key;
}

export async function loadKeyRing(config: GatewayConfig): Promise<KeyRing> {
  const gateway = await readPrivateKey(await readFile(resolve(config.dir, config.settings.keys.pgpSecretKey), 'utf8'));
  const partners = new Map<string, PublicKey[]>();
  const rsa2048 = new Set<string>();
  for (const p of config.partners.values()) {
    const keys: PublicKey[] = [];
    for (const ref of p.pgpKeys) {
      keys.push(await pinned(config, ref.file, ref.fingerprint));
      if (ref.allowRsa2048) rsa2048.add(p.id);
    }
    partners.set(p.id, keys);
  }
  const recipients = new Map<string, PublicKey>();
  for (const r of config.recipients.values()) recipients.set(r.id, await pinned(config, r.pgpKey.file, r.pgpKey.fingerprint));
  return {
    gateway,
    gatewayFingerprint: fingerprint(gateway),
    partnerKeys: (id) => partners.get(id) ?? [],
    partnerAllowsRsa2048: (id) => rsa2048.has(id),
    recipientKey: (id) => {
      const k = recipients.get(id);
      if (!k) throw new GatewayError('CONFIG_INVALID', `destinataire inconnu : ${id}`);
      return k;
    },
  };
}
