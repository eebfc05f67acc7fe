/**
 * The read-ahead thread of `audit verify` (read-ahead.ts): reads the entries' stored bytes in
 * seq order and sends each chunk packed in a few transferred arrays, a chunk or two ahead of
 * the thread that hashes and checks them.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { ENTRY_BYTES_SQL } from './store.js';
import type { FromReadAhead, ReadAheadJob } from './read-ahead.js';

const port = parentPort;
if (!port) throw new Error('read-ahead-worker.ts runs only as a worker thread');
const job = workerData as ReadAheadJob;

function send(m: FromReadAhead, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(m, transfer);
}

let credit = job.ahead;
let next = job.from;
let done = false;
let db: Database.Database | undefined;

function pack(rows: [number, Buffer, Buffer, number][]): void {
  const n = rows.length;
  let bodyBytes = 0;
  let leafBytes = 0;
  for (const r of rows) {
    bodyBytes += r[1].length;
    leafBytes += r[2].length;
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
    const [seq, body, leaf, p] = rows[i] as [number, Buffer, Buffer, number];
    seqs[i] = seq;
    purged[i] = p === 1 ? 1 : 0;
    bodies.set(body, b);
    b += body.length;
    bodyEnds[i] = b;
    leaves.set(leaf, l);
    l += leaf.length;
    leafEnds[i] = l;
  }
  send({ type: 'chunk', seqs, purged, bodyEnds, bodies, leafEnds, leaves }, [seqs.buffer, purged.buffer, bodyEnds.buffer, bodies.buffer, leafEnds.buffer, leaves.buffer]);
}

function pump(): void {
  try {
    db ??= new Database(job.file, { readonly: true, fileMustExist: true });
    const st = db.prepare(ENTRY_BYTES_SQL).raw();
    while (credit > 0 && !done) {
      const rows = st.all(next, job.chunk) as [number, Buffer, Buffer, number][];
      if (rows.length === 0) {
        done = true;
        send({ type: 'end' });
        db.close();
        return;
      }
      next = (rows[rows.length - 1] as [number, ...unknown[]])[0] + 1;
      credit--;
      pack(rows);
    }
  } catch (e) {
    done = true;
    send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
}

port.on('message', () => {
  credit++;
  pump();
});
pump();
