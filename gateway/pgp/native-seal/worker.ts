/**
 * Worker thread side of the seal pool (pool.ts): runs NativeSealers for the jobs it is given.
 * Input chunks arrive transferred; each answer carries the output completed so far and how many
 * input bytes it consumed (the main side's credit).
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, constants, fdatasyncSync, fsyncSync, openSync, writeSync, writevSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { exposedGc } from '../../heap-growth.js';
import { NativeSealer } from '../seal-native.js';
import type { ToSealWorker, FromSealWorker } from './messages.js';

/**
 * This thread allocates almost nothing but ArrayBuffers (the batches it is sent, the ciphertext
 * it makes), and V8 collects dead ones only once their total has grown by 64 MiB since its last
 * full collection, which a heap this small rarely needs otherwise: sealing a large export kept
 * ~50 MiB of dead buffers here. A full collection of this ~10 MiB heap every 16 MiB sealed (a
 * few milliseconds) bounds that: 256 MiB export, standalone gateway peak RSS 410 → 354 MiB.
 */
const collect = exposedGc();
const COLLECT_EVERY_BYTES = 16 << 20;
let sinceCollect = 0;

function sealedBytes(n: number): void {
  sinceCollect += n;
  if (sinceCollect < COLLECT_EVERY_BYTES) return;
  sinceCollect = 0;
  collect();
}

const port = parentPort;
if (port === null) throw new Error('seal worker started outside a worker thread');
const jobs = new Map<number, NativeSealer>();
interface OutFile { readonly fd: number; readonly hash: Hash; size: number; unsynced: number }
/** File jobs: the output goes to `fd` here, hashed, instead of back to the caller. */
const files = new Map<number, OutFile>();

/**
 * Written bytes of all files not yet flushed to disk past which they are flushed while the
 * sealing goes on. Each file is fsynced before its upload's verdict; left to the end, that
 * flush was the sealed size of the whole export (every record is written twice: observatory
 * and commune), over a second for a 256 MiB export. Synchronous: this thread has time to
 * spare, and the disk does the same work either way.
 */
const FLUSH_EVERY_BYTES = 32 << 20;
let unsyncedTotal = 0;

/** Hashes and writes the pieces as they were made: one writev, no copy into one buffer. */
function writeOut(f: OutFile, parts: Uint8Array[]): void {
  let bytes = 0;
  for (const p of parts) {
    f.hash.update(p);
    bytes += p.byteLength;
  }
  if (bytes === 0) return;
  f.size += bytes;
  writeAll(f.fd, parts, bytes);
  f.unsynced += bytes;
  unsyncedTotal += bytes;
  if (unsyncedTotal < FLUSH_EVERY_BYTES) return;
  for (const file of files.values()) {
    if (file.unsynced === 0) continue;
    fdatasyncSync(file.fd);
    file.unsynced = 0;
  }
  unsyncedTotal = 0;
}

/** writev until everything is written (a short write resumes where it stopped). */
function writeAll(fd: number, parts: Uint8Array[], bytes: number): void {
  let done = writevSync(fd, parts);
  if (done === bytes) return;
  for (const p of parts) {
    if (done >= p.byteLength) {
      done -= p.byteLength;
      continue;
    }
    for (let off = done; off < p.byteLength; ) off += writeSync(fd, p, off);
    done = 0;
  }
}

function closeFile(id: number): void {
  const f = files.get(id);
  files.delete(id);
  if (!f) return;
  unsyncedTotal -= f.unsynced;
  closeSync(f.fd);
}

/** Posts `chunk`, transferring its memory when it owns all of it (never a pooled slab). */
function post(m: FromSealWorker, chunk: Uint8Array | null): void {
  if (chunk !== null && chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength) {
    port?.postMessage(m, [chunk.buffer as ArrayBuffer]);
  } else {
    port?.postMessage(m);
  }
}

port.on('message', (m: ToSealWorker) => {
  try {
    if (m.type === 'start') {
      jobs.set(m.id, NativeSealer.fromInit(m.init));
    } else if (m.type === 'start-file') {
      const fd = openSync(m.path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      files.set(m.id, { fd, hash: createHash('sha256'), size: 0, unsynced: 0 });
      jobs.set(m.id, NativeSealer.fromInit(m.init));
    } else if (m.type === 'data') {
      const sealer = jobs.get(m.id);
      if (sealer === undefined) return; // aborted
      const file = files.get(m.id);
      if (file) {
        writeOut(file, sealer.updateParts(m.chunk));
        sealedBytes(m.chunk.byteLength);
        port.postMessage({ type: 'ack', id: m.id, consumed: m.chunk.byteLength } satisfies FromSealWorker);
        return;
      }
      const out = sealer.update(m.chunk);
      sealedBytes(m.chunk.byteLength);
      const chunk = out === null ? null : new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      post({ type: 'out', id: m.id, consumed: m.chunk.byteLength, chunk }, chunk);
    } else if (m.type === 'end') {
      const sealer = jobs.get(m.id);
      if (sealer === undefined) return;
      jobs.delete(m.id);
      const file = files.get(m.id);
      if (file) {
        writeOut(file, sealer.finalParts());
        fsyncSync(file.fd);
        closeFile(m.id);
        port.postMessage({ type: 'sealed', id: m.id, sha256: file.hash.digest('hex'), size: file.size } satisfies FromSealWorker);
        return;
      }
      const out = sealer.final();
      const chunk = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      post({ type: 'done', id: m.id, chunk }, chunk);
    } else {
      jobs.delete(m.id);
      closeFile(m.id);
    }
  } catch (e) {
    jobs.delete(m.id);
    try {
      closeFile(m.id);
    } catch {
      // the error reported is the first one
    }
    const code = (e as { code?: unknown } | null)?.code;
    port.postMessage({ type: 'error', id: m.id, message: e instanceof Error ? e.message : String(e), ...(typeof code === 'string' ? { code } : {}) } satisfies FromSealWorker);
  }
});
