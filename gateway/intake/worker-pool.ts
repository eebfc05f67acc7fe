/**
 * Worker threads for the intake: each upload's work runs in one of them, so decryption,
 * validation and re-encryption use another core than the SSH transports. Chunks are copied
 * once and transferred; the upload is paced on the bytes the work has taken (work.ts, Pacer),
 * and past `QUEUE_HIGH_WATER` bytes not yet taken it stops streaming and the worker reads the
 * rest from the staging file at the commit.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../worker-thread.js';
import type { ConfigSource } from '../config/model.js';
import type { Logger } from '../log.js';
import type { FromWorker, ToWorker } from './worker-messages.js';
import { Pacer, QUEUE_HIGH_WATER, toWorkError, type Processor, type UploadWork, type WorkResult } from './work.js';

interface Slot {
  worker: Worker;
  active: number;
}

interface Tracked {
  readonly slot: Slot;
  /** Bytes sent and not yet taken by the work. */
  readonly pacer: Pacer;
  streaming: boolean;
  resolve(r: WorkResult): void;
}

export interface WorkerPoolOptions {
  readonly config: ConfigSource;
  readonly size: number;
  readonly log: Logger;
  /** Called with each thread started, the first ones and those that replace a thread that died (tests use it to make one fail). */
  readonly onWorker?: (worker: Worker) => void;
}

export function workerPoolProcessor(opts: WorkerPoolOptions): Processor {
  const tracked = new Map<string, Tracked>();
  let version = 0;
  let closing = false;
  const slots: Slot[] = [];
  const post = (slot: Slot, m: ToWorker, transfer?: ArrayBuffer[]): void => slot.worker.postMessage(m, transfer);

  /** Ends every upload of `slot` with `result`: its thread failed, their work is lost. */
  const failSlot = (slot: Slot, result: WorkResult): void => {
    for (const [id, t] of tracked) {
      if (t.slot !== slot) continue;
      tracked.delete(id);
      t.streaming = false;
      t.pacer.close();
      t.resolve(result);
    }
    slot.active = 0;
  };

  /**
   * Starts the thread of `slot`. A thread that dies (an error nothing caught, its memory limit)
   * is replaced at once, with the configuration in force: otherwise every later upload given
   * to that slot would wait forever for an answer from a thread that is gone.
   */
  const spawn = (slot: Slot): void => {
    const worker = startWorker(import.meta.url, 'worker');
    slot.worker = worker;
    slot.active = 0;
    worker.on('message', (m: FromWorker) => {
      const t = tracked.get(m.uploadId);
      if (!t) return;
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
      failSlot(slot, toWorkError(err));
    });
    worker.on('exit', (code) => {
      if (closing || slot.worker !== worker) return;
      opts.log.error({ code }, 'intake worker exited: a new one takes its place');
      failSlot(slot, toWorkError(new Error(`intake worker exited (code ${code})`)));
      spawn(slot);
      post(slot, { type: 'config', version, config: opts.config.current() });
    });
    worker.unref();
    opts.onWorker?.(worker);
  };

  for (let i = 0; i < Math.max(1, opts.size); i++) {
    const slot = { active: 0 } as Slot;
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
      const t: Tracked = { slot, pacer: new Pacer(), streaming: true, resolve };
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
          post(slot, { type: 'chunk', uploadId: ctx.uploadId, data }, [data]);
          return t.pacer.add(chunk.length);
        },
        finish: (path, size) => post(slot, { type: 'finish', uploadId: ctx.uploadId, path, size }),
        abort: () => post(slot, { type: 'abort', uploadId: ctx.uploadId }),
        result,
      };
    },
    close: async () => {
      off();
      closing = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
