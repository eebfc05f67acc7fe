/**
 * `passerelle audit verify`: recompute everything from the stored entries and stop at the first
 * thing that does not hold, naming it (entry N, or checkpoint at size S) and the check.
 *
 * In seq order: each entry is present (no gap), readable, carries its own seq, and —
 * unless purged — hashes to its stored leaf hash. The tree is rebuilt from the leaf hashes; when
 * it reaches the size of a checkpoint, that checkpoint must be signed by the trusted key, have the
 * recomputed root, and be consistent (RFC 9162 proof from the stored interior nodes) with the
 * checkpoint before it. Checkpoints beyond the last entry mean the tail was removed.
 */
import type { ErrorCode } from '../errors.js';
import { isGatewayError } from '../errors.js';
import { verifyCheckpoint, type Checkpoint } from './checkpoint.js';
import { CompactRange, EMPTY_ROOT, consistencyRanges, leafHash, perfectSubtrees, proofHashes, verifyConsistency, type NodeId } from './merkle.js';
import type { VerifierKey } from './notekey.js';
import { openSqliteAuditStore, type AuditStore, type StoredEntryBytes } from './store.js';
import { readAheadEntryBytes } from './read-ahead.js';

/** What is wrong with one entry's own bytes. */
interface EntryProblem {
  readonly entry: number;
  readonly check: 'ENTRY_UNREADABLE' | 'ENTRY_SEQ' | 'PURGED_FORM' | 'LEAF_HASH';
  readonly found?: number;
  readonly purged?: boolean;
}

export type VerifyCheck =
  | 'ENTRY_MISSING' | 'ENTRY_UNREADABLE' | 'ENTRY_SEQ' | 'LEAF_HASH' | 'PURGED_FORM'
  | 'CHECKPOINT_ORDER' | 'CHECKPOINT_KEY' | 'CHECKPOINT_SIGNATURE' | 'CHECKPOINT_ROOT' | 'CHECKPOINT_CONSISTENCY'
  | 'TRUNCATED';

export interface VerifyFailure {
  readonly check: VerifyCheck;
  readonly code: ErrorCode;
  /** French first, the way the CLI prints it. */
  readonly message: string;
  readonly entry?: number;
  readonly checkpointSize?: number;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly entries: number;
  readonly purged: number;
  readonly checkpoints: number;
  /** Entries after the last checkpoint (not yet covered by a signature). */
  readonly uncheckpointed: number;
  readonly failure?: VerifyFailure;
}

export interface VerifyOptions {
  readonly key: VerifierKey;
  readonly origin?: string;
  /** Checkpoints an auditor kept (note text): each must verify and match the log too. */
  readonly trusted?: readonly string[];
}

// Canonical bodies end with the last three keys in sorted order: seq, time, type (entry.ts); a
// purged body starts with actor and details null. Reading these by pattern instead of parsing
// JSON keeps verify's per-entry cost to one read and one hash; the leaf hash commits to every
// byte anyway, so a body that matches the pattern but not its hash is still caught.
const CANONICAL_TAIL = /"seq":(0|[1-9][0-9]{0,15}),"time":"[0-9T:.Z-]{24}","type":"[a-z0-9._-]+"}$/;
const PURGED_HEAD = Buffer.from('{"actor":null,"details":null,"outcome":');
const PURGED_REFS = Buffer.from(',"refs":null,"seq":');

class Failed extends Error {
  constructor(readonly failure: VerifyFailure) {
    super(failure.message);
  }
}

function fail(f: VerifyFailure): never {
  throw new Failed(f);
}

interface PendingCheckpoint {
  readonly size: number;
  readonly note: string;
  readonly label: string;
}

