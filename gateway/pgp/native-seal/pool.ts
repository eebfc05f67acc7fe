/**
 * sealNative on other cores: a few worker threads run the NativeSealers (AES-CFB, SHA-1, SHA-2,
 * framing) while the keys' part (openpgp.js: PKESK, signing key material) stays on the calling
 * thread. Each job keeps at most MAX_INFLIGHT input bytes in the worker and reads its source
 * only while its output is being read.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../worker-thread.js';
import { Readable } from 'node:stream';
import { GatewayError, isGatewayError } from '../../errors.js';
import type { SealOptions } from '../seal.js';
import { NativeSealer, type NativeSealTuning } from '../seal-native.js';
import type { FromSealWorker, ToSealWorker } from './messages.js';

const MAX_INFLIGHT = 4 * 1024 * 1024;

export interface SealPool {
  /** As sealNative, with the sealing done in one of the pool's threads. */
  seal(plaintext: AsyncIterable<Uint8Array> | Readable, opts: SealOptions, tuning?: NativeSealTuning): Readable;
  /** Ends the threads; jobs still running fail. */
  close(): Promise<void>;
}

interface Job { onMessage(m: FromSealWorker): void; fail(e: Error): void }
interface Slot { worker: Worker; jobs: Map<number, Job> }

/** A thread keeps the process alive only while it has jobs. */
function addJob(slot: Slot, id: number, job: Job): void {
  slot.jobs.set(id, job);
  slot.worker.ref();
}
function removeJob(slot: Slot, id: number): boolean {
  const had = slot.jobs.delete(id);
  if (slot.jobs.size === 0) slot.worker.unref();
  return had;
}

function failure(e: unknown): GatewayError {
  if (isGatewayError(e)) return e;
  return new GatewayError('GATEWAY_FAILURE', 'chiffrement pour le destinataire impossible / cannot encrypt for the recipient', {}, { cause: e });
}

export function createSealPool(size: number): SealPool {
  const slots: Slot[] = [];
  for (let i = 0; i < Math.max(1, size); i++) {
    const slot: Slot = { worker: startWorker(import.meta.url, 'worker'), jobs: new Map() };
    slot.worker.on('message', (m: FromSealWorker) => slot.jobs.get(m.id)?.onMessage(m));
    slot.worker.on('error', (e) => { for (const j of [...slot.jobs.values()]) j.fail(e); });
    slot.worker.unref();
    slots.push(slot);
  }
  let nextId = 0;

  function seal(plaintext: AsyncIterable<Uint8Array> | Readable, opts: SealOptions, tuning: NativeSealTuning = {}): Readable {
    const source = plaintext[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
    const slot = slots.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
    const id = nextId++;
    const post = (m: ToSealWorker, transfer?: ArrayBuffer[]): void => slot.worker.postMessage(m, transfer);
    let started: Promise<void> | null = null;
    let inflight = 0;
    let wanted = false; // the reader asked for more and was not refused since
    let pumping = false;
    let sourceDone = false;

    const pump = async (): Promise<void> => {
      if (pumping) return;
      pumping = true;
      try {
        while (wanted && !sourceDone && inflight < MAX_INFLIGHT && !out.destroyed) {
          const r = await source.next();
          if (r.done === true) { sourceDone = true; post({ type: 'end', id }); break; }
          if (r.value.length === 0) continue;
          const copy = new Uint8Array(r.value); // own memory, transferred
          inflight += copy.byteLength;
          post({ type: 'data', id, chunk: copy }, [copy.buffer]);
        }
      } finally {
        pumping = false;
      }
    };
    const fail = (e: unknown): void => { out.destroy(failure(e)); }; // destroy tells the worker
    const job: Job = {
      onMessage(m) {
        if (m.type === 'error') { fail(new Error(m.message)); return; }
        if (m.chunk !== null && m.chunk.byteLength > 0 && !out.push(Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength))) wanted = false;
        if (m.type === 'done') { removeJob(slot, id); out.push(null); return; }
        if (out.destroyed) return;
        inflight -= m.consumed;
        pump().catch(fail);
      },
      fail,
    };
    const out = new Readable({
      highWaterMark: 1 << 20,
      read() {
        wanted = true;
        started ??= NativeSealer.prepare(opts, tuning).then((init) => {
          addJob(slot, id, job);
          post({ type: 'start', id, init });
        });
        started.then(pump).catch(fail);
      },
      destroy(err, cb) {
        if (removeJob(slot, id)) post({ type: 'abort', id });
        Promise.resolve(source.return?.()).then(() => cb(err), () => cb(err));
      },
    });
    return out;
  }

  return {
    seal,
    async close() {
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
