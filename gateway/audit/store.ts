/**
 * Where the audit trail lives. `AuditStore` is the one small interface the log needs (a
 * PostgreSQL store for several gateway nodes can implement it later); `openSqliteAuditStore` is
 * the embedded default: SQLite in WAL mode; a write resolves once its transaction is on disk
 * (the WAL fdatasynced off the event loop, store/wal-sync.ts).
 *
 * Tables: `entries` (one row per leaf: canonical body, stored leaf hash, a few columns copied out
 * of the body for queries), `nodes` (every complete interior subtree hash, keyed by (level,
 * index), so append and proofs are O(log n) reads), `checkpoints` (signed notes, in order),
 * `meta` (origin, verifier key).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayError } from '../errors.js';
import { WAL_NORMAL_PRAGMAS, walSync, type WalSync } from '../store/wal-sync.js';
import type { NodeId } from './merkle.js';

export interface StoredEntry {
  readonly seq: number;
  /** Canonical JSON of the entry (see entry.ts); of the purged form once purged. */
  readonly body: string;
  readonly leafHash: Buffer;
  readonly purged: boolean;
}

export interface StoredEntryBytes {
  readonly seq: number;
  readonly body: Buffer;
  readonly leafHash: Buffer;
  readonly purged: boolean;
}

export interface NewEntry {
  readonly seq: number;
  readonly time: string;
  readonly type: string;
  readonly actor: string | null;
  readonly outcome: string;
  readonly uploadId: string | null;
  readonly body: string;
  readonly leafHash: Buffer;
}

export interface AppendBatch {
  readonly entries: readonly NewEntry[];
  readonly nodes: readonly { readonly id: NodeId; readonly hash: Buffer }[];
}

export interface StoredCheckpoint {
  readonly size: number;
  readonly time: string;
  readonly note: string;
}

export interface EntryFilter {
  readonly from?: string; // RFC 3339, inclusive
  readonly to?: string; // RFC 3339, exclusive
  readonly type?: string; // exact, or a prefix ending in ".*"
  readonly actor?: string;
  readonly outcome?: string;
  readonly uploadId?: string;
  readonly limit?: number;
  readonly offset?: number;
}

