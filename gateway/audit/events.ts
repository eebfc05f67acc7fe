/**
 * What the rest of the gateway hands to the audit trail. The audit module turns an event into
 * an entry (sequence number, time, canonical bytes, Merkle leaf); callers only describe.
 */
export type AuditOutcome = 'success' | 'failure' | 'info';

export interface AuditActor {
  /** Party id, admin user name, or "gateway". */
  readonly id: string;
  readonly kind: 'partner' | 'recipient' | 'admin' | 'gateway' | 'unknown';
  /** Source address "ip:port" when the action came over the network. */
  readonly source?: string;
}

export interface AuditEvent {
  /** Dotted event type, e.g. "ssh.auth", "sftp.upload.committed", "delivery.downloaded". */
  readonly type: string;
  readonly actor: AuditActor;
  readonly outcome: AuditOutcome;
  /**
   * Object references, with these key names so the trail can be queried by them:
   * `uploadId`, `deliveryId`, `sha256` (hex), `key` (SSH SHA256:… or OpenPGP fingerprint),
   * `connId`, `recipient`, `dataset`, `file` (a gateway-made file name).
   */
  readonly refs?: Readonly<Record<string, string>>;
  /** Non-personal details: sizes, counts, reason codes. Never record contents or secrets. */
  readonly details?: Readonly<Record<string, string | number | boolean | null>>;
}

export interface AuditReceipt {
  /** Zero-based leaf index of the entry in the Merkle tree. */
  readonly index: number;
  /** Hex SHA-256 leaf hash. */
  readonly leafHash: string;
}

/**
 * The one interface producers use. `append` resolves only once the entry is durable (fsynced):
 * the answer that depends on it must wait for it. Appends from concurrent callers may share
 * one fsync (group commit).
 */
export interface AuditSink {
  append(event: AuditEvent): Promise<AuditReceipt>;
  /** Several entries in one durable transaction (all or none), in order. */
  appendAll(events: readonly AuditEvent[]): Promise<AuditReceipt[]>;
}
