/**
 * V8's old-generation growth, fixed for a gateway's workload.
 *
 * The SSH thread allocates ArrayBuffers at the pace of the transfer (socket reads, packets that
 * span reads, SFTP requests that span channel packets): hundreds of MB/s, nearly all dead
 * within a millisecond. V8 counts the external memory allocated since the last full collection
 * against the old generation's allocation limit, and starts marking once what is left of it falls
 * below the young generation's size. After each full collection the limit is set to the live
 * size times a growing factor that V8 derives from how much time collections took. Under
 * transfer load the process could fall into a trap: a limit of ~2.4× a 17 MB heap, a full
 * collection every 20-40 ms (every 8-14 MB transferred), the collections' cost keeping the
 * factor low. A 512 MiB upload then took 34-44 full collections and twice the CPU (user
 * 1.5-1.7 s instead of 0.8-1.0 s, 330-380 MB/s instead of 450-550), in about half of the
 * processes started, depending on early timing; downloads the same (290-340 → 405-465 MB/s).
 *
 * A fixed factor keeps the limit far enough. Processes without a storm (full GCs per upload):
 * factor 2, 0 of 6; 3, 6 of 6 then 5 of 5 (0-3); 4, 16 of 16 (0-2). It costs memory in the intake
 * threads, whose old generation may grow further between collections: peak RSS of the process
 * during a 256 MiB intake 404-431 MiB without, 448-470 MiB with 3, 478-505 MiB with 4, the intake
 * ~5 % faster with either. Factor 3 it is. The flag is process-wide: worker threads get it too.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const HEAP_GROWING_PERCENT = 200;

let applied = false;

/** Applies the fixed growing factor (once per process; V8 reads it at each full collection). */
export function fixHeapGrowth(): void {
  if (applied) return;
  applied = true;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

type Gc = (options?: { type: 'minor' | 'major' }) => void;
let gc: Gc | undefined;

/**
 * V8's `gc`, which is not exposed by default: the flag only adds it to contexts made after it.
 * Once per thread: each call would make a new context (tests start many gateways in one process).
 */
export function exposedGc(): Gc {
  if (gc) return gc;
  setFlagsFromString('--expose-gc');
  gc = runInNewContext('gc') as Gc;
  return gc;
}

/** How often the SSH thread's ArrayBuffers are looked at. */
export const SCAVENGE_EVERY_MS = 100;
/** Growth of the SSH thread's ArrayBuffers since the last sweep past which its young generation is swept. */
export const SCAVENGE_GROWTH_BYTES = 4 << 20;

/**
 * Sweeps the SSH thread's young generation while its ArrayBuffers grow: returns the stop function.
 *
 * Why: this thread makes few JS objects per megabyte (a socket read, a decrypted packet, an
 * SFTP request each carry tens of KiB), so its young generation rarely fills and V8 rarely
 * sweeps it; the buffers those objects hold, dead within a millisecond, pile up in the meantime
 * and glibc keeps the memory they took. A minor collection (1-3 ms here) frees them. Measured,
 * standalone gateway accepting a 256 MiB export (3 runs each): peak RSS 286-292 MiB without,
 * 251-256 MiB with a sweep every 100 ms, 261-264 MiB with one each time the ArrayBuffers grew
 * by 4 MiB, checked every 10 ms; the 1 GiB export 297 → 273-281 MiB. A 512 MiB upload:
 * 152-169 MiB → 131-144 with a sweep every 10 ms. Not more often: each sweep stops the thread.
 */
export function startScavenger(): () => void {
  const collect = exposedGc();
  let base = process.memoryUsage().arrayBuffers;
  const timer = setInterval(() => {
    const now = process.memoryUsage().arrayBuffers;
    if (now - base < SCAVENGE_GROWTH_BYTES) {
      base = Math.min(base, now);
      return;
    }
    collect({ type: 'minor' });
    base = process.memoryUsage().arrayBuffers;
  }, SCAVENGE_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