export async function verifyAuditStore(store: AuditStore, opts: VerifyOptions): Promise<VerifyReport> {
  const stored = await store.checkpoints();
  const list: PendingCheckpoint[] = stored.map((c) => ({ size: c.size, note: c.note, label: 'checkpoint' }));
  let entries = 0;
  let purged = 0;
  let checked = 0;
  let failure: VerifyFailure | undefined;
  try {
    for (let i = 1; i < stored.length; i++) {
      if (stored[i]!.size < stored[i - 1]!.size) {
        fail({ check: 'CHECKPOINT_ORDER', code: 'AUDIT_INCONSISTENT', checkpointSize: stored[i]!.size, message: `checkpoint à la taille ${stored[i]!.size} enregistré après un checkpoint à la taille ${stored[i - 1]!.size} (ordre des checkpoints altéré)` });
      }
    }
    for (const note of opts.trusted ?? []) {
      const size = sizeOf(note);
      list.push({ size, note, label: 'checkpoint fourni' });
    }
    list.sort((a, b) => a.size - b.size); // stable: stored ones keep their order
    const range = CompactRange.empty();
    let previous: Checkpoint | null = null;
    let next = 0;
    const checkUpTo = async (size: number): Promise<void> => {
      while (next < list.length && list[next]!.size === size) {
        previous = await checkCheckpoint(store, list[next]!, range.size === 0 ? EMPTY_ROOT : range.root(), previous, opts);
        checked++;
        next++;
      }
    };
    await checkUpTo(0);
    for await (const chunk of store.entryBytes(0)) {
      for (const row of chunk) {
        const n = range.size;
        if (row.seq !== n) fail({ check: 'ENTRY_MISSING', code: 'AUDIT_ENTRY_MISMATCH', entry: n, message: `entrée n° ${n} absente (l'entrée suivante est la n° ${row.seq}) : entrée supprimée` });
        const problem = checkEntryBytes(row);
        if (problem) fail(entryFailure(problem));
        if (row.purged) purged++;
        range.append(row.leafHash, false);
        entries++;
        if (next < list.length && list[next]!.size === range.size) await checkUpTo(range.size); // no await per entry
      }
    }
    if (next < list.length) {
      const c = list[next]!;
      fail({ check: 'TRUNCATED', code: 'AUDIT_INCONSISTENT', checkpointSize: c.size, message: `${c.label} à la taille ${c.size}, mais le journal n'a que ${entries} entrées : fin du journal supprimée` });
    }
  } catch (e) {
    if (!(e instanceof Failed)) throw e;
    failure = e.failure;
  }
  if (failure) return { ok: false, entries, purged, checkpoints: checked, uncheckpointed: 0, failure };
  const last = stored[stored.length - 1]?.size ?? 0;
  return { ok: true, entries, purged, checkpoints: checked, uncheckpointed: entries - last };
}

/** The checks on one entry's own bytes. */
function checkEntryBytes(row: StoredEntryBytes): EntryProblem | null {
  // The tail is ASCII (digits, time, type): decoding it as latin1 is exact and cheap.
  const m = CANONICAL_TAIL.exec(row.body.toString('latin1', Math.max(0, row.body.length - 200)));
  if (!m) return { entry: row.seq, check: 'ENTRY_UNREADABLE' };
  const seq = Number(m[1]);
  if (seq !== row.seq) return { entry: row.seq, check: 'ENTRY_SEQ', found: seq };
  const form = row.body.subarray(0, PURGED_HEAD.length).equals(PURGED_HEAD) && row.body.includes(PURGED_REFS);
  if (form !== row.purged) return { entry: row.seq, check: 'PURGED_FORM', purged: row.purged };
  if (!row.purged && !leafHash(row.body).equals(row.leafHash)) return { entry: row.seq, check: 'LEAF_HASH' };
  return null;
}

