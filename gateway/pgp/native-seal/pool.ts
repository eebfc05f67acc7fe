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

/** A message sealed by a pool thread straight into a new file. */
export interface SealFileJob {
  /**
   * Plaintext, in order. Resolves at once, or once the thread has caught up (at most
   * MAX_INFLIGHT bytes wait for it). With `owned`, the whole buffer under `chunk` is the
   * caller's to give: it is transferred (do not use it afterwards); otherwise `chunk` is copied
   * unless it spans its whole buffer.
   */
  write(chunk: Uint8Array, owned?: boolean): Promise<void>;
  /** Ends the plaintext; resolves when the file is complete and fsynced. */
  end(): Promise<{ sha256: string; size: number }>;
}

export interface SealPool {
  /** As sealNative, with the sealing done in one of the pool's threads. */
  seal(plaintext: AsyncIterable<Uint8Array> | Readable, opts: SealOptions, tuning?: NativeSealTuning): Readable;
  /**
   * Seals into `path` (created 0600, must not exist) in one of the pool's threads, which also
   * hashes and writes the output: the calling thread only hands over plaintext.
   */
  sealToFile(path: string, opts: SealOptions, tuning?: NativeSealTuning): SealFileJob;
  /** Ends the threads; jobs still running fail. */
  close(): Promise<void>;
}

interface Job { onMessage(m: FromSealWorker): void; fail(e: Error): void }
/** `dead`: the thread exited; the slot is out of the pool and anything sent to it fails. */
interface Slot { worker: Worker; jobs: Map<number, Job>; dead?: Error }

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

/**
 * A sealing thread that died: the jobs it had fail with this (as the cause of their
 * GatewayError). It says nothing of their input: the intake gives such an upload again
 * (intake/worker-pool.ts).
 */
export class SealThreadExited extends Error {
  constructor(code: number) {
    super(`sealing thread exited (code ${code})`);
    this.name = 'SealThreadExited';
  }
}

/** A sealing thread's error as an Error again, with its code (a full disk must stay one). */
function threadError(m: { message: string; code?: string }): Error {
  return Object.assign(new Error(m.message), m.code === undefined ? {} : { code: m.code });
}

function failure(e: unknown): GatewayError {
  if (isGatewayError(e)) return e;
  return new GatewayError('GATEWAY_FAILURE', 'chiffrement pour le destinataire impossible / cannot encrypt for the recipient', {}, { cause: e });
}

/**
 * The threads start with the first job: a gateway that receives nothing runs none of them.
 * `onWorker` sees each thread started (tests use it to make one fail).
 */
export function createSealPool(size: number, opts: { onWorker?: (worker: Worker) => void } = {}): SealPool {
  const slots: Slot[] = [];
  let closing = false;
  /** The least busy thread, the threads being started on first use. */
  const pick = (): Slot => {
    while (slots.length < Math.max(1, size)) {
      const slot: Slot = { worker: startWorker(import.meta.url, 'worker'), jobs: new Map() };
      slot.worker.on('message', (m: FromSealWorker) => slot.jobs.get(m.id)?.onMessage(m));
      slot.worker.on('error', (e) => { for (const j of [...slot.jobs.values()]) j.fail(e); });
      // A thread that died (an error nothing caught, its memory limit) leaves the pool: its jobs
      // fail, and the next job starts a new thread instead of waiting on this one forever.
      slot.worker.on('exit', (code) => {
        if (closing) return;
        slot.dead = new SealThreadExited(code);
        slots.splice(slots.indexOf(slot), 1);
        for (const j of [...slot.jobs.values()]) j.fail(slot.dead);
        slot.jobs.clear();
      });
      slot.worker.unref();
      opts.onWorker?.(slot.worker);
      slots.push(slot);
    }
    return slots.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
  };
  let nextId = 0;

  function seal(plaintext: AsyncIterable<Uint8Array> | Readable, opts: SealOptions, tuning: NativeSealTuning = {}): Readable {
    const source = plaintext[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
    const slot = pick();
    const id = nextId++;
    const post = (m: ToSealWorker, transfer?: ArrayBuffer[]): void => {
      if (slot.dead) throw slot.dead;
      slot.worker.postMessage(m, transfer);
    };
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
        if (m.type === 'error') { fail(threadError(m)); return; }
        if (m.type !== 'out' && m.type !== 'done') return; // file jobs only
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
        if (removeJob(slot, id) && !slot.dead) post({ type: 'abort', id });
        Promise.resolve(source.return?.()).then(() => cb(err), () => cb(err));
      },
    });
    return out;
  }

  function sealToFile(path: string, opts: SealOptions, tuning: NativeSealTuning = {}): SealFileJob {
    const slot = pick();
    const id = nextId++;
    let inflight = 0;
    let failed: Error | undefined;
    let room: (() => void) | undefined;
    let sealed: { resolve(r: { sha256: string; size: number }): void; reject(e: Error): void } | undefined;
    const outcome = new Promise<{ sha256: string; size: number }>((resolve, reject) => (sealed = { resolve, reject }));
    outcome.catch(() => undefined); // reported by end()
    const fail = (e: unknown): void => {
      if (failed) return;
      failed = failure(e);
      if (removeJob(slot, id)) slot.worker.postMessage({ type: 'abort', id } satisfies ToSealWorker);
      room?.();
      sealed?.reject(failed);
    };
    addJob(slot, id, {
      onMessage(m) {
        if (m.type === 'error') fail(threadError(m));
        else if (m.type === 'ack') {
          inflight -= m.consumed;
          if (inflight <= MAX_INFLIGHT / 2) room?.();
        } else if (m.type === 'sealed') {
          removeJob(slot, id);
          sealed?.resolve({ sha256: m.sha256, size: m.size });
        }
      },
      fail,
    });
    // The keys' part runs here (openpgp.js); messages to the thread keep their order.
    const started = NativeSealer.prepare(opts, tuning).then(
      (init) => {
        if (slot.dead) throw slot.dead;
        slot.worker.postMessage({ type: 'start-file', id, init, path } satisfies ToSealWorker);
      },
    ).catch(fail);
    return {
      async write(chunk, owned = false) {
        if (failed) throw failed;
        if (chunk.byteLength === 0) return;
        await started;
        if (failed) throw failed;
        const own = owned || (chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength) ? chunk : new Uint8Array(chunk);
        inflight += own.byteLength;
        slot.worker.postMessage({ type: 'data', id, chunk: own } satisfies ToSealWorker, [own.buffer as ArrayBuffer]);
        if (inflight > MAX_INFLIGHT) await new Promise<void>((r) => (room = r));
        room = undefined;
        if (failed) throw failed;
      },
      async end() {
        await started;
        if (!failed) slot.worker.postMessage({ type: 'end', id } satisfies ToSealWorker);
        return outcome;
      },
    };
  }

  return {
    seal,
    sealToFile,
    async close() {
      closing = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
