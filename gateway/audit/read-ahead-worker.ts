/**
 * The read-ahead thread of `audit verify` (read-ahead.ts): reads the entries' stored bytes with
 * the store's own `entryBytes`, and sends each chunk packed in a few transferred arrays, a chunk
 * or two ahead of the thread that hashes and checks them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteAuditStore, type StoredEntryBytes } from './store.js';
import type { FromReadAhead, ReadAheadJob } from './read-ahead.js';

const port = parentPort;
if (!port) throw new Error('read-ahead-worker.ts runs only as a worker thread');
const job = workerData as ReadAheadJob;

function send(m: FromReadAhead, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(m, transfer);
}

function pack(rows: readonly StoredEntryBytes[]): void {
  const n = rows.length;
  let bodyBytes = 0;
  let leafBytes = 0;
  for (const r of rows) {
    bodyBytes += r.body.length;
    leafBytes += r.leafHash.length;
  }
  const seqs = new Float64Array(n);
  const purged = new Uint8Array(n);
  const bodyEnds = new Uint32Array(n);
  const leafEnds = new Uint32Array(n);
  const bodies = new Uint8Array(bodyBytes);
  const leaves = new Uint8Array(leafBytes);
  let b = 0;
  let l = 0;
  for (let i = 0; i < n; i++) {
    const r = rows[i] as StoredEntryBytes;
    seqs[i] = r.seq;
    purged[i] = r.purged ? 1 : 0;
    bodies.set(r.body, b);
    b += r.body.length;
    bodyEnds[i] = b;
    leaves.set(r.leafHash, l);
    l += r.leafHash.length;
    leafEnds[i] = l;
  }
  send({ type: 'chunk', seqs, purged, bodyEnds, bodies, leafEnds, leaves }, [seqs.buffer, purged.buffer, bodyEnds.buffer, bodies.buffer, leafEnds.buffer, leaves.buffer]);
}

let credit = job.ahead;
let wake: (() => void) | undefined;
port.on('message', () => {
  credit++;
  wake?.();
});

try {
  const store = openSqliteAuditStore(job.dir, { readonly: true });
  try {
    for await (const rows of store.entryBytes(job.from, job.chunk)) {
      while (credit === 0) await new Promise<void>((r) => (wake = r));
      credit--;
      pack(rows);
    }
    send({ type: 'end' });
  } finally {
    await store.close();
  }
} catch (e) {
  send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
}
