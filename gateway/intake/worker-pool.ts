/**
 * Worker threads for the intake: each upload's work runs in one of them, so decryption,
 * validation and re-encryption use another core than the SSH transports. Chunks are copied
 * once and transferred; the upload is paced on the bytes the work has taken (work.ts, Pacer),
 * and past `QUEUE_HIGH_WATER` bytes not yet taken it stops streaming and the worker reads the
 * rest from the staging file at the commit.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker, startWorkerModule } from '../worker-thread.js';
import type { ConfigSource } from '../config/model.js';
import type { Logger } from '../log.js';
import { HEARTBEAT_MS, type FromWorker, type ToWorker } from './worker-messages.js';
import { Pacer, QUEUE_HIGH_WATER, toWorkError, type Processor, type UploadWork, type WorkResult } from './work.js';

interface Slot {
  worker: Worker;
  active: number;
  /** When the slot's thread last said its event loop turns (any message counts), or was started. */
  lastBeat: number;
  /** Whether it has said so at all: a thread still loading its modules has not. */
  beating: boolean;
}

interface Tracked {
  readonly slot: Slot;
  /** The thread doing the work: the slot may have another by the time it ends. */
  readonly worker: Worker;
  /** Bytes sent and not yet taken by the work. */
  readonly pacer: Pacer;
  streaming: boolean;
  resolve(r: WorkResult): void;
}

/** How long the uploads of a thread being ended wait for it to be gone before they fail anyway. */
const TERMINATE_WAIT_MS = 10_000;
/**
 * A thread is judged on its heartbeats only once it has sent one: loading its modules (and,
 * under tsx in the tests, compiling them) on a busy machine can take longer than the limit.
 */
const STARTUP_GRACE_MS = 60_000;

export interface WorkerPoolOptions {
  readonly config: ConfigSource;
  readonly size: number;
  readonly log: Logger;
  /** Called with each thread started, the first ones and those that replace a thread that died (tests use it to make one fail). */
  readonly onWorker?: (worker: Worker) => void;
  /** The thread's module, instead of worker.ts beside this one (tests wrap it to inject faults). */
  readonly workerModule?: URL;
}

