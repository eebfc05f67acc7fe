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

export const HEAP_GROWING_PERCENT = 200;

let applied = false;

/** Applies the fixed growing factor (once per process; V8 reads it at each full collection). */
export function fixHeapGrowth(): void {
  if (applied) return;
  applied = true;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
