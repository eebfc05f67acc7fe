/**
 * Worker threads for the intake: each upload's work runs in one of them, so decryption,
 * validation and re-encryption use another core than the SSH transports. Chunks are copied
 * once and transferred; the upload is paced on the bytes the work has taken (work.ts, Pacer),
 * and past `QUEUE_HIGH_WATER` bytes not yet taken it stops streaming and the worker reads the
 * rest from the staging file at the commit.
 *
 * A thread that dies (an error nothing caught, its memory limit) or stops answering (ended by
 * the watchdog below) is replaced, as is a sealing thread that dies under an intake thread.
 * Which upload caused it is not known, so each upload that thread had is given again, alone, to
 * an isolation thread, once its staging file is complete: the one that ends or holds a thread
 * again fails, the others get their verdict as if nothing had happened. Nothing of an attempt
 * survives it: its pending files are removed before the next one starts, and it starts only
 * once the thread of the first is gone (or, for a sealing thread, once the intake thread has
 * settled every sealing job of the upload).
 */
import type { Worker } from 'node:worker_threads';
import { removeTree } from '../publish/fsutil.js';
import { startWorker, startWorkerModule } from '../worker-thread.js';
import type { ConfigSource } from '../config/model.js';
import type { Logger } from '../log.js';
import type { UploadContext } from './contract.js';
import { HEARTBEAT_MS, type FromWorker, type ToWorker } from './worker-messages.js';
import { Pacer, QUEUE_HIGH_WATER, toWorkError, type Processor, type UploadWork, type WorkResult } from './work.js';

interface Slot {
  worker: Worker;
  active: number;
  /** When the slot's thread last said its event loop turns (any message counts), or was started. */
  lastBeat: number;
  /** Whether it has said so at all: a thread still loading its modules has not. */
  beating: boolean;
  /** Ended on purpose (an idle isolation thread): its exit is not a death to make up for. */
  retired?: boolean;
}

interface Tracked {
  slot: Slot;
  /** The thread doing the work: the slot may have another by the time it ends. */
  worker: Worker;
  /** Bytes sent and not yet taken by the work. */
  readonly pacer: Pacer;
  streaming: boolean;
  /** What the work was started with, to start it again on the isolation thread. */
  readonly ctx: UploadContext;
  readonly dir: string;
  readonly fileName: string;
  /** The committed staging file, once the SFTP layer has said so. */
  committed?: { readonly path: string; readonly size: number };
  aborted: boolean;
  /** On (or waiting for) the isolation thread: losing that thread too fails it. */
  retried: boolean;
  /** Waiting for the isolation thread: no thread has it. */
  queued: boolean;
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

  /** The isolation thread (started when needed), the retries waiting for it, and the one it runs. */
  let isolation: Slot | undefined;
  const retries: Tracked[] = [];
  let retrying: Tracked | undefined;
  /** `retrying`'s pending files are removed: it waits only for the isolation thread's first heartbeat. */
  let handOver = false;
  const allSlots = (): Slot[] => (isolation ? [...slots, isolation] : slots);
  /** The uploads `worker` is working on (for the log). */
  const uploadsOn = (worker: Worker): string[] => [...tracked].filter(([, t]) => t.worker === worker && !t.queued).map(([id]) => id);

  /** `t` is no longer on its thread: no more bytes streamed to it, its slot counts it no more. */
  const leaveThread = (t: Tracked): void => {
    t.streaming = false;
    t.pacer.close();
    // A slot whose thread was replaced counts only the new thread's uploads.
    if (t.slot.worker === t.worker && --t.slot.active === 0) t.worker.unref();
  };

  /** The upload's work is over, with `result`. */
  const settle = (id: string, t: Tracked, result: WorkResult): void => {
    if (tracked.get(id) !== t) return;
    tracked.delete(id);
    if (!t.queued) leaveThread(t);
    t.queued = false;
    t.resolve(result);
    if (retrying === t) {
      retrying = undefined;
      pumpRetries();
    }
  };

