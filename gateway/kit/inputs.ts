/**
 * Reads what a partner kit needs from a loaded configuration: the partner, the datasets it may
 * send now, and the gateway's public keys (the SSH host key is derived from the configured
 * private key file, the OpenPGP key is re-armored as a public key only).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import ssh2 from 'ssh2';
import { GatewayError } from '../errors.js';
import type { Dataset, GatewayConfig } from '../config/model.js';
import { datasetsSendable } from '../config/conventions.js';
import { fingerprint, readPublicKeys } from '../pgp/keys.js';
import { sshFingerprint } from '../ssh/keys.js';
import type { KitDataset, KitInput } from './kit.js';

export interface KitOptions {
  /** Host name partners use (default: the configured SFTP listen address). */
  readonly host?: string;
  readonly port?: number;
  readonly now?: Date;
}

export function describeFormat(d: Dataset): string {
  switch (d.format.kind) {
    case 'csv':
      return `CSV, séparateur « ${d.format.delimiter} », ${d.format.encoding.toUpperCase()}, ligne d'en-tête`;
    case 'ndjson':
      return 'NDJSON (un objet JSON par ligne)';
    case 'json':
      return `JSON (enregistrements dans \`${d.format.recordsPath}\`)`;
  }
}

export async function readHostPublicKey(file: string): Promise<KitInput['hostKey']> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (e) {
    throw new GatewayError('CONFIG_UNREADABLE', `clé d'hôte SSH illisible / unreadable SSH host key: ${file}`, { file }, { cause: e });
  }
  const parsed = ssh2.utils.parseKey(data);
  if (parsed instanceof Error) {
    throw new GatewayError('CONFIG_UNREADABLE', `clé d'hôte SSH invalide / invalid SSH host key: ${file}`, { file }, { cause: parsed });
  }
  const blob = parsed.getPublicSSH();
  return { type: parsed.type, base64: blob.toString('base64'), fingerprint: sshFingerprint(blob) };
}

export async function readGatewayPgp(file: string): Promise<{ armored: string; fingerprint: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new GatewayError('CONFIG_UNREADABLE', `clé OpenPGP de la passerelle illisible / unreadable gateway OpenPGP key: ${file}`, { file }, { cause: e });
  }
  const [key] = await readPublicKeys(text);
  if (!key) throw new GatewayError('CONFIG_UNREADABLE', `aucune clé OpenPGP dans / no OpenPGP key in ${file}`, { file });
  // toPublic(): even a misconfigured path to a secret key never puts secret material in a kit.
  return { armored: key.toPublic().armor(), fingerprint: fingerprint(key) };
}

export async function kitInputFromConfig(config: GatewayConfig, partnerId: string, o: KitOptions = {}): Promise<KitInput> {
  const partner = config.partners.get(partnerId);
  if (!partner) {
    throw new GatewayError('CONFIG_INVALID', `partenaire inconnu / unknown partner: ${partnerId}`, { partner: partnerId });
  }
  const now = o.now ?? new Date();
  const keys = config.settings.keys;
  const [hostKey, pgp] = await Promise.all([
    readHostPublicKey(resolve(config.dir, keys.sshHostKey)),
    readGatewayPgp(resolve(config.dir, keys.pgpPublicKey)),
  ]);
  const datasets: KitDataset[] = datasetsSendable(config, partnerId, now).map((id) => {
    const d = config.datasets.get(id) as Dataset; // datasetsSendable keeps configured ids only
    return { id, title: d.title, format: describeFormat(d) };
  });
  return {
    partnerId,
    partnerName: partner.name,
    host: o.host ?? config.settings.sftp.host,
    port: o.port ?? config.settings.sftp.port,
    hostKey,
    gatewayPgpArmored: pgp.armored,
    gatewayPgpFingerprint: pgp.fingerprint,
    partnerPgpFingerprints: partner.pgpKeys.map((k) => k.fingerprint.toUpperCase()),
    datasets,
    generatedAt: now,
  };
}
