/**
 * An intake thread that dies (an error nothing caught, its memory limit) or stops answering must
 * not take the gateway's intake with it, nor the uploads that merely shared it: a new thread
 * takes the next uploads, and each upload it had is given again alone on an isolation thread,
 * where only the one that ends or holds that thread too fails (GATEWAY_FAILURE). Before, every
 * later upload given to that slot waited forever for an answer; later, every upload the thread
 * had failed with it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';
import { fixture, startPipeline, type PipelineHarness } from './pipeline-harness.js';
import { publishedStateProblems } from './invariants.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';

/** An upload during which `thread` is ended: it is accepted all the same (given again). */
async function uploadAcrossDeath(h: PipelineHarness, thread: Worker | undefined): Promise<void> {
  const up = h.begin('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')));
  await up.push(0, 1024);
  await thread?.terminate();
  await up.push(1024);
  const retried = await up.finish();
  expect(retried.status, retried.message).toBe('accepted');
}

describe('an intake thread that dies', () => {
  it('gives its upload again on a thread of its own, where it is accepted; the thread that replaces it takes the next ones', async () => {
    const threads: Worker[] = [];
    const h = await startPipeline({ workers: 1, onWorker: (w) => threads.push(w) });
    try {
      expect(threads).toHaveLength(1);
      await uploadAcrossDeath(h, threads[0]);
      // The pool's thread, its replacement, the isolation thread.
      expect(threads).toHaveLength(3);
      for (let k = 0; k < 2; k++) {
        const next = await h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')));
        expect(next.status, next.message).toBe('accepted');
      }
      expect(threads).toHaveLength(3);
      expect(await publishedStateProblems(h.layout, h.state, h.audit)).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('starts another isolation thread when the first dies before it answers, for the retry waiting for it', async () => {
    const threads: Worker[] = [];
    // The third thread started is the isolation thread: ended at once, before its first heartbeat.
    const h = await startPipeline({ workers: 1, onWorker: (w) => (threads.push(w) === 3 ? void w.terminate() : undefined) });
    try {
      await uploadAcrossDeath(h, threads[0]);
      expect(threads).toHaveLength(4);
    } finally {
      await h.close();
    }
  });

  it('fails only the upload that ends the isolation thread too', async () => {
    const threads: Worker[] = [];
    const h = await startPipeline({ workers: 1, onWorker: (w) => threads.push(w), workerModule: new URL('./blocking-worker.ts', import.meta.url) });
    try {
      const first = await h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')));
      expect(first.status, first.message).toBe('accepted');
      const innocent = h.begin('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')), 'innocent.csv.pgp');
      await innocent.push(0, 512);
      const killer = await h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')), 'plante.csv.pgp');
      expect(killer.status).toBe('failed');
      expect(killer.code).toBe('GATEWAY_FAILURE');
      await innocent.push(512);
      const spared = await innocent.finish();
      expect(spared.status, spared.message).toBe('accepted');
      // The pool's thread and its replacement, the isolation thread and the one after it.
      expect(threads).toHaveLength(4);
      expect(h.state.getUpload(killer.uploadId)?.state).toBe('failed');
      expect(await publishedStateProblems(h.layout, h.state, h.audit)).toEqual([]);
    } finally {
      await h.close();
    }
  });
});

describe('a sealing thread that dies', () => {
  it('gives the uploads whose deliveries it was sealing again, on a thread of their own, where they are accepted', async () => {
    const log = captureLog();
    const h = await startPipeline({ workers: 1, workerModule: new URL('./blocking-worker.ts', import.meta.url), logTo: log.stream });
    try {
      const bytes = h.seal('police-nationale', fixture('faits-4001.csv'));
      const sealed = h.begin('police-nationale', 'faits-4001', bytes, 'victime.csv.pgp');
      await sealed.push(0, bytes.length - 16);
      await vi.waitFor(() => expect(readdirSync(join(h.layout.pending, sealed.uploadId)).length).toBeGreaterThan(0), { timeout: 20_000 });
      // Ends the sealing thread that has this upload's deliveries, then goes through on a new one.
      const trigger = await h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')), 'scelle.csv.pgp');
      expect(trigger.status, trigger.message).toBe('accepted');
      await sealed.push(bytes.length - 16);
      const done = await sealed.finish();
      expect(done.status, `${done.message}\n${JSON.stringify(log.lines)}`).toBe('accepted');
      const again = log.withMessage('upload given again');
      // The trigger's own deliveries may have started on the thread being ended: given again too.
      expect(again.map((l) => l['upload'])).toContain(sealed.uploadId);
      expect(again.map((l) => l['upload']).every((id) => id === sealed.uploadId || id === trigger.uploadId)).toBe(true);
      expect(await publishedStateProblems(h.layout, h.state, h.audit)).toEqual([]);
    } finally {
      await h.close();
    }
  });
});

describe('an intake thread that stops answering', () => {
  // Generous: a loaded test machine must not starve a healthy thread this long.
  const STALL_MS = 3000;

  /** One intake thread that holds its loop on uploads named "bloque…" (blocking-worker.ts); its threads and log lines. */
  async function startBlocking(): Promise<{ h: PipelineHarness; threads: Worker[]; log: CapturedLog }> {
    const threads: Worker[] = [];
    const log = captureLog();
    const h = await startPipeline({
      workers: 1,
      onWorker: (w) => threads.push(w),
      workerModule: new URL('./blocking-worker.ts', import.meta.url),
      limits: { intakeThreadStallMs: STALL_MS },
      logTo: log.stream,
    });
    return { h, threads, log };
  }

  it('is ended after limits.intakeThreadStallMs: its upload, held again alone, fails; the next ones are accepted by a new thread', async () => {
    const { h, threads, log } = await startBlocking();
    try {
      // The thread answers (it is judged on its heartbeats from then on, not while it starts).
      const first = await h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')));
      expect(first.status, JSON.stringify(log.lines)).toBe('accepted');
      // A healthy thread with an upload in hand and nothing to do for longer than the limit (a
      // slow client) keeps sending heartbeats: it is not ended.
      const slow = h.begin('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')), 'lent.csv.pgp');
      await slow.push(0, 512);
      await new Promise((r) => setTimeout(r, STALL_MS + 1500));
      await slow.push(512);
      const ok = await slow.finish();
      expect(ok.status, JSON.stringify(log.lines)).toBe('accepted');
      expect(threads).toHaveLength(1);

      const started = performance.now();
      const held = await h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')), 'bloque.csv.pgp');
      expect(held.status).toBe('failed');
      expect(held.code).toBe('GATEWAY_FAILURE');
      // Held on the pool's thread, then again alone on the isolation thread (two more threads).
      expect(performance.now() - started).toBeGreaterThanOrEqual(2 * STALL_MS);
      expect(threads).toHaveLength(4);
      expect(h.state.getUpload(held.uploadId)?.state).toBe('failed');
      expect(existsSync(join(h.layout.pending, held.uploadId))).toBe(false);
      expect(log.withMessage('intake worker unresponsive').map((l) => l['uploads'])).toEqual([[held.uploadId], [held.uploadId]]);

      for (let k = 0; k < 2; k++) {
        const next = await h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')));
        expect(next.status, next.message).toBe('accepted');
      }
      expect(threads).toHaveLength(4);
    } finally {
      await h.close();
    }
  });

  it('gives the uploads that shared the held thread again, one by one: only the one that holds a thread again fails', async () => {
    const { h, threads, log } = await startBlocking();
    try {
      const first = await h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')));
      expect(first.status, JSON.stringify(log.lines)).toBe('accepted');

      // Four uploads on the one thread when it is held: one whose client is still sending (most
      // of its bytes already worked on: its sealed files are started in pending/), one whose
      // connection will drop, one complete and committed, waiting for its verdict, and the one
      // that holds the thread.
      const sending = h.seal('police-nationale', fixture('faits-4001.csv'));
      const slow = h.begin('police-nationale', 'faits-4001', sending, 'lent.csv.pgp');
      await slow.push(0, sending.length - 16);
      const dropped = h.begin('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')), 'coupe.csv.pgp');
      await dropped.push(0, 256);
      const ready = h.begin('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')), 'pret.csv.pgp');
      await ready.push(0);
      await new Promise((r) => setTimeout(r, 500));
      expect(readdirSync(join(h.layout.pending, slow.uploadId)).length).toBeGreaterThan(0);
      const started = performance.now();
      const holding = h.begin('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')), 'bloque.csv.pgp');
      await holding.push(0);
      const readyVerdict = ready.finish();
      const held = await holding.finish();

      // Held twice: on the pool's thread, then alone on the isolation thread.
      expect(held.status).toBe('failed');
      expect(held.code).toBe('GATEWAY_FAILURE');
      expect(performance.now() - started).toBeGreaterThanOrEqual(2 * STALL_MS);
      const stalls = log.withMessage('intake worker unresponsive');
      expect(stalls).toHaveLength(2);
      expect(new Set(stalls[0]?.['uploads'] as string[])).toEqual(new Set([slow.uploadId, dropped.uploadId, ready.uploadId, held.uploadId]));
      expect(stalls[0]?.['isolation']).toBe(false);
      expect(stalls[1]?.['uploads']).toEqual([held.uploadId]);
      expect(stalls[1]?.['isolation']).toBe(true);
      // The pool's thread and its replacement, the isolation thread and its replacement.
      expect(threads).toHaveLength(4);
      expect(new Set(log.withMessage('upload given again').map((l) => l['upload']))).toEqual(new Set([slow.uploadId, dropped.uploadId, ready.uploadId, held.uploadId]));

      // A connection lost while its upload waits for the isolation thread ends it there and then.
      expect(h.state.getUpload(dropped.uploadId)?.state).toBe('receiving');
      dropped.abort();
      await vi.waitFor(() => expect(h.state.getUpload(dropped.uploadId)?.state).toBe('failed'));
      expect(existsSync(join(h.layout.pending, dropped.uploadId))).toBe(false);

      // The others are decided as if nothing had happened, each delivered once.
      const readyDone = await readyVerdict;
      expect(readyDone.status, JSON.stringify(log.lines)).toBe('accepted');
      await slow.push(sending.length - 16);
      const slowDone = await slow.finish();
      expect(slowDone.status, JSON.stringify(log.lines)).toBe('accepted');
      const ludres = readdirSync(join(h.layout.outbox, 'ludres', 'faits-4001'));
      for (const id of [slowDone.uploadId, readyDone.uploadId]) expect(ludres.filter((f) => f.includes(id) && f.endsWith('.ndjson.pgp'))).toHaveLength(1);
      expect(h.state.getUpload(held.uploadId)?.state).toBe('failed');
      expect(await publishedStateProblems(h.layout, h.state, h.audit)).toEqual([]);

      const next = await h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')));
      expect(next.status, next.message).toBe('accepted');
    } finally {
      await h.close();
    }
  });
});
