/**
 * The entries' stored bytes for `audit verify`, read by a thread of their own a chunk or two
 * ahead: reading a million rows from SQLite (a Buffer per body and per leaf hash) took as long as
 * hashing and checking them (7.7 s of 13.4 s on the 2-core bench machine), and both ran on one
 * thread. The rows come in the order and shape `AuditStore.entryBytes` gives; their buffers are
 * views of a few arrays per chunk, transferred, not copied.
 */
import { startWorker } from '../worker-thread.js';
import type { StoredEntryBytes } from './store.js';

export interface ReadAheadJob {
  /** The audit directory (AuditStore's). */
  readonly dir: string;
  readonly from: number;
  readonly chunk: number;
  /** Chunks read before the first is asked for. */
  readonly ahead: number;
}

export type FromReadAhead =
  | { readonly type: 'chunk'; readonly seqs: Float64Array; readonly purged: Uint8Array; readonly bodyEnds: Uint32Array; readonly bodies: Uint8Array; readonly leafEnds: Uint32Array; readonly leaves: Uint8Array }
  | { readonly type: 'end' }
  | { readonly type: 'error'; readonly message: string };

function unpack(m: Extract<FromReadAhead, { type: 'chunk' }>): StoredEntryBytes[] {
  const bodies = Buffer.from(m.bodies.buffer, m.bodies.byteOffset, m.bodies.byteLength);
  const leaves = Buffer.from(m.leaves.buffer, m.leaves.byteOffset, m.leaves.byteLength);
  const rows: StoredEntryBytes[] = new Array(m.seqs.length);
  let b = 0;
  let l = 0;
  for (let i = 0; i < m.seqs.length; i++) {
    const bodyEnd = m.bodyEnds[i] as number;
    const leafEnd = m.leafEnds[i] as number;
    rows[i] = { seq: m.seqs[i] as number, body: bodies.subarray(b, bodyEnd), leafHash: leaves.subarray(l, leafEnd), purged: m.purged[i] === 1 };
    b = bodyEnd;
    l = leafEnd;
  }
  return rows;
}

/** `AuditStore.entryBytes` of the audit directory `dir`, read in another thread. */
export async function* readAheadEntryBytes(dir: string, from = 0, chunk = 20_000): AsyncGenerator<StoredEntryBytes[]> {
  const job: ReadAheadJob = { dir, from, chunk, ahead: 2 };
  const worker = startWorker(import.meta.url, 'read-ahead-worker', { workerData: job });
  const queue: FromReadAhead[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  worker.on('message', (m: FromReadAhead) => {
    queue.push(m);
    wake?.();
  });
  worker.on('error', (e) => {
    failure = e;
    wake?.();
  });
  worker.on('exit', (code) => {
    failure ??= new Error(`audit read-ahead thread exited (code ${code})`);
    wake?.();
  });
  try {
    for (;;) {
      while (queue.length === 0) {
        if (failure) throw failure;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      const m = queue.shift() as FromReadAhead;
      if (m.type === 'end') return;
      if (m.type === 'error') throw new Error(`audit read-ahead: ${m.message}`);
      worker.postMessage('more');
      yield unpack(m);
    }
  } finally {
    await worker.terminate();
  }
}