  /** Ends every upload `worker` was working on with `result`: that thread failed, their work is lost. */
  const failWorker = (worker: Worker, result: WorkResult): void => {
    for (const [id, t] of tracked) if (t.worker === worker && !t.queued) settle(id, t, result);
  };

  /**
   * `worker` died or was ended for holding its event loop, and is gone: its uploads wait for the
   * isolation thread, except one that was already there (that one did it: `result`).
   */
  const retryWorker = (worker: Worker, result: WorkResult): void => {
    for (const [id, t] of tracked) if (t.worker === worker && !t.queued) giveAgain(id, t, result);
    pumpRetries();
  };

  /**
   * `t` waits for the isolation thread (its work is over where it was: nothing writes for it),
   * or fails with `result` if it was there already.
   */
  const giveAgain = (id: string, t: Tracked, result: WorkResult): void => {
    if (t.retried) return settle(id, t, result);
    leaveThread(t); // the work will read the whole file from staging
    t.retried = true;
    t.queued = true;
    retries.push(t);
    opts.log.warn({ upload: id }, 'upload given again to a thread of its own');
  };

  /** Starts the next retry whose file is committed, one at a time, on the isolation thread. */
  const pumpRetries = (): void => {
    if (closing) return;
    // An upload that ended without its commit (a dropped connection) leaves the queue at once.
    for (const t of retries.filter((r) => r.aborted)) {
      retries.splice(retries.indexOf(t), 1);
      settle(t.ctx.uploadId, t, toWorkError(new Error('aborted')));
    }
    if (retrying) return;
    const i = retries.findIndex((t) => t.committed !== undefined);
    if (i < 0) {
      if (retries.length === 0 && isolation) {
        const idle = isolation;
        isolation = undefined;
        idle.retired = true;
        void idle.worker.terminate();
      }
      return;
    }
    const t = retries.splice(i, 1)[0] as Tracked;
    const id = t.ctx.uploadId;
    retrying = t;
    // What the ended thread left of this upload goes first: the work creates its files anew.
    void removeTree(t.dir).then(
      () => {
        if (closing || tracked.get(id) !== t) return;
        startIsolation();
        handOver = true;
        launch();
      },
      (e: unknown) => settle(id, t, toWorkError(e)),
    );
  };

