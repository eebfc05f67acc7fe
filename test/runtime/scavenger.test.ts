/**
 * The SSH thread's sweeps (gateway/heap-growth.ts, startScavenger): buffers that die young are
 * given back while the thread makes few other objects, as it does during a transfer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SCAVENGE_EVERY_MS, SCAVENGE_GROWTH_BYTES, startScavenger } from '../../gateway/heap-growth.js';

const MiB = 1 << 20;
let stop: (() => void) | undefined;
afterEach(() => {
  stop?.();
  stop = undefined;
});

/** 32 MiB of 64 KiB buffers, each dropped at once (a transfer's socket reads), and few other objects. */
function makeGarbage(): number {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += Buffer.allocUnsafeSlow(64 * 1024).length;
  return sum;
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('scavenger', () => {
  it('gives back dead buffers within a few checks once they pass the growth threshold', async () => {
    stop = startScavenger();
    await settle(2 * SCAVENGE_EVERY_MS);
    const before = process.memoryUsage().arrayBuffers;
    expect(makeGarbage()).toBe(32 * MiB);
    expect(process.memoryUsage().arrayBuffers - before).toBeGreaterThanOrEqual(30 * MiB);
    await settle(3 * SCAVENGE_EVERY_MS);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(SCAVENGE_GROWTH_BYTES);
  });

  it('leaves live buffers alone', async () => {
    stop = startScavenger();
    await settle(2 * SCAVENGE_EVERY_MS);
    const before = process.memoryUsage().arrayBuffers;
    const live = Array.from({ length: 128 }, () => Buffer.alloc(64 * 1024, 1));
    await settle(3 * SCAVENGE_EVERY_MS);
    expect(process.memoryUsage().arrayBuffers - before).toBeGreaterThanOrEqual(7 * MiB);
    expect(live.every((b) => b[65535] === 1)).toBe(true);
  });
});
