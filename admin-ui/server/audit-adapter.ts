/**
 * The UI's AuditReader over the gateway's audit trail (gateway/audit/log.ts). The admin UI only
 * reads: it opens the trail with `openAuditReader` (read-only) or shares the running AuditLog.
 * Whole-trail verification is O(entries): its result is cached and recomputed only when a newer
 * checkpoint exists and the last run is older than `verifyEveryMs`.
 */
import { parseCheckpointBody, parseNote } from '../../gateway/audit/checkpoint.js';
import { canonicalBytes, isPurged } from '../../gateway/audit/entry.js';
import type { AuditReader as LogReader, AuditRecord } from '../../gateway/audit/log.js';
import type { VerifyReport } from '../../gateway/audit/verify.js';
import type { AuditEntryView, AuditFilter, AuditReader, CheckpointView, InclusionProofView, VerifyOutcome } from './data.js';

export function recordView(r: AuditRecord): AuditEntryView {
  const e = r.entry;
  return {
    index: e.seq,
    time: e.time,
    type: e.type,
    actor: e.actor ?? { id: '', kind: 'unknown' },
    outcome: e.outcome,
    refs: e.refs ?? {},
    details: e.details ?? {},
    leafHash: r.leafHash,
  };
}

export function checkpointView(note: string): CheckpointView {
  const cp = parseCheckpointBody(parseNote(note).body);
  return { origin: cp.origin, size: cp.size, rootHash: cp.root.toString('base64'), note };
}

export interface AuditLogReaderDeps {
  readonly log: LogReader;
  /** Note verifier key of the checkpoint key (AuditLog.verifierKey or the .pub file). */
  readonly verifierKey: string;
  /** Full verification, e.g. () => verifyAuditStore(store, { key }). */
  readonly verify: () => Promise<VerifyReport>;
  readonly verifyEveryMs?: number;
  readonly clock?: () => number;
}

export function auditLogReader(deps: AuditLogReaderDeps): AuditReader {
  const every = deps.verifyEveryMs ?? 5 * 60_000;
  const clock = deps.clock ?? Date.now;
  let cached: { at: number; size: number; outcome: VerifyOutcome } | null = null;
  const filter = (f: AuditFilter) => ({ ...f });
  return {
    query: async (f) => (await deps.log.query(filter(f))).map(recordView),
    count: (f) => deps.log.count(filter(f)),
    async latestCheckpoint() {
      const cp = await deps.log.latestCheckpoint();
      return cp ? checkpointView(cp.note) : null;
    },
    async prove(index): Promise<InclusionProofView> {
      const b = await deps.log.prove(index);
      return {
        index: b.index,
        treeSize: b.treeSize,
        leafHash: b.leafHash,
        // Purged entries keep only their leaf hash: the browser then takes it as given.
        ...(isPurged(b.entry) ? {} : { entryBytes: canonicalBytes(b.entry).toString('base64') }),
        hashes: b.inclusionProof,
        checkpoint: b.checkpoint,
      };
    },
    async verify() {
      const size = (await deps.log.latestCheckpoint())?.size ?? 0;
      if (cached && (cached.size === size || clock() - cached.at < every)) return cached.outcome;
      const r = await deps.verify();
      const outcome: VerifyOutcome = r.ok
        ? { ok: true, entries: r.entries }
        : { ok: false, entries: r.entries, ...(r.failure?.entry !== undefined ? { firstBad: r.failure.entry } : {}), message: r.failure?.message ?? '' };
      cached = { at: clock(), size, outcome };
      return outcome;
    },
    verifierKey: () => deps.verifierKey,
  };
}
