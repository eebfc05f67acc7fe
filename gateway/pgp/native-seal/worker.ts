/**
 * Worker thread side of the seal pool (pool.ts): runs NativeSealers for the jobs it is given.
 * Input chunks arrive transferred; each answer carries the output completed so far and how many
 * input bytes it consumed (the main side's credit).
 */
import { parentPort } from 'node:worker_threads';
import { NativeSealer } from '../seal-native.js';
import type { ToSealWorker, FromSealWorker } from './messages.js';

const port = parentPort;
if (port === null) throw new Error('seal worker started outside a worker thread');
const jobs = new Map<number, NativeSealer>();

/** Posts `chunk`, transferring its memory when it owns all of it (never a pooled slab). */
function post(m: FromSealWorker, chunk: Uint8Array | null): void {
  if (chunk !== null && chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength) {
    port?.postMessage(m, [chunk.buffer as ArrayBuffer]);
  } else {
    port?.postMessage(m);
  }
}

port.on('message', (m: ToSealWorker) => {
  try {
    if (m.type === 'start') {
      jobs.set(m.id, NativeSealer.fromInit(m.init));
    } else if (m.type === 'data') {
      const sealer = jobs.get(m.id);
      if (sealer === undefined) return; // aborted
      const out = sealer.update(m.chunk);
      const chunk = out === null ? null : new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      post({ type: 'out', id: m.id, consumed: m.chunk.byteLength, chunk }, chunk);
    } else if (m.type === 'end') {
      const sealer = jobs.get(m.id);
      if (sealer === undefined) return;
      jobs.delete(m.id);
      const out = sealer.final();
      const chunk = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      post({ type: 'done', id: m.id, chunk }, chunk);
    } else {
      jobs.delete(m.id);
    }
  } catch (e) {
    jobs.delete(m.id);
    port.postMessage({ type: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) } satisfies FromSealWorker);
  }
});