export function workerPoolProcessor(opts: WorkerPoolOptions): Processor {
  const tracked = new Map<string, Tracked>();
  let version = 0;
  let closing = false;
  const slots: Slot[] = [];
  const post = (slot: Slot, m: ToWorker): void => slot.worker.postMessage(m);

  /** Ends every upload `worker` was working on with `result`: that thread failed, their work is lost. */
  const failWorker = (worker: Worker, result: WorkResult): void => {
    for (const [id, t] of tracked) {
      if (t.worker !== worker) continue;
      tracked.delete(id);
      t.streaming = false;
      t.pacer.close();
      if (t.slot.worker === worker) t.slot.active--;
      t.resolve(result);
    }
  };

  /**
   * Starts the thread of `slot`. A thread that dies (an error nothing caught, its memory limit)
   * or stops answering is replaced at once, with the configuration in force: otherwise every
   * later upload given to that slot would wait forever for an answer from a thread that is gone.
   */
  const spawn = (slot: Slot): void => {
    const worker = opts.workerModule ? startWorkerModule(opts.workerModule) : startWorker(import.meta.url, 'worker');
    slot.worker = worker;
    slot.active = 0;
    slot.lastBeat = performance.now();
    slot.beating = false;
    worker.on('message', (m: FromWorker) => {
      if (slot.worker === worker) {
        slot.lastBeat = performance.now();
        slot.beating = true;
      }
      if (m.type === 'beat') return;
      const t = tracked.get(m.uploadId);
      if (!t || t.worker !== worker) return;
      if (m.type === 'ack') t.pacer.take(m.bytes);
      else {
        tracked.delete(m.uploadId);
        // The work ended (a verdict may come before the last byte): the rest goes to staging only.
        t.streaming = false;
        t.pacer.close();
        if (--slot.active === 0) worker.unref();
        t.resolve(m.result);
      }
    });
    worker.on('error', (err) => {
      opts.log.error({ err: err.message }, 'intake worker failed');
      failWorker(worker, toWorkError(err));
    });
    worker.on('exit', (code) => {
      if (closing || slot.worker !== worker) return;
      opts.log.error({ code }, 'intake worker exited: a new one takes its place');
      failWorker(worker, toWorkError(new Error(`intake worker exited (code ${code})`)));
      replace(slot);
    });
    worker.unref();
    opts.onWorker?.(worker);
  };

  const replace = (slot: Slot): void => {
    spawn(slot);
    post(slot, { type: 'config', version, config: opts.config.current() });
  };

  /**
   * A thread whose event loop is held (a computation that does not end) sends no heartbeat:
   * past `limits.intakeThreadStallMs` with uploads in hand it is ended, they fail, and a new
   * thread serves the next ones. Without this, one such upload stops the intake for good.
   */
  let lastTick = performance.now();
  const watch = setInterval(() => {
    const now = performance.now();
    const stallMs = opts.config.current().settings.limits.intakeThreadStallMs;
    const late = now - lastTick > Math.max(stallMs / 2, 4 * HEARTBEAT_MS);
    lastTick = now;
    for (const slot of slots) {
      // This thread itself was held (or the process stopped): the silence says nothing of the worker's.
      if (late) slot.lastBeat = now;
      const silentMs = now - slot.lastBeat;
      if (slot.active === 0 || silentMs <= (slot.beating ? stallMs : Math.max(stallMs, STARTUP_GRACE_MS))) continue;
      const stuck = slot.worker;
      const uploads = [...tracked].filter(([, t]) => t.worker === stuck).map(([id]) => id);
      opts.log.error({ silentMs: Math.round(silentMs), uploads }, 'intake worker unresponsive: ended, a new one takes its place');
      replace(slot);
      // The uploads fail once the thread is gone, so that nothing it still writes outlives their
      // cleanup; but not later than TERMINATE_WAIT_MS (a thread held in a system call that does
      // not return cannot be ended before it does).
      let waited: NodeJS.Timeout | undefined;
      const gone = Promise.race([stuck.terminate(), new Promise((r) => (waited = setTimeout(r, TERMINATE_WAIT_MS)))]);
      void gone.finally(() => {
        clearTimeout(waited);
        failWorker(stuck, toWorkError(new Error(`intake worker unresponsive for ${Math.round(silentMs)} ms`)));
      });
    }
  }, HEARTBEAT_MS);
  watch.unref();

  for (let i = 0; i < Math.max(1, opts.size); i++) {
    const slot = { active: 0, lastBeat: 0, beating: false } as Slot;
    spawn(slot);
    slots.push(slot);
  }
  const sendConfig = (): void => {
    version++;
    const config = opts.config.current();
    for (const s of slots) post(s, { type: 'config', version, config });
  };
  sendConfig();
  const off = opts.config.onChange(sendConfig);

  return {
    start: (ctx, dir, fileName): UploadWork => {
      const slot = slots.reduce((a, b) => (b.active < a.active ? b : a));
      // An idle worker does not keep the process alive; a busy one does.
      if (slot.active++ === 0) slot.worker.ref();
      let resolve!: (r: WorkResult) => void;
      const result = new Promise<WorkResult>((r) => (resolve = r));
      const t: Tracked = { slot, worker: slot.worker, pacer: new Pacer(), streaming: true, resolve };
      tracked.set(ctx.uploadId, t);
      const maxFileBytes = opts.config.current().settings.limits.maxFileBytes;
      post(slot, { type: 'open', version, ctx, dir, fileName, maxFileBytes });
      return {
        push: (chunk) => {
          if (!t.streaming) return undefined;
          if (t.pacer.pending + chunk.length > QUEUE_HIGH_WATER) {
            t.streaming = false; // never resumes: the worker reads the rest from staging
            t.pacer.close();
            return undefined;
          }
          // A copy: ssh2's buffers may be views of a larger one that must not be detached.
          const data = chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.length) as ArrayBuffer;
          t.worker.postMessage({ type: 'chunk', uploadId: ctx.uploadId, data } satisfies ToWorker, [data]);
          return t.pacer.add(chunk.length);
        },
        finish: (path, size) => t.worker.postMessage({ type: 'finish', uploadId: ctx.uploadId, path, size } satisfies ToWorker),
        abort: () => t.worker.postMessage({ type: 'abort', uploadId: ctx.uploadId } satisfies ToWorker),
        result,
      };
    },
    close: async () => {
      off();
      clearInterval(watch);
      closing = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