function entryFailure(p: EntryProblem): VerifyFailure {
  const n = p.entry;
  const base = { check: p.check, code: 'AUDIT_ENTRY_MISMATCH' as const, entry: n };
  switch (p.check) {
    case 'ENTRY_UNREADABLE': return { ...base, message: `entrée n° ${n} illisible : ce n'est pas une entrée canonique` };
    case 'ENTRY_SEQ': return { ...base, message: `entrée n° ${n} : son contenu porte le n° ${p.found ?? '?'} (entrées déplacées ou échangées)` };
    case 'PURGED_FORM': return { ...base, message: `entrée n° ${n} : marquée ${p.purged ? 'purgée' : 'non purgée'} mais son contenu dit l'inverse` };
    case 'LEAF_HASH': return { ...base, message: `entrée n° ${n} : son contenu ne correspond pas à son empreinte enregistrée (entrée modifiée)` };
  }
}

/**
 * `audit verify` of the SQLite trail in `dir`, opened read-only. (A second thread re-hashing the
 * bodies was tried: on this 2-core machine under load it cost 50 % more CPU for no gain in time.)
 */
export async function verifyAuditDir(dir: string, opts: VerifyOptions): Promise<VerifyReport> {
  const store = openSqliteAuditStore(dir, { readonly: true });
  try {
    // The same store, its entries read ahead by another thread while this one hashes them.
    return await verifyAuditStore({ ...store, entryBytes: (from, chunk) => readAheadEntryBytes(dir, from, chunk) }, opts);
  } finally {
    await store.close();
  }
}

function sizeOf(note: string): number {
  // Size line parsed again (and the signature checked) in checkCheckpoint; here only for ordering.
  const m = /^[^\n]*\n(\d{1,16})\n/.exec(note);
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
}

async function checkCheckpoint(store: AuditStore, c: PendingCheckpoint, root: Buffer, previous: Checkpoint | null, opts: VerifyOptions): Promise<Checkpoint> {
  const at = `${c.label} à la taille ${c.size}`;
  let cp: Checkpoint;
  try {
    cp = verifyCheckpoint(c.note, opts.key, opts.origin);
  } catch (e) {
    const reason = isGatewayError(e) ? String(e.detail['reason'] ?? '') : '';
    const msg = isGatewayError(e) ? e.message : String(e);
    if (reason === 'NO_SIGNATURE_BY_KEY') fail({ check: 'CHECKPOINT_KEY', code: 'AUDIT_CHECKPOINT_INVALID', checkpointSize: c.size, message: `${at} : pas signé par la clé de checkpoint attendue (journal réécrit ?) — ${msg}` });
    return fail({ check: 'CHECKPOINT_SIGNATURE', code: 'AUDIT_CHECKPOINT_INVALID', checkpointSize: c.size, message: `${at} : ${msg}` });
  }
  if (cp.size !== c.size) fail({ check: 'CHECKPOINT_SIGNATURE', code: 'AUDIT_CHECKPOINT_INVALID', checkpointSize: c.size, message: `${at} : la note signée dit ${cp.size}` });
  if (!cp.root.equals(root)) {
    fail({ check: 'CHECKPOINT_ROOT', code: 'AUDIT_INCONSISTENT', checkpointSize: c.size, message: `${at} : la racine signée ne correspond pas aux entrées 0 à ${c.size - 1} recalculées (entrée modifiée avec son empreinte, ou empreinte purgée altérée)` });
  }
  if (previous && previous.size > 0 && previous.size < cp.size) {
    try {
      const ranges = consistencyRanges(previous.size, cp.size);
      const ids = ranges.flatMap((r) => perfectSubtrees(r.start, r.end));
      const hashes = await store.nodes(ids);
      const byId = new Map(ids.map((id, i) => [`${id.level}/${id.index}`, hashes[i]!]));
      const proof = proofHashes(ranges, (id: NodeId) => byId.get(`${id.level}/${id.index}`)!);
      verifyConsistency(previous.size, cp.size, proof, previous.root, cp.root);
    } catch (e) {
      fail({ check: 'CHECKPOINT_CONSISTENCY', code: 'AUDIT_INCONSISTENT', checkpointSize: c.size, message: `${at} : pas cohérent avec le checkpoint à la taille ${previous.size} — ${isGatewayError(e) ? e.message : String(e)}` });
    }
  }
  return cp;
}