  /**
   * Hands the retry to the isolation thread once that thread has answered: a thread is judged on
   * its heartbeats only from its first one, and a retry that held it before that would be given
   * the start-up grace instead of the limit.
   */
  const startIsolation = (): void => {
    if (isolation) return;
    isolation = { active: 0, lastBeat: 0, beating: false } as Slot;
    replace(isolation);
  };
  const launch = (): void => {
    const t = retrying;
    const slot = isolation;
    if (!handOver || t === undefined || slot === undefined || !slot.beating) return;
    handOver = false;
    t.slot = slot;
    t.worker = slot.worker;
    t.queued = false;
    if (slot.active++ === 0) slot.worker.ref();
    const { path, size } = t.committed as { path: string; size: number };
    post(slot, { type: 'open', version, ctx: t.ctx, dir: t.dir, fileName: t.fileName, maxFileBytes: opts.config.current().settings.limits.maxFileBytes });
    post(slot, { type: 'finish', uploadId: t.ctx.uploadId, path, size });
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
        const first = !slot.beating;
        slot.beating = true;
        if (first && slot === isolation) launch();
      }
      if (m.type === 'beat') return;
      const t = tracked.get(m.uploadId);
      if (!t || t.worker !== worker) return;
      if (m.type === 'ack') t.pacer.take(m.bytes);
      else if (m.result.threadDied === true && !closing) {
        // A sealing thread died under it: as for an intake thread that dies, the upload is
        // given again alone (the sealing thread is replaced for the next uploads).
        giveAgain(m.uploadId, t, m.result);
        pumpRetries();
      }
      // The work ended (a verdict may come before the last byte): the rest goes to staging only.
      else settle(m.uploadId, t, m.result);
    });
    // 'error' comes before 'exit': the uploads are dealt with at the exit, once the thread is gone.
    let error: Error | undefined;
    worker.on('error', (err) => {
      opts.log.error({ err: err.message }, 'intake worker failed');
      error ??= err;
    });
    worker.on('exit', (code) => {
      if (closing || slot.retired === true || slot.worker !== worker) return;
      opts.log.error({ code, uploads: uploadsOn(worker), isolation: slot === isolation }, 'intake worker exited: a new one takes its place');
      // As for a thread that stops answering, which upload made it die is not known: each is
      // given again alone, and one that ends the isolation thread too fails.
      if (slot === isolation) {
        isolation = undefined;
        slot.retired = true;
        // A retry about to be handed over (the thread died before its first heartbeat) needs one.
        if (handOver) startIsolation();
      } else {
        replace(slot);
      }
      retryWorker(worker, toWorkError(error ?? new Error(`intake worker exited (code ${code})`)));
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
   * past `limits.intakeThreadStallMs` with uploads in hand it is ended and a new thread serves
   * the next ones; its uploads go to the isolation thread one by one (see the top of this file).
   * Without this, one such upload stops the intake for good.
   */
  let lastTick = performance.now();
  const watch = setInterval(() => {
    const now = performance.now();
    const stallMs = opts.config.current().settings.limits.intakeThreadStallMs;
    const late = now - lastTick > Math.max(stallMs / 2, 4 * HEARTBEAT_MS);
    lastTick = now;
    for (const slot of allSlots()) {
      // This thread itself was held (or the process stopped): the silence says nothing of the worker's.
      if (late) slot.lastBeat = now;
      const silentMs = now - slot.lastBeat;
      if (slot.active === 0 || silentMs <= (slot.beating ? stallMs : Math.max(stallMs, STARTUP_GRACE_MS))) continue;
      const stuck = slot.worker;
      opts.log.error({ silentMs: Math.round(silentMs), uploads: uploadsOn(stuck), isolation: slot === isolation }, 'intake worker unresponsive: ended, a new one takes its place');
      replace(slot);
      // The uploads are given again (or fail) once the thread is gone, so that nothing it still
      // writes outlives their cleanup. A thread held in a system call that does not return
      // cannot be ended before it does: past TERMINATE_WAIT_MS its uploads fail, as it might
      // still write into their pending files.
      const failed = toWorkError(new Error(`intake worker unresponsive for ${Math.round(silentMs)} ms`));
      let waited: NodeJS.Timeout | undefined;
      const gone = Promise.race([stuck.terminate().then(() => true), new Promise<false>((r) => (waited = setTimeout(() => r(false), TERMINATE_WAIT_MS)))]);
      void gone.then((ended) => {
        clearTimeout(waited);
        if (ended) retryWorker(stuck, failed);
        else failWorker(stuck, failed);
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
    for (const s of allSlots()) post(s, { type: 'config', version, config });
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
      const t: Tracked = { slot, worker: slot.worker, pacer: new Pacer(), streaming: true, ctx, dir, fileName, aborted: false, retried: false, queued: false, resolve };
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
        finish: (path, size) => {
          t.committed = { path, size };
          if (t.queued) pumpRetries();
          else t.worker.postMessage({ type: 'finish', uploadId: ctx.uploadId, path, size } satisfies ToWorker);
        },
        abort: () => {
          t.aborted = true;
          if (t.queued) pumpRetries();
          else t.worker.postMessage({ type: 'abort', uploadId: ctx.uploadId } satisfies ToWorker);
        },
        result,
      };
    },
    close: async () => {
      off();
      clearInterval(watch);
      closing = true;
      for (const t of retries.splice(0)) settle(t.ctx.uploadId, t, toWorkError(new Error('intake closing')));
      await Promise.all(allSlots().map((s) => s.worker.terminate()));
    },
  };
}
