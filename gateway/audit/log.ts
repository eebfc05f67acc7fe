/**
 * The audit log: the AuditSink the gateway writes to, with group commit, periodic signed
 * checkpoints, proofs, queries and retention. The math is in merkle.ts, the bytes in entry.ts,
 * the notes in checkpoint.ts, the storage behind AuditStore.
 *
 * Group commit: appends are queued and flushed from a setImmediate callback; everything queued
 * by then goes into ONE transaction (one fsync). better-sqlite3 is synchronous, so appends that
 * arrive while a flush runs are simply queued for the next one.
 */
import type { Logger } from '../log.js';
import { GatewayError } from '../errors.js';
import type { AuditEvent, AuditReceipt, AuditSink } from './events.js';
import { entryJson, makeEntry, parseEntry, purgedEntry, type AuditEntry } from './entry.js';
import { CompactRange, inclusionRanges, leafHash, perfectSubtrees, proofHashes, foldSubtrees, type NodeId } from './merkle.js';
import { signCheckpoint } from './checkpoint.js';
import { formatVerifierKey, type SignerKey } from './notekey.js';
import { loadOrCreateSignerKey, readSignerKeyFile } from './keyfile.js';
import { openSqliteAuditStore, type AuditStore, type EntryFilter, type NewEntry, type StoredCheckpoint } from './store.js';

export interface AuditQuery {
  readonly from?: string | Date;
  readonly to?: string | Date;
  readonly type?: string;
  readonly actor?: string;
  readonly outcome?: string;
  readonly uploadId?: string;
  readonly limit?: number;
  readonly offset?: number;
}

/** An entry as read back: the entry (purged fields are null), its leaf hash (hex), purge flag. */
export interface AuditRecord {
  readonly entry: AuditEntry;
  readonly leafHash: string;
  readonly purged: boolean;
}

/** What `passerelle audit prove N` prints and `verify-proof` checks offline. */
export interface InclusionBundle {
  readonly entry: AuditEntry;
  readonly leafHash: string; // hex
  readonly index: number;
  readonly treeSize: number;
  readonly inclusionProof: readonly string[]; // hex, RFC 9162 order
  readonly checkpoint: string; // signed note text
}

/** Read-only view for the admin UI and exports. */
export interface AuditReader {
  count(filter?: AuditQuery): Promise<number>;
  query(filter: AuditQuery): Promise<AuditRecord[]>;
  /** Every matching record in seq order, in chunks (exports of any size in bounded memory). */
  iterate(filter: AuditQuery): AsyncIterable<AuditRecord>;
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  /** Inclusion proof of entry `index` against the latest checkpoint that covers it. */
  prove(index: number): Promise<InclusionBundle>;
  close(): Promise<void>;
}

export interface AuditLog extends AuditSink, AuditReader {
  /** Signs and stores a checkpoint now if the tree grew since the last one; returns the latest. */
  checkpoint(): Promise<StoredCheckpoint | undefined>;
  /** Purges the details of entries older than the retention; records the purge; returns the count. */
  purgeExpired(now?: Date): Promise<number>;
  /** The checkpoint verifier key in note format, for auditors (null if this process cannot sign). */
  readonly verifierKey: string | null;
  /** Flushes, signs a final checkpoint, closes the store. */
  close(): Promise<void>;
}

export interface AuditLogOptions {
  readonly dir: string;
  /** Checkpoint origin line, e.g. "grand-nancy.passerelle.example/audit". */
  readonly origin: string;
  /**
   * Signer key file (PRIVATE+KEY+…), created (0600, named after the origin, with a .pub beside it)
   * if missing; null: this process never signs (a CLI without the key, next to a running gateway).
   */
  readonly checkpointKeyFile: string | null;
  readonly checkpointIntervalMs: number;
  readonly log: Logger;
  readonly now?: () => Date;
  /** Default 365 days. */
  readonly retentionDays?: number;
  /** false: a missing key file is an error instead of a new key (the CLI must never mint one). */
  readonly createKey?: boolean;
  /** Demo mode accepts a checkpoint key file that is not 0600. */
  readonly demo?: boolean;
  /** Another store (PostgreSQL later); default SQLite in `dir`. */
  readonly store?: AuditStore;
}

const DAY_MS = 86_400_000;

function toFilter(q: AuditQuery): EntryFilter {
  const t = (v: string | Date | undefined): string | undefined => (v instanceof Date ? v.toISOString() : v);
  return { ...q, from: t(q.from), to: t(q.to) };
}

