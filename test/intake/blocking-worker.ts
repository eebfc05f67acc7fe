/**
 * The intake thread (gateway/intake/worker.ts) with one fault injected: an upload whose client
 * name starts with "bloque" holds the thread's event loop forever, as a computation that never
 * ends would (a bug, a pathological input). Everything else is the real thread.
 */
import { parentPort } from 'node:worker_threads';
import type { ToWorker } from '../../gateway/intake/worker-messages.js';

// First: its listener starts the port, and must see the configuration posted at start.
await import('../../gateway/intake/worker.js');

parentPort?.on('message', (m: ToWorker) => {
  if (m.type !== 'open' || !m.ctx.clientName.startsWith('bloque')) return;
  // Date.now() keeps the loop from being optimised into nothing; only termination ends it.
  for (let t = Date.now(); t > 0; t = Date.now());
});
