/**
 * The per-entry half of `audit verify` on a second thread, so a million entries take both cores:
 * this thread re-hashes every body and checks its seq and purge form while the main thread
 * rebuilds the tree from the stored leaf hashes and checks the checkpoints (verify.ts).
 *
 * The worker is given as source text (not a file) so it runs the same under tsx, vitest and the
 * compiled dist/ without a loader; it uses only node:crypto and better-sqlite3. Its checks are
 * those of `checkEntryBytes` in verify.ts — the verify tests run every tamper case through both.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { AUDIT_DB_FILE } from './store.js';

export interface WorkerEntryFailure {
  readonly entry: number;
  readonly check: 'ENTRY_UNREADABLE' | 'ENTRY_SEQ' | 'PURGED_FORM' | 'LEAF_HASH';
  readonly found?: number;
  readonly purged?: boolean;
  /** Purged entries before this one (so the report counts what the sequential walk would have). */
  readonly purgedBefore?: number;
}

const SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const { hash } = require('node:crypto');
const Database = require(workerData.sqlite);
const TAIL = /"seq":(0|[1-9][0-9]{0,15}),"time":"[0-9T:.Z-]{24}","type":"[a-z0-9._-]+"}$/;
const HEAD = Buffer.from('{"actor":null,"details":null,"outcome":');
const REFS = Buffer.from(',"refs":null,"seq":');
const db = new Database(workerData.file, { readonly: true, fileMustExist: true });
const stmt = db.prepare('SELECT seq, CAST(body AS BLOB), leaf_hash, purged FROM entries WHERE seq >= ? ORDER BY seq LIMIT 20000').raw();
let scratch = Buffer.alloc(4096);
function leaf(body) {
  if (body.length + 1 > scratch.length) scratch = Buffer.alloc(body.length * 2 + 1);
  scratch[0] = 0;
  body.copy(scratch, 1);
  return hash('sha256', scratch.subarray(0, body.length + 1), 'buffer');
}
function check() {
  let next = 0;
  let purgedBefore = 0;
  for (;;) {
    const rows = stmt.all(next);
    if (rows.length === 0) return null;
    for (const [seq, body, leafHash, purged] of rows) {
      const m = TAIL.exec(body.toString('latin1', Math.max(0, body.length - 200)));
      if (!m) return { entry: seq, check: 'ENTRY_UNREADABLE', purgedBefore };
      if (Number(m[1]) !== seq) return { entry: seq, check: 'ENTRY_SEQ', found: Number(m[1]), purgedBefore };
      const form = body.subarray(0, HEAD.length).equals(HEAD) && body.includes(REFS);
      if (form !== (purged === 1)) return { entry: seq, check: 'PURGED_FORM', purged: purged === 1, purgedBefore };
      if (purged !== 1 && !leaf(body).equals(leafHash)) return { entry: seq, check: 'LEAF_HASH', purgedBefore };
      if (purged === 1) purgedBefore++;
      next = seq + 1;
    }
  }
}
const failure = check();
db.close();
parentPort.postMessage(failure);
`;

/** Checks every entry of `<dir>/audit.sqlite` on a worker thread; resolves with the first failure or null. */
export function checkEntriesInWorker(dir: string): Promise<WorkerEntryFailure | null> {
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  return new Promise((resolve, reject) => {
    const worker = new Worker(SOURCE, { eval: true, workerData: { sqlite, file: join(dir, AUDIT_DB_FILE) } });
    worker.once('message', (m: WorkerEntryFailure | null) => resolve(m));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`audit verify worker exited with code ${code}`));
    });
  });
}
