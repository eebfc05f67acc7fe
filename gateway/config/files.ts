/**
 * The configuration files as written by the operator, once they passed their JSON Schema
 * (schemas/config/*.schema.json). Optional fields get their defaults when the model is built.
 */
import type { Limits } from './model.js';

export type SshKeyEntry = string | { file: string };
export interface PgpKeyRefFile { file: string; fingerprint: string; allowRsa2048?: boolean }

export interface MainFile {
  settings: {
    dataDir?: string;
    sftp?: { host?: string; port?: number };
    admin?: { host?: string; port?: number; tlsCert?: string; tlsKey?: string };
    keys: { sshHostKey: string; pgpSecretKey: string; pgpPublicKey: string; checkpointKey?: string };
    audit?: { origin?: string; retentionDays?: number; checkpointIntervalMs?: number };
    limits?: Partial<Limits>;
  };
  files: { datasets: string; partners: string; recipients: string; conventions: string };
}

export type DatasetFormatFile =
  | { kind: 'csv'; delimiter: string; encoding?: 'utf-8' | 'windows-1252'; maxLineBytes?: number }
  | { kind: 'ndjson'; maxLineBytes?: number }
  | { kind: 'json'; recordsPath: string; envelopeSchema?: string };

export interface DatasetFile {
  id: string;
  title: string;
  format: DatasetFormatFile;
  schema: string;
  idField: string;
  inseeOptional?: boolean;
  coordinates?: { crs: 'EPSG:4326' | 'EPSG:2154'; xField: string; yField: string };
}

export interface PartnerFile { id: string; name: string; territory: string[]; sshKeys: SshKeyEntry[]; pgpKeys: PgpKeyRefFile[] }
export interface RecipientFile {
  id: string;
  name: string;
  territory: string[];
  sshKeys: SshKeyEntry[];
  pgpKey: PgpKeyRefFile;
  outbox?: { deleteAllowed?: boolean };
}

export interface GrantFile { party: string; datasets: string[] }
export interface ConventionFile {
  id: string;
  title: string;
  legalReference: string;
  signedOn: string;
  validFrom: string;
  validTo: string;
  purpose: string;
  dataCategories: string[];
  retentionDays: number;
  validation?: 'all_or_nothing' | 'skip_invalid';
  senders: GrantFile[];
  recipients: GrantFile[];
}

export interface ConfigFiles {
  main: MainFile;
  datasets: { datasets: DatasetFile[] };
  partners: { partners: PartnerFile[] };
  recipients: { recipients: RecipientFile[] };
  conventions: { conventions: ConventionFile[] };
}

export type ConfigFileKind = 'passerelle' | 'datasets' | 'partners' | 'recipients' | 'conventions';
