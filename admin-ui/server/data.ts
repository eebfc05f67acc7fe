/**
 * What the admin pages read, and nothing else. `AdminData` is the read interface of the UI;
 * `createAdminData` builds it over the configuration (register, parties) and an `AuditReader`
 * (the audit trail). The state store (uploads, deliveries) does not exist yet, so the dashboard
 * and the transfer chain are derived from audit entries: the audit trail records every step of
 * an upload, which is exactly what the DPO reviews.
 */
import type { AuditActor, AuditOutcome } from '../../gateway/audit/events.js';
import type { ConfigSource } from '../../gateway/config/model.js';
import { buildRegister, type RegisterRow } from './register.js';
import { buildParties, type PartyView } from './parties.js';
import { buildDashboard, type DashboardStats } from './dashboard.js';
import { buildTransfer, type TransferChain } from './transfer.js';
import { DELIVERY_DOWNLOADED, DELIVERY_PUBLISHED, deliveryKey } from './event-types.js';

export type { RegisterRow, PartyView, DashboardStats, TransferChain };

/** One audit entry as the UI shows it. Every string field is attacker-influenced data. */
export interface AuditEntryView {
  readonly index: number;
  /** ISO 8601 UTC. */
  readonly time: string;
  readonly type: string;
  readonly actor: AuditActor;
  readonly outcome: AuditOutcome;
  readonly refs: Readonly<Record<string, string>>;
  readonly details: Readonly<Record<string, string | number | boolean | null>>;
  /** Hex SHA-256 leaf hash. */
  readonly leafHash: string;
}

export interface AuditFilter {
  /** ISO 8601, inclusive. */
  readonly from?: string;
  /** ISO 8601, exclusive. */
  readonly to?: string;
  readonly type?: string;
  /** Actor id (party or admin user). */
  readonly actor?: string;
  readonly outcome?: AuditOutcome;
  readonly uploadId?: string;
  readonly limit?: number;
  readonly offset?: number;
}

export interface CheckpointView {
  readonly origin: string;
  readonly size: number;
  /** Base64 root hash, as in the note. */
  readonly rootHash: string;
  /** The whole signed note (C2SP tlog-checkpoint), exactly as signed. */
  readonly note: string;
}

export interface InclusionProofView {
  readonly index: number;
  readonly treeSize: number;
  /** Hex SHA-256 of 0x00 ‖ entry bytes. */
  readonly leafHash: string;
  /** Base64 canonical entry bytes, when still held (details purged past retention: absent). */
  readonly entryBytes?: string;
  /** Hex audit path, leaf to root. */
  readonly hashes: readonly string[];
  /** The signed checkpoint note the proof is against (treeSize = its size). */
  readonly checkpoint: string;
}

export interface VerifyOutcome {
  readonly ok: boolean;
  readonly entries: number;
  /** First entry that does not match, when not ok. */
  readonly firstBad?: number;
  readonly message?: string;
}

/** The audit trail as the UI needs it; implemented over the gateway's AuditLog. */
export interface AuditReader {
  query(filter: AuditFilter): Promise<readonly AuditEntryView[]>;
  count(filter: AuditFilter): Promise<number>;
  latestCheckpoint(): Promise<CheckpointView | null>;
  prove(index: number): Promise<InclusionProofView>;
  verify(): Promise<VerifyOutcome>;
  /** Note verifier key "<name>+<hex key id>+<base64(0x01 ‖ Ed25519 public key)>". */
  verifierKey(): string;
}

export interface CheckpointStatus {
  readonly checkpoint: CheckpointView;
  readonly verify: VerifyOutcome;
}

/** Everything the admin pages read. */
export interface AdminData {
  dashboard(now: Date): Promise<DashboardStats>;
  auditQuery(filter: AuditFilter): Promise<readonly AuditEntryView[]>;
  auditCount(filter: AuditFilter): Promise<number>;
  transfer(uploadId: string): Promise<TransferChain | null>;
  register(now: Date): readonly RegisterRow[];
  parties(now: Date): Promise<readonly PartyView[]>;
  latestCheckpoint(): Promise<CheckpointStatus | null>;
  checkpointVerifierKey(): string;
  proof(index: number): Promise<InclusionProofView>;
}

/** Pages of this size are read when a view scans the trail (dashboard, transfer, export). */
export const SCAN_PAGE = 500;

/** Every entry matching `filter`, page by page, so a scan never holds the whole trail. */
export async function* scanAudit(reader: Pick<AuditReader, 'query'>, filter: AuditFilter): AsyncGenerator<AuditEntryView> {
  for (let offset = 0; ; offset += SCAN_PAGE) {
    const page = await reader.query({ ...filter, limit: SCAN_PAGE, offset });
    yield* page;
    if (page.length < SCAN_PAGE) return;
  }
}

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/** Milliseconds encoded in the first 10 characters of a gateway ULID, or null. */
export function ulidTime(id: string): number | null {
  if (!/^[0-9a-hjkmnp-tv-z]{26}$/.test(id)) return null;
  let t = 0;
  for (const c of id.slice(0, 10)) t = t * 32 + CROCKFORD.indexOf(c);
  return t;
}

export function createAdminData(deps: { config: ConfigSource; audit: AuditReader; dashboardDays?: number }): AdminData {
  const { config, audit } = deps;
  const days = deps.dashboardDays ?? 14;
  return {
    async dashboard(now) {
      const from = new Date(now.getTime() - days * 86_400_000).toISOString();
      const status = await this.latestCheckpoint();
      return buildDashboard(scanAudit(audit, { from }), now, status);
    },
    auditQuery: (f) => audit.query(f),
    auditCount: (f) => audit.count(f),
    async transfer(uploadId) {
      const entries: AuditEntryView[] = [];
      for await (const e of scanAudit(audit, { uploadId })) entries.push(e);
      if (!entries.length) return null;
      // sftp/ records the commit with refs.upload (not uploadId): look for it between the
      // upload's creation (the time in its ULID) and its first entry.
      const made = ulidTime(uploadId);
      const first = entries.reduce((a, e) => (e.time < a ? e.time : a), entries[0]!.time);
      if (made !== null) {
        for await (const e of scanAudit(audit, { type: 'sftp.upload.committed', from: new Date(made - 1000).toISOString(), to: new Date(Date.parse(first) + 1000).toISOString() })) {
          if ((e.refs['uploadId'] ?? e.refs['upload']) === uploadId && !entries.some((x) => x.index === e.index)) entries.push(e);
        }
      }
      // Downloads are recorded by recipient and file name, not by upload: find them per delivery.
      const seen = new Set(entries.map((e) => e.index));
      for (const p of entries.filter((e) => DELIVERY_PUBLISHED.has(e.type))) {
        const key = deliveryKey(p);
        const recipient = p.refs['recipient'] ?? p.details['recipient'];
        if (!key || typeof recipient !== 'string') continue;
        for (const type of DELIVERY_DOWNLOADED) {
          for await (const d of scanAudit(audit, { type, actor: recipient, from: p.time })) {
            if (deliveryKey(d) === key && !seen.has(d.index)) {
              seen.add(d.index);
              entries.push(d);
            }
          }
        }
      }
      return buildTransfer(uploadId, entries);
    },
    register: (now) => buildRegister(config.current(), now),
    parties: (now) => buildParties(config.current(), now),
    async latestCheckpoint() {
      const checkpoint = await audit.latestCheckpoint();
      if (!checkpoint) return null;
      return { checkpoint, verify: await audit.verify() };
    },
    checkpointVerifierKey: () => audit.verifierKey(),
    proof: (index) => audit.prove(index),
  };
}