function toRecord(r: { body: string; leafHash: Buffer; purged: boolean }): AuditRecord {
  return { entry: parseEntry(r.body), leafHash: r.leafHash.toString('hex'), purged: r.purged };
}

interface Pending {
  readonly entries: AuditEntry[];
  readonly receipts: AuditReceipt[];
  readonly resolve: (r: AuditReceipt[]) => void;
  readonly reject: (e: unknown) => void;
}

/** Read-only access (admin UI): never writes, never signs. */
export function openAuditReader(dir: string, store: AuditStore = openSqliteAuditStore(dir, { readonly: true })): AuditReader {
  return readerOn(store);
}

function readerOn(store: AuditStore, beforeProve?: (index: number) => Promise<void>): AuditReader {
  const node = async (ids: readonly NodeId[]): Promise<Buffer[]> => store.nodes(ids);
  return {
    count: (f = {}) => store.count(toFilter(f)),
    query: async (f) => (await store.query(toFilter(f))).map(toRecord),
    async *iterate(f) {
      const page = 5000;
      const base = toFilter(f);
      const max = f.limit ?? Number.MAX_SAFE_INTEGER;
      let offset = f.offset ?? 0;
      let sent = 0;
      while (sent < max) {
        const rows = await store.query({ ...base, offset, limit: Math.min(page, max - sent) });
        for (const r of rows) yield toRecord(r);
        if (rows.length === 0) return;
        sent += rows.length;
        offset += rows.length;
      }
    },
    latestCheckpoint: () => store.latestCheckpoint(),
    async prove(index) {
      if (beforeProve) await beforeProve(index);
      const stored = await store.entry(index);
      if (!stored) throw new GatewayError('AUDIT_PROOF_INVALID', `pas d'entrée n° ${index}`, { index });
      const cp = await store.latestCheckpoint();
      if (!cp || cp.size <= index) throw new GatewayError('AUDIT_PROOF_INVALID', `aucun checkpoint ne couvre encore l'entrée n° ${index}`, { index });
      const ranges = inclusionRanges(index, cp.size);
      const ids = ranges.flatMap((r) => perfectSubtrees(r.start, r.end));
      const got = new Map<string, Buffer>();
      (await node(ids)).forEach((h, i) => got.set(`${ids[i]!.level}/${ids[i]!.index}`, h));
      const proof = proofHashes(ranges, (id) => got.get(`${id.level}/${id.index}`)!);
      const bundle: InclusionBundle = {
        entry: parseEntry(stored.body),
        leafHash: stored.leafHash.toString('hex'),
        index,
        treeSize: cp.size,
        inclusionProof: proof.map((p) => p.toString('hex')),
        checkpoint: cp.note,
      };
      return bundle;
    },
    close: () => store.close(),
  };
}

