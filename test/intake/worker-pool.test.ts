/**
 * An intake thread that dies (an error nothing caught, its memory limit) must not take the
 * gateway's intake with it: the upload it was working on fails with GATEWAY_FAILURE, and a new
 * thread takes the next ones. Before, every later upload given to that slot waited forever for an
 * answer (with one intake thread, the default on two cores, every upload).
 */
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { fixture, startPipeline } from './pipeline-harness.js';

describe('an intake thread that dies', () => {
  it('fails the upload it was working on; the thread that replaces it accepts the next ones', async () => {
    const threads: Worker[] = [];
    const h = await startPipeline({ workers: 1, onWorker: (w) => threads.push(w) });
    try {
      expect(threads).toHaveLength(1);
      const up = h.begin('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')));
      await up.push(0, 1024);
      await threads[0]?.terminate();
      await up.push(1024);
      const failed = await up.finish();
      expect(failed.status).toBe('failed');
      expect(failed.code).toBe('GATEWAY_FAILURE');

      expect(threads).toHaveLength(2);
      for (let k = 0; k < 2; k++) {
        const next = await h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')));
        expect(next.status, next.message).toBe('accepted');
      }
    } finally {
      await h.close();
    }
  });
});

describe('an intake thread that stops answering', () => {
  // Generous: a loaded test machine must not starve a healthy thread this long.
  const STALL_MS = 3000;

  it('is ended after limits.intakeThreadStallMs: its upload fails, the next ones are accepted by a new thread', async () => {
    const threads: Worker[] = [];
    const lines: string[] = [];
    const logTo = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const h = await startPipeline({
      workers: 1,
      onWorker: (w) => threads.push(w),
      workerModule: new URL('./blocking-worker.ts', import.meta.url),
      limits: { intakeThreadStallMs: STALL_MS },
      logTo,
    });
    try {
      // The thread answers (it is judged on its heartbeats from then on, not while it starts).
      const first = await h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')));
      expect(first.status, lines.join('\n')).toBe('accepted');
      // A healthy thread with an upload in hand and nothing to do for longer than the limit (a
      // slow client) keeps sending heartbeats: it is not ended.
      const slow = h.begin('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')), 'lent.csv.pgp');
      await slow.push(0, 512);
      await new Promise((r) => setTimeout(r, STALL_MS + 1500));
      await slow.push(512);
      const ok = await slow.finish();
      expect(ok.status, lines.join('\n')).toBe('accepted');
      expect(threads).toHaveLength(1);

      const started = performance.now();
      const held = await h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')), 'bloque.csv.pgp');
      expect(held.status).toBe('failed');
      expect(held.code).toBe('GATEWAY_FAILURE');
      expect(performance.now() - started).toBeGreaterThanOrEqual(STALL_MS);
      expect(threads).toHaveLength(2);
      expect(h.state.getUpload(held.uploadId)?.state).toBe('failed');
      expect(existsSync(join(h.layout.pending, held.uploadId))).toBe(false);
      const logged = lines.map((l) => JSON.parse(l) as { msg: string; uploads?: string[] }).find((l) => l.msg.startsWith('intake worker unresponsive'));
      expect(logged?.uploads).toEqual([held.uploadId]);

      for (let k = 0; k < 2; k++) {
        const next = await h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')));
        expect(next.status, next.message).toBe('accepted');
      }
      expect(threads).toHaveLength(2);
    } finally {
      await h.close();
    }
  });
});
