/**
 * The intake thread (gateway/intake/worker.ts) with two faults injected: an upload whose client
 * name starts with "bloque" holds the thread's event loop forever, as a computation that never
 * ends would (a bug, a pathological input); one whose name starts with "plante" ends the
 * thread, as an error nothing catches or its memory limit would. Everything else is the real
 * thread.
 */
import { parentPort } from 'node:worker_threads';
import type { ToWorker } from '../../gateway/intake/worker-messages.js';

// First: its listener starts the port, and must see the configuration posted at start.
await import('../../gateway/intake/worker.js');

parentPort?.on('message', (m: ToWorker) => {
  if (m.type !== 'open') return;
  if (m.ctx.clientName.startsWith('plante')) process.exit(70); // in a worker thread: ends the thread only
  if (!m.ctx.clientName.startsWith('bloque')) return;
  // Date.now() keeps the loop from being optimised into nothing; only termination ends it.
  for (let t = Date.now(); t > 0; t = Date.now());
});