export async function openAuditLog(opts: AuditLogOptions): Promise<AuditLog> {
  const now = opts.now ?? (() => new Date());
  const retentionDays = opts.retentionDays ?? 365;
  let signer: SignerKey | null = null;
  if (opts.checkpointKeyFile !== null) {
    const got = opts.createKey === false
      ? { key: readSignerKeyFile(opts.checkpointKeyFile, { demo: opts.demo === true }), created: false }
      : loadOrCreateSignerKey(opts.checkpointKeyFile, opts.origin, { demo: opts.demo === true });
    if (got.created) opts.log.warn({ file: opts.checkpointKeyFile }, 'audit checkpoint key created: give its .pub to the auditors');
    signer = got.key;
  }
  const store = opts.store ?? openSqliteAuditStore(opts.dir);
  const storedOrigin = await store.getMeta('origin');
  if (storedOrigin === undefined) await store.setMeta('origin', opts.origin);
  else if (storedOrigin !== opts.origin) {
    await store.close();
    throw new GatewayError('CONFIG_INVALID', `le journal d'audit a pour origine ${JSON.stringify(storedOrigin)}, la configuration ${JSON.stringify(opts.origin)}`);
  }
  if (signer) await store.setMeta('verifierKey', formatVerifierKey(signer));

  let range = CompactRange.empty();
  let queue: Pending[] = [];
  let scheduled = false;
  let flushing: Promise<void> | null = null;
  let closed = false;

  const flush = async (): Promise<void> => {
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    let next = range;
    try {
      await store.append((size, node) => {
        next = range.size === size ? range.clone() : CompactRange.load(size, node);
        const entries: NewEntry[] = [];
        const nodes: { id: NodeId; hash: Buffer }[] = [];
        for (const p of batch) {
          p.receipts.length = 0; // a retried build starts over
          for (const queued of p.entries) {
            const entry = { ...queued, seq: next.size };
            const body = entryJson(entry);
            const leaf = leafHash(Buffer.from(body, 'utf8'));
            nodes.push(...next.append(leaf));
            p.receipts.push({ index: entry.seq, leafHash: leaf.toString('hex') });
            entries.push({
              seq: entry.seq, time: entry.time, type: entry.type, actor: entry.actor?.id ?? null,
              outcome: entry.outcome, uploadId: entry.refs?.['uploadId'] ?? null, body, leafHash: leaf,
            });
          }
        }
        return { entries, nodes };
      });
    } catch (e) {
      opts.log.error({ err: e, entries: batch.length }, 'audit append failed');
      for (const p of batch) p.reject(e);
      return;
    }
    range = next;
    for (const p of batch) p.resolve(p.receipts);
  };

  const run = (): void => {
    // Cleared here, not in flush: a run that finds a flush going must not leave it set, or the
    // reschedule at that flush's end would be skipped and the queue would wait forever (what
    // happened once the store's append waited for a disk sync).
    scheduled = false;
    if (flushing) return; // the running flush reschedules when it ends
    flushing = flush().finally(() => {
      flushing = null;
      if (queue.length > 0) schedule();
    });
  };
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(run);
  };

  const appendAll = (events: readonly AuditEvent[]): Promise<AuditReceipt[]> => {
    if (closed) return Promise.reject(new GatewayError('GATEWAY_FAILURE', 'journal d\'audit fermé'));
    let entries: AuditEntry[];
    try {
      // Validate before queueing: one bad event must not fail the other callers' batch.
      const t = now();
      entries = events.map((ev) => makeEntry(0, t, ev));
    } catch (e) {
      return Promise.reject(e);
    }
    if (entries.length === 0) return Promise.resolve([]);
    return new Promise<AuditReceipt[]>((resolve, reject) => {
      queue.push({ entries, receipts: [], resolve, reject });
      schedule();
    });
  };

  // Waits until everything queued so far is committed; flushes always go through run(), so two
  // never overlap, even with a store whose append really is asynchronous.
  const drain = async (): Promise<void> => {
    while (queue.length > 0 || flushing) {
      if (!flushing) run();
      await flushing;
    }
  };

  const checkpoint = async (): Promise<StoredCheckpoint | undefined> => {
    if (!signer) return store.latestCheckpoint();
    let latest: StoredCheckpoint | undefined;
    const made = await store.addCheckpoint((size, last, node) => {
      latest = last;
      if (size === 0 || (last && last.size >= size)) return undefined;
      const root = foldSubtrees(perfectSubtrees(0, size).map(node));
      return { size, time: now().toISOString(), note: signCheckpoint({ origin: opts.origin, size, root, extensions: [] }, signer) };
    });
    if (made) opts.log.info({ size: made.size }, 'audit checkpoint signed');
    return made ?? latest;
  };

  const timer = setInterval(() => {
    checkpoint().catch((e: unknown) => opts.log.error({ err: e }, 'audit checkpoint failed'));
  }, opts.checkpointIntervalMs);
  timer.unref();

  const reader = readerOn(store, async (index) => {
    await drain();
    const latest = await store.latestCheckpoint();
    if (!latest || latest.size <= index) await checkpoint();
  });

  const log: AuditLog = {
    ...reader,
    verifierKey: signer ? formatVerifierKey(signer) : null,
    append: async (event) => (await appendAll([event]))[0]!,
    appendAll,
    checkpoint: async () => {
      await drain();
      return checkpoint();
    },
    async purgeExpired(at = now()) {
      const before = new Date(at.getTime() - retentionDays * DAY_MS).toISOString();
      let count = 0;
      for (;;) {
        const rows = await store.expired(before, 10_000);
        if (rows.length === 0) break;
        await store.purge(rows.map((r) => ({ seq: r.seq, body: entryJson(purgedEntry(parseEntry(r.body))) })));
        count += rows.length;
      }
      if (count > 0) {
        await appendAll([{ type: 'audit.purged', actor: { id: 'gateway', kind: 'gateway' }, outcome: 'success', details: { count, before, retentionDays } }]);
      }
      opts.log.info({ count, before }, 'audit retention purge');
      return count;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await drain();
      try {
        await checkpoint();
      } finally {
        await store.close();
      }
    },
  };
  return log;
}
