/**
 * The intake thread (gateway/intake/worker.ts) with three faults injected: an upload whose client
 * name starts with "bloque" holds the thread's event loop forever, as a computation that never
 * ends would (a bug, a pathological input); one whose name starts with "plante" ends the
 * thread, as an error nothing catches or its memory limit would; one whose name starts with
 * "scelle" ends the sealing threads started so far (those of the uploads already there).
 * Everything else is the real thread.
 */
import { parentPort, type Worker } from 'node:worker_threads';
import type { ToWorker } from '../../gateway/intake/worker-messages.js';

// First: its listener starts the port, and must see the configuration posted at start.
const { sealThreads } = await import('../../gateway/intake/worker.js');
const sealing: Worker[] = [];
sealThreads.onStart = (w) => sealing.push(w);

parentPort?.on('message', (m: ToWorker) => {
  if (m.type !== 'open') return;
  if (m.ctx.clientName.startsWith('scelle')) for (const w of sealing.splice(0)) void w.terminate();
  if (m.ctx.clientName.startsWith('plante')) process.exit(70); // in a worker thread: ends the thread only
  if (!m.ctx.clientName.startsWith('bloque')) return;
  // Date.now() keeps the loop from being optimised into nothing; only termination ends it.
  for (let t = Date.now(); t > 0; t = Date.now());
});
