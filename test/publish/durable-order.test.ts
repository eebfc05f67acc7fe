import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { StateStore } from '../../gateway/store/state.js';
import { fixture, startPipeline, type PipelineHarness } from '../intake/pipeline-harness.js';

/** Every file under `dir` (relative paths). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

// A decision is on disk when the promise of `decide` resolves (store/wal-sync.ts). Here it
// resolves only when the test says so: nothing may reach a recipient's outbox or the partner's
// receipts before, or a crash could leave published files that recovery would not know were
// decided.
let h: PipelineHarness;
let release: (() => void) | undefined;
let decideCalls = 0;
beforeAll(async () => {
  h = await startPipeline({
    workers: 0,
    wrapState: (s: StateStore): StateStore => ({
      ...s,
      decide: async (...args) => {
        decideCalls++;
        const onDisk = s.decide(...args);
        await new Promise<void>((r) => (release = r));
        await onDisk;
      },
    }),
  });
});
afterAll(async () => {
  release?.();
  await h?.close();
});

describe('commit order', () => {
  it('publishes nothing before the decision is durable in the state database', async () => {
    const verdict = h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')));
    // Wait until the commit is held at its durability point.
    for (let i = 0; i < 600 && release === undefined; i++) await new Promise((r) => setTimeout(r, 50));
    expect(release).toBeDefined();
    expect(decideCalls).toBe(1);
    expect(filesUnder(h.layout.outbox)).toEqual([]);
    expect(filesUnder(h.layout.receipts)).toEqual([]);
    release!();
    const v = await verdict;
    expect(v.status).toBe('accepted');
    expect(filesUnder(h.layout.outbox).filter((f) => f.includes(v.uploadId)).length).toBeGreaterThan(0);
    expect(filesUnder(h.layout.receipts)).toContain(join('police-nationale', `${v.uploadId}.json`));
  });
});