export interface AuditStore {
  /**
   * One durable transaction: reads the current tree size, lets `build` lay out the batch (it may
   * read the nodes of perfectSubtrees(0, size) through `node`), writes it and commits. All or none.
   */
  append(build: (size: number, node: (id: NodeId) => Buffer) => AppendBatch): Promise<AppendBatch>;
  size(): Promise<number>;
  /** Stored subtree hashes (level 0 = leaf hashes); throws if one is missing. */
  nodes(ids: readonly NodeId[]): Promise<Buffer[]>;
  entry(seq: number): Promise<StoredEntry | undefined>;
  /** Entries in seq order, in chunks (bounded memory). */
  entries(from?: number, chunk?: number): AsyncIterable<StoredEntry[]>;
  /** Entries in seq order with the body as UTF-8 bytes, for verify (no string round trip). */
  entryBytes(from?: number, chunk?: number): AsyncIterable<StoredEntryBytes[]>;
  query(filter: EntryFilter): Promise<StoredEntry[]>;
  count(filter?: EntryFilter): Promise<number>;
  /** Entries with time < before that are not purged yet (at most `limit`). */
  expired(before: string, limit: number): Promise<StoredEntry[]>;
  /** Replaces bodies by their purged form; the leaf hash stays. */
  purge(rows: readonly { seq: number; body: string }[]): Promise<void>;
  /**
   * In one transaction (so two processes never store checkpoints out of order): reads the size
   * and the latest checkpoint, lets `make` sign a new one (or return undefined), stores it.
   */
  addCheckpoint(
    make: (size: number, latest: StoredCheckpoint | undefined, node: (id: NodeId) => Buffer) => StoredCheckpoint | undefined,
  ): Promise<StoredCheckpoint | undefined>;
  checkpoints(): Promise<StoredCheckpoint[]>;
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  seq INTEGER PRIMARY KEY, time TEXT NOT NULL, type TEXT NOT NULL, actor TEXT, outcome TEXT NOT NULL,
  upload_id TEXT, body TEXT NOT NULL, leaf_hash BLOB NOT NULL, purged INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS entries_time ON entries(time);
CREATE INDEX IF NOT EXISTS entries_type ON entries(type);
CREATE INDEX IF NOT EXISTS entries_actor ON entries(actor);
CREATE INDEX IF NOT EXISTS entries_upload ON entries(upload_id);
CREATE TABLE IF NOT EXISTS nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (id INTEGER PRIMARY KEY, size INTEGER NOT NULL, time TEXT NOT NULL, note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

export const AUDIT_DB_FILE = 'audit.sqlite';

type Row = { seq: number; body: string; leaf_hash: Buffer; purged: number };
const toEntry = (r: Row): StoredEntry => ({ seq: r.seq, body: r.body, leafHash: r.leaf_hash, purged: r.purged === 1 });

function where(f: EntryFilter): { sql: string; params: unknown[] } {
  const c: string[] = [];
  const p: unknown[] = [];
  const add = (sql: string, ...params: unknown[]): void => {
    c.push(sql);
    p.push(...params);
  };
  if (f.from !== undefined) add('time >= ?', f.from);
  if (f.to !== undefined) add('time < ?', f.to);
  if (f.type !== undefined) {
    // "sftp.*" → 'sftp.' <= type < 'sftp/' ('/' follows '.'): a range the type index can serve.
    if (f.type.endsWith('.*')) add('type >= ? AND type < ?', f.type.slice(0, -1), `${f.type.slice(0, -2)}/`);
    else add('type = ?', f.type);
  }
  if (f.actor !== undefined) add('actor = ?', f.actor);
  if (f.outcome !== undefined) add('outcome = ?', f.outcome);
  if (f.uploadId !== undefined) add('upload_id = ?', f.uploadId);
  return { sql: c.length ? ` WHERE ${c.join(' AND ')}` : '', params: p };
}

/** Opens (creating if needed) `<dir>/audit.sqlite`. `readonly` opens without writing anything. */
export function openSqliteAuditStore(dir: string, options: { readonly?: boolean } = {}): AuditStore {
  const readonly = options.readonly === true;
  if (!readonly) mkdirSync(dir, { recursive: true, mode: 0o700 });
  let db: Database.Database;
  try {
    db = new Database(join(dir, AUDIT_DB_FILE), { readonly, fileMustExist: readonly });
  } catch (e) {
    throw new GatewayError('CONFIG_UNREADABLE', `base d'audit illisible dans ${dir}`, { dir }, { cause: e });
  }
  let wal: WalSync | undefined;
  if (!readonly) {
    for (const p of WAL_NORMAL_PRAGMAS) db.pragma(p);
    db.exec(SCHEMA);
    wal = walSync(join(dir, AUDIT_DB_FILE));
  }
  db.pragma('busy_timeout = 5000');
  /** Runs a write transaction, then waits until it is on disk (a read-only store refuses it first). */
  const durably = <T>(write: () => T): Promise<T> => (wal ? wal.durably(write) : Promise.resolve().then(write));

  const st = {
    size: db.prepare('SELECT coalesce(max(seq) + 1, 0) AS n FROM entries').pluck(),
    leaf: db.prepare('SELECT leaf_hash FROM entries WHERE seq = ?').pluck(),
    node: db.prepare('SELECT hash FROM nodes WHERE level = ? AND idx = ?').pluck(),
    insEntry: readonly ? undefined : db.prepare('INSERT INTO entries (seq, time, type, actor, outcome, upload_id, body, leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    insNode: readonly ? undefined : db.prepare('INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)'),
    entry: db.prepare('SELECT seq, body, leaf_hash, purged FROM entries WHERE seq = ?'),
    chunk: db.prepare('SELECT seq, body, leaf_hash, purged FROM entries WHERE seq >= ? ORDER BY seq LIMIT ?'),
    chunkBytes: db.prepare('SELECT seq, CAST(body AS BLOB), leaf_hash, purged FROM entries WHERE seq >= ? ORDER BY seq LIMIT ?').raw(),
    expired: db.prepare('SELECT seq, body, leaf_hash, purged FROM entries WHERE time < ? AND purged = 0 ORDER BY seq LIMIT ?'),
    purge: readonly ? undefined : db.prepare('UPDATE entries SET body = ?, actor = NULL, upload_id = NULL, purged = 1 WHERE seq = ?'),
    insCheckpoint: readonly ? undefined : db.prepare('INSERT INTO checkpoints (size, time, note) VALUES (?, ?, ?)'),
    checkpoints: db.prepare('SELECT size, time, note FROM checkpoints ORDER BY id'),
    latest: db.prepare('SELECT size, time, note FROM checkpoints ORDER BY id DESC LIMIT 1'),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
    setMeta: readonly ? undefined : db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
  };
  const writable = <T>(s: T | undefined): T => {
    if (s === undefined) throw new GatewayError('GATEWAY_FAILURE', 'base d\'audit ouverte en lecture seule');
    return s;
  };

  const node = (id: NodeId): Buffer => {
    const h = (id.level === 0 ? st.leaf.get(id.index) : st.node.get(id.level, id.index)) as Buffer | undefined;
    if (!h) throw new GatewayError('AUDIT_ENTRY_MISMATCH', `nœud (${id.level}, ${id.index}) absent de la base d'audit`, { level: id.level, index: id.index });
    return h;
  };

  const appendTx = db.transaction((build: (size: number, node: (id: NodeId) => Buffer) => AppendBatch): AppendBatch => {
    const batch = build(st.size.get() as number, node);
    const insEntry = writable(st.insEntry);
    const insNode = writable(st.insNode);
    for (const e of batch.entries) insEntry.run(e.seq, e.time, e.type, e.actor, e.outcome, e.uploadId, e.body, e.leafHash);
    for (const n of batch.nodes) insNode.run(n.id.level, n.id.index, n.hash);
    return batch;
  });
  const checkpointTx = db.transaction((make: Parameters<AuditStore['addCheckpoint']>[0]): StoredCheckpoint | undefined => {
    const c = make(st.size.get() as number, st.latest.get() as StoredCheckpoint | undefined, node);
    if (c) writable(st.insCheckpoint).run(c.size, c.time, c.note);
    return c;
  });
  const purgeTx = db.transaction((rows: readonly { seq: number; body: string }[]) => {
    for (const r of rows) writable(st.purge).run(r.body, r.seq);
  });

  return {
    // IMMEDIATE: take the write lock before reading the size, so two processes never race.
    append: (build) => durably(() => appendTx.immediate(build)),
    size: async () => st.size.get() as number,
    nodes: async (ids) => ids.map(node),
    entry: async (seq) => {
      const r = st.entry.get(seq) as Row | undefined;
      return r && toEntry(r);
    },
    async *entries(from = 0, chunk = 10_000) {
      let next = from;
      for (;;) {
        const rows = (st.chunk.all(next, chunk) as Row[]).map(toEntry);
        if (rows.length === 0) return;
        next = rows[rows.length - 1]!.seq + 1;
        yield rows;
      }
    },
    async *entryBytes(from = 0, chunk = 20_000) {
      let next = from;
      for (;;) {
        const rows = (st.chunkBytes.all(next, chunk) as [number, Buffer, Buffer, number][]).map(([seq, body, leafHash, purged]) => ({ seq, body, leafHash, purged: purged === 1 }));
        if (rows.length === 0) return;
        next = rows[rows.length - 1]!.seq + 1;
        yield rows;
      }
    },
    query: async (f) => {
      const w = where(f);
      const limit = Math.min(Math.max(f.limit ?? 1000, 0), 100_000);
      const offset = Math.max(f.offset ?? 0, 0);
      return (db.prepare(`SELECT seq, body, leaf_hash, purged FROM entries${w.sql} ORDER BY seq LIMIT ? OFFSET ?`).all(...w.params, limit, offset) as Row[]).map(toEntry);
    },
    count: async (f = {}) => {
      const w = where(f);
      return db.prepare(`SELECT count(*) FROM entries${w.sql}`).pluck().get(...w.params) as number;
    },
    expired: async (before, limit) => (st.expired.all(before, limit) as Row[]).map(toEntry),
    purge: (rows) => durably(() => purgeTx.immediate(rows)),
    addCheckpoint: (make) => durably(() => checkpointTx.immediate(make)),
    checkpoints: async () => st.checkpoints.all() as StoredCheckpoint[],
    latestCheckpoint: async () => st.latest.get() as StoredCheckpoint | undefined,
    getMeta: async (key) => st.getMeta.get(key) as string | undefined,
    setMeta: (key, value) => durably(() => void writable(st.setMeta).run(key, value)),
    close: async () => {
      await wal?.close();
      if (db.open) db.close();
    },
  };
}
