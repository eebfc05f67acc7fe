/**
 * The state database: uploads and deliveries, the facts the commit protocol and recovery rely
 * on. SQLite in WAL mode. Every write commits when called; the decisions and delivery states the
 * commit protocol and recovery rely on return a promise that resolves once they are on disk (the
 * WAL fdatasynced off the event loop, store/wal-sync.ts), so forgetting to wait for one is a
 * lint error, not a silent loss at the next power cut. Kept behind this small interface so a
 * PostgreSQL store can replace it for several gateway nodes.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { WAL_NORMAL_PRAGMAS, walSync } from './wal-sync.js';

export type UploadState = 'receiving' | 'committed' | 'accepted' | 'rejected' | 'duplicate' | 'failed';
export type DeliveryState = 'published' | 'downloaded' | 'deleted' | 'expired';

export interface UploadRow {
  readonly id: string;
  readonly partner: string;
  readonly dataset: string;
  readonly clientName: string;
  readonly source: string;
  readonly state: UploadState;
  readonly sha256: string | null;
  readonly size: number | null;
  readonly receivedAt: string;
  readonly decidedAt: string | null;
  readonly code: string | null;
  readonly message: string | null;
  readonly receipt: string | null;
}

export interface DeliveryRow {
  readonly id: string;
  readonly uploadId: string;
  readonly recipient: string;
  readonly dataset: string;
  readonly fileName: string;
  readonly records: number;
  readonly sha256: string;
  readonly size: number;
  readonly publishedAt: string;
  readonly expiresAt: string;
  readonly state: DeliveryState;
  readonly downloadedAt: string | null;
}

export interface StateStore {
  recordUpload(u: { id: string; partner: string; dataset: string; clientName: string; source: string; receivedAt: string }): void;
  /** The name an upload still being received was committed under (a temporary name renamed onto its final one). */
  nameUpload(id: string, clientName: string): void;
  /**
   * The final state of an upload; for `accepted`, its deliveries in the same transaction.
   * Committed when called; resolves once on disk.
   */
  decide(uploadId: string, d: { state: Exclude<UploadState, 'receiving'>; sha256: string | null; size: number | null; decidedAt: string; code?: string | null; message?: string | null; receipt?: string | null }, deliveries?: readonly DeliveryRow[]): Promise<void>;
  getUpload(id: string): UploadRow | undefined;
  /** An accepted upload of the same partner and dataset with these exact bytes. */
  findAccepted(partner: string, dataset: string, sha256: string): UploadRow | undefined;
  uploadsInState(state: UploadState): UploadRow[];
  deliveriesOf(uploadId: string): DeliveryRow[];
  deliveryByFile(recipient: string, dataset: string, fileName: string): DeliveryRow | undefined;
  /** Committed when called; resolves once on disk. */
  setDeliveryState(id: string, state: DeliveryState, at: string): Promise<void>;
  expiredDeliveries(now: string): DeliveryRow[];
  recentUploads(limit: number): UploadRow[];
  close(): Promise<void>;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS uploads (
  id TEXT PRIMARY KEY, partner TEXT NOT NULL, dataset TEXT NOT NULL, client_name TEXT NOT NULL,
  source TEXT NOT NULL, state TEXT NOT NULL, sha256 TEXT, size INTEGER, received_at TEXT NOT NULL,
  decided_at TEXT, code TEXT, message TEXT, receipt TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS uploads_dup ON uploads(partner, dataset, sha256) WHERE state = 'accepted';
CREATE INDEX IF NOT EXISTS uploads_state ON uploads(state);
CREATE TABLE IF NOT EXISTS deliveries (
  id TEXT PRIMARY KEY, upload_id TEXT NOT NULL REFERENCES uploads(id), recipient TEXT NOT NULL,
  dataset TEXT NOT NULL, file_name TEXT NOT NULL, records INTEGER NOT NULL, sha256 TEXT NOT NULL,
  size INTEGER NOT NULL, published_at TEXT NOT NULL, expires_at TEXT NOT NULL, state TEXT NOT NULL,
  downloaded_at TEXT, UNIQUE(recipient, dataset, file_name)
) STRICT;
CREATE INDEX IF NOT EXISTS deliveries_upload ON deliveries(upload_id);
CREATE INDEX IF NOT EXISTS deliveries_expiry ON deliveries(expires_at) WHERE state IN ('published', 'downloaded');
`;

interface UploadDb {
  id: string; partner: string; dataset: string; client_name: string; source: string; state: UploadState;
  sha256: string | null; size: number | null; received_at: string; decided_at: string | null;
  code: string | null; message: string | null; receipt: string | null;
}
interface DeliveryDb {
  id: string; upload_id: string; recipient: string; dataset: string; file_name: string; records: number;
  sha256: string; size: number; published_at: string; expires_at: string; state: DeliveryState; downloaded_at: string | null;
}

const toUpload = (r: UploadDb): UploadRow => ({
  id: r.id, partner: r.partner, dataset: r.dataset, clientName: r.client_name, source: r.source, state: r.state,
  sha256: r.sha256, size: r.size, receivedAt: r.received_at, decidedAt: r.decided_at, code: r.code,
  message: r.message, receipt: r.receipt,
});
const toDelivery = (r: DeliveryDb): DeliveryRow => ({
  id: r.id, uploadId: r.upload_id, recipient: r.recipient, dataset: r.dataset, fileName: r.file_name,
  records: r.records, sha256: r.sha256, size: r.size, publishedAt: r.published_at, expiresAt: r.expires_at,
  state: r.state, downloadedAt: r.downloaded_at,
});

export function openStateStore(dir: string): StateStore {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'state.db');
  const db = new Database(file);
  for (const p of WAL_NORMAL_PRAGMAS) db.pragma(p);
  db.pragma('foreign_keys = ON');
  db.exec(SCHEMA);
  const wal = walSync(file);

  const insertUpload = db.prepare(
    `INSERT INTO uploads (id, partner, dataset, client_name, source, state, received_at)
     VALUES (@id, @partner, @dataset, @clientName, @source, 'receiving', @receivedAt)`,
  );
  const renameUpload = db.prepare(`UPDATE uploads SET client_name = ? WHERE id = ? AND state = 'receiving'`);
  const updateUpload = db.prepare(
    `UPDATE uploads SET state = @state, sha256 = @sha256, size = @size, decided_at = @decidedAt,
       code = @code, message = @message, receipt = @receipt WHERE id = @id`,
  );
  const insertDelivery = db.prepare(
    `INSERT INTO deliveries (id, upload_id, recipient, dataset, file_name, records, sha256, size, published_at, expires_at, state)
     VALUES (@id, @uploadId, @recipient, @dataset, @fileName, @records, @sha256, @size, @publishedAt, @expiresAt, 'published')`,
  );
  const decideTx = db.transaction((id: string, d: Parameters<StateStore['decide']>[1], deliveries: readonly DeliveryRow[]) => {
    const res = updateUpload.run({ id, state: d.state, sha256: d.sha256, size: d.size, decidedAt: d.decidedAt, code: d.code ?? null, message: d.message ?? null, receipt: d.receipt ?? null });
    if (res.changes !== 1) throw new Error(`unknown upload ${id}`);
    for (const del of deliveries) insertDelivery.run(del);
  });
  const getUpload = db.prepare<[string], UploadDb>('SELECT * FROM uploads WHERE id = ?');
  const findAccepted = db.prepare<[string, string, string], UploadDb>(
    `SELECT * FROM uploads WHERE partner = ? AND dataset = ? AND sha256 = ? AND state = 'accepted' LIMIT 1`,
  );
  const inState = db.prepare<[string], UploadDb>('SELECT * FROM uploads WHERE state = ? ORDER BY id');
  const deliveriesOf = db.prepare<[string], DeliveryDb>('SELECT * FROM deliveries WHERE upload_id = ? ORDER BY recipient');
  const byFile = db.prepare<[string, string, string], DeliveryDb>(
    'SELECT * FROM deliveries WHERE recipient = ? AND dataset = ? AND file_name = ?',
  );
  const setState = db.prepare(
    `UPDATE deliveries SET state = @state,
       downloaded_at = CASE WHEN @state = 'downloaded' AND downloaded_at IS NULL THEN @at ELSE downloaded_at END
     WHERE id = @id`,
  );
  const expired = db.prepare<[string], DeliveryDb>(
    `SELECT * FROM deliveries WHERE expires_at <= ? AND state IN ('published', 'downloaded') ORDER BY expires_at`,
  );
  const recent = db.prepare<[number], UploadDb>('SELECT * FROM uploads ORDER BY id DESC LIMIT ?');

  return {
    recordUpload: (u) => void insertUpload.run(u),
    nameUpload: (id, clientName) => void renameUpload.run(clientName, id),
    decide: (id, d, deliveries = []) => wal.durably(() => decideTx(id, d, deliveries)),
    getUpload: (id) => {
      const r = getUpload.get(id);
      return r && toUpload(r);
    },
    findAccepted: (p, ds, sha) => {
      const r = findAccepted.get(p, ds, sha);
      return r && toUpload(r);
    },
    uploadsInState: (s) => inState.all(s).map(toUpload),
    deliveriesOf: (id) => deliveriesOf.all(id).map(toDelivery),
    deliveryByFile: (r, ds, f) => {
      const row = byFile.get(r, ds, f);
      return row && toDelivery(row);
    },
    setDeliveryState: (id, state, at) => wal.durably(() => void setState.run({ id, state, at })),
    expiredDeliveries: (now) => expired.all(now).map(toDelivery),
    recentUploads: (limit) => recent.all(limit).map(toUpload),
    close: async () => {
      await wal.close();
      if (db.open) db.close();
    },
  };
}
