/**
 * The configuration model, after loading and validation. Everything here is deeply frozen:
 * a running gateway swaps whole snapshots on reload and never mutates one.
 * File formats (JSON, validated by schemas/config/*.schema.json) map onto these types.
 */

/** A territory: INSEE commune codes ("54328") and/or département codes ("54"). */
export type Territory = readonly string[];

export type DatasetFormat =
  | { readonly kind: 'csv'; readonly delimiter: string; readonly encoding: 'utf-8' | 'windows-1252'; readonly maxLineBytes: number }
  | { readonly kind: 'ndjson'; readonly maxLineBytes: number }
  | { readonly kind: 'json'; readonly recordsPath: string; readonly envelopeSchema?: string };

export interface Dataset {
  readonly id: string;
  readonly title: string;
  readonly format: DatasetFormat;
  /** Path of the record JSON Schema, relative to the schemas directory (e.g. "datasets/faits-4001.schema.json"). */
  readonly schema: string;
  /** The record field holding the unique id within a file. */
  readonly idField: string;
  /** true when records may omit code_insee and are routed by their coordinates. */
  readonly inseeOptional: boolean;
  /** Coordinate reference of the record's point, if any: fields and system. */
  readonly coordinates?: { readonly crs: 'EPSG:4326' | 'EPSG:2154'; readonly xField: string; readonly yField: string };
}

export interface PgpKeyRef {
  /** Armored public key file, relative to the configuration directory. */
  readonly file: string;
  /** Pinned primary key fingerprint, upper-case hex without spaces. */
  readonly fingerprint: string;
  /** RSA-2048 tolerated (RGS until 2030), with a warning in every receipt. */
  readonly allowRsa2048?: boolean;
}

export interface Party {
  readonly id: string;
  readonly name: string;
  /** OpenSSH authorized_keys lines (algorithm, base64, optional comment). */
  readonly sshKeys: readonly string[];
  readonly territory: Territory;
}

export interface Partner extends Party {
  readonly kind: 'partner';
  readonly pgpKeys: readonly PgpKeyRef[];
}

export interface Recipient extends Party {
  readonly kind: 'recipient';
  readonly pgpKey: PgpKeyRef;
  readonly outbox: { readonly deleteAllowed: boolean };
}

export interface ConventionGrant {
  readonly party: string;
  readonly datasets: readonly string[];
}

export interface Convention {
  readonly id: string;
  readonly title: string;
  readonly legalReference: string;
  readonly signedOn: string; // YYYY-MM-DD
  readonly validFrom: string; // YYYY-MM-DD, inclusive
  readonly validTo: string; // YYYY-MM-DD, inclusive
  readonly purpose: string;
  readonly dataCategories: readonly string[];
  readonly retentionDays: number;
  readonly validation: 'all_or_nothing' | 'skip_invalid';
  readonly senders: readonly ConventionGrant[];
  readonly recipients: readonly ConventionGrant[];
}

export interface Limits {
  readonly maxConnections: number;
  readonly maxConnectionsPerSource: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly keepaliveIntervalMs: number;
  readonly maxAuthAttempts: number;
  readonly banAfterFailures: number;
  readonly banWindowMs: number;
  readonly banDurationMs: number;
  readonly maxOpenHandles: number;
  readonly maxInflightRequests: number;
  readonly maxReadLength: number;
  readonly maxFileBytes: number;
  readonly maxDecompressedBytes: number;
  readonly maxRecords: number;
  readonly maxErrors: number;
  readonly partialUploadKeepMs: number;
  /** How long the pipeline that followed a closed temporary name waits for its RENAME. */
  readonly renameWaitMs: number;
  readonly signatureMaxAgeMs: number;
  /** A decryption that neither reads input nor gives plaintext this long is refused as unreadable. */
  readonly decryptStallMs: number;
  /** An intake thread whose event loop sends no heartbeat this long is ended; its uploads fail. */
  readonly intakeThreadStallMs: number;
}

export interface GatewaySettings {
  readonly demo: boolean;
  readonly dataDir: string;
  readonly sftp: { readonly host: string; readonly port: number };
  readonly admin: { readonly host: string; readonly port: number; readonly tlsCert?: string; readonly tlsKey?: string };
  /** Gateway keys, paths relative to the configuration directory. */
  readonly keys: {
    readonly sshHostKey: string;
    readonly pgpSecretKey: string;
    readonly pgpPublicKey: string;
    readonly checkpointKey?: string;
  };
  readonly audit: { readonly origin: string; readonly retentionDays: number; readonly checkpointIntervalMs: number };
  readonly limits: Limits;
}

export interface GatewayConfig {
  /** Absolute path of the main configuration file; other paths resolve against its directory. */
  readonly file: string;
  readonly dir: string;
  readonly settings: GatewaySettings;
  readonly datasets: ReadonlyMap<string, Dataset>;
  readonly partners: ReadonlyMap<string, Partner>;
  readonly recipients: ReadonlyMap<string, Recipient>;
  readonly conventions: readonly Convention[];
}

export type AnyParty = Partner | Recipient;

/** The running configuration: a frozen snapshot, replaced whole when a valid change is loaded. */
export interface ConfigSource {
  current(): GatewayConfig;
  /** Called after a new snapshot is in place; returns an unsubscribe function. */
  onChange(listener: (next: GatewayConfig, previous: GatewayConfig) => void): () => void;
}
