/**
 * The staging I/O thread: it hashes and writes upload batches, so that the thread running the
 * SSH transports only copies each WRITE's bytes into a batch. SHA-256 and the write system
 * calls were a third of that thread's time on a 512 MiB upload, and an SFTP upload is bound by
 * that thread (performance.md). One thread serves every upload of the process; it keeps the
 * process alive only while it has work. Batches are transferred, not copied, and come back to
 * be reused.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../worker-thread.js';

export type ToStagingIo =
  /** Write `len` bytes of `buf` at `position` of `fd`; first add them to hash `hashId` when given. */
  | { readonly type: 'write'; readonly seq: number; readonly fd: number; readonly position: number; readonly buf: ArrayBuffer; readonly len: number; readonly hashId: number | undefined }
  /** The SHA-256 of everything added to `hashId`; forgets it. */
  | { readonly type: 'digest'; readonly seq: number; readonly hashId: number };

export type FromStagingIo =
  | { readonly type: 'written'; readonly seq: number; readonly buf: ArrayBuffer; readonly error: string | undefined }
  | { readonly type: 'digest'; readonly seq: number; readonly sha256: string };

const BATCH_BYTES = 1024 * 1024;
/** Batches kept for reuse (more are made when needed, and left to the GC). */
const POOL_MAX = 64;

interface Pending {
  resolve(value: FromStagingIo): void;
  reject(err: Error): void;
}

let worker: Worker | undefined;
const pending = new Map<number, Pending>();
const pool: ArrayBuffer[] = [];
let nextSeq = 1;
let nextHashId = 1;
/** Threads started so far: a running hash lives in the thread that started it. */
let generation = 0;
/** The thread (generation) holding each running hash; a hash whose thread died is lost. */
const hashThread = new Map<number, number>();

function thread(): Worker {
  if (worker) return worker;
  generation++;
  const w = startWorker(import.meta.url, 'staging-io-worker');
  w.on('message', (m: FromStagingIo) => {
    const p = pending.get(m.seq);
    if (!p) return;
    pending.delete(m.seq);
    if (pending.size === 0) w.unref();
    p.resolve(m);
  });
  // 'error' then 'exit': once, and only while the calls pending are this thread's.
  const fail = (err: Error): void => {
    if (worker !== w) return;
    worker = undefined;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`staging I/O thread exited (${code})`)));
  w.unref();
  worker = w;
  return w;
}

function call(m: ToStagingIo, transfer: ArrayBuffer[] = []): Promise<FromStagingIo> {
  const w = thread();
  if (m.hashId !== undefined) {
    const holder = hashThread.get(m.hashId) ?? generation;
    if (m.type === 'digest') hashThread.delete(m.hashId);
    else hashThread.set(m.hashId, holder);
    // The thread that held this hash died: a new one would answer the hash of only the bytes
    // it saw since. The write is still made; the digest fails, and the file is hashed again.
    if (holder !== generation) {
      if (m.type === 'digest') return Promise.reject(new Error('staging I/O thread restarted: running hash lost'));
      m = { ...m, hashId: undefined };
    }
  }
  return new Promise<FromStagingIo>((resolve, reject) => {
    if (pending.size === 0) w.ref();
    pending.set(m.seq, { resolve, reject });
    w.postMessage(m, transfer);
  });
}

/** The thread, if one runs (tests use it to make it fail). */
export function stagingIoThread(): Worker | undefined {
  return worker;
}

/** A batch buffer: from the pool when one is free. */
export function takeBatch(): Buffer {
  const ab = pool.pop() ?? new ArrayBuffer(BATCH_BYTES);
  return Buffer.from(ab);
}

/** A new running hash in the thread; fed by writes that name it, ended by `digest`. */
export function newHashId(): number {
  return nextHashId++;
}

/**
 * Writes `len` bytes of `batch` (from takeBatch; it must not be used afterwards) at `position`.
 * Rejects with the disk error.
 */
export async function writeBatch(fd: number, position: number, batch: Buffer, len: number, hashId: number | undefined): Promise<void> {
  const buf = batch.buffer as ArrayBuffer;
  const m = await call({ type: 'write', seq: nextSeq++, fd, position, buf, len, hashId }, [buf]);
  if (m.type !== 'written') throw new Error('staging I/O: unexpected reply');
  if (pool.length < POOL_MAX && m.buf.byteLength === BATCH_BYTES) pool.push(m.buf);
  if (m.error !== undefined) throw Object.assign(new Error(m.error), { code: m.error.split(':')[0] });
}

/** SHA-256 (hex) of what the writes named `hashId` carried, in their order. */
export async function digest(hashId: number): Promise<string> {
  const m = await call({ type: 'digest', seq: nextSeq++, hashId });
  if (m.type !== 'digest') throw new Error('staging I/O: unexpected reply');
  return m.sha256;
}
