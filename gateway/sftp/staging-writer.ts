/**
 * Positional writes into one staging file, answered as soon as the data is queued in memory.
 * Contiguous WRITEs are coalesced into 1 MiB batches (a few written at once); memory is bounded
 * (a WRITE waits while too much is queued); the SHA-256 and the intake stream follow the
 * bytes while they arrive in order, and give up (the file is re-read at commit) otherwise.
 *
 * Why: an SFTP server that answers each WRITE after its own fs.write reaches 0.2× OpenSSH
 * (performance.md); the transport is fast, per-request disk round trips are not.
 */
import { createHash, type Hash } from 'node:crypto';
import { fdatasync, fstat, fsync, ftruncate, write, close } from 'node:fs';
import { hashFile } from '../hash-file.js';
import { promisify } from 'node:util';
import { IntervalSet } from './intervals.js';

const BATCH_BYTES = 1024 * 1024;
// Per upload: 32 parallel uploads stay well under the memory target (performance.md).
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
/**
 * Dirty bytes after which a background fdatasync starts while the upload goes on, so the
 * fsync at the commit point has little left to flush (the verdict must come within a second
 * of the last byte, whatever the file size).
 */
const SYNC_EVERY_BYTES = 32 * 1024 * 1024;
const WRITES_IN_FLIGHT = 3;

const fsyncP = promisify(fsync);
const closeP = promisify(close);
const fstatP = promisify(fstat);
const ftruncateP = promisify(ftruncate);

interface Batch {
  readonly start: number;
  readonly buf: Buffer;
  len: number;
}

export interface WriterOptions {
  /** Bytes already in the file (a resumed upload): treated as written, hash and stream off. */
  readonly resumedSize?: number;
  /** Receives contiguous bytes from offset 0, in order, while that lasts. */
  readonly onInOrder?: (chunk: Buffer) => void;
}

export class StagingWriter {
  private batch: Batch | undefined;
  private readonly queue: Batch[] = [];
  private queuedBytes = 0;
  private writing = 0;
  private readonly drained: (() => void)[] = [];
  private readonly roomWaiters: (() => void)[] = [];
  private failure: Error | undefined;
  private hash: Hash | undefined;
  private hashedEnd = 0;
  private onInOrder: ((chunk: Buffer) => void) | undefined;
  private closed = false;
  private unsynced = 0;
  private syncing: Promise<void> | undefined;
  readonly written = new IntervalSet();

  constructor(
    readonly fd: number,
    readonly path: string,
    options: WriterOptions = {},
  ) {
    const resumed = options.resumedSize ?? 0;
    if (resumed > 0) this.written.add(0, resumed);
    else {
      this.hash = createHash('sha256');
      this.onInOrder = options.onInOrder;
    }
  }

  /** True while bytes have arrived strictly in order from 0 (the stream and hash are live). */
  get inOrder(): boolean {
    return this.hash !== undefined;
  }

  get error(): Error | undefined {
    return this.failure;
  }

  /** Queues `data` at `offset`; resolves when it is safely queued (possibly after waiting for room). */
  async write(offset: number, data: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error('writer closed');
    this.written.add(offset, offset + data.length);
    const b = this.batch;
    if (b && b.start + b.len === offset && b.len + data.length <= b.buf.length) {
      // The copy is needed anyway: ssh2 hands us a view into its packet buffer.
      data.copy(b.buf, b.len);
      b.len += data.length;
      if (b.len === b.buf.length) this.submit();
    } else {
      this.submit();
      const buf = Buffer.allocUnsafe(Math.max(BATCH_BYTES, data.length));
      data.copy(buf, 0);
      this.batch = { start: offset, buf, len: data.length };
    }
    if (this.queuedBytes > MAX_QUEUED_BYTES) await new Promise<void>((r) => this.roomWaiters.push(r));
    if (this.failure) throw this.failure;
  }

  /** Writes everything queued; rejects with the first disk error. */
  async flush(): Promise<void> {
    this.submit();
    if (this.writing > 0 || this.queue.length > 0) await new Promise<void>((r) => this.drained.push(r));
    if (this.failure) throw this.failure;
  }

  /** Flush, then fsync: the data is durable before any verdict. */
  async sync(): Promise<void> {
    await this.flush();
    await this.syncing;
    await fsyncP(this.fd);
    this.unsynced = 0;
  }

  private backgroundSync(): void {
    if (this.syncing || this.unsynced < SYNC_EVERY_BYTES) return;
    this.unsynced = 0;
    this.syncing = new Promise<void>((resolve) =>
      fdatasync(this.fd, (err) => {
        if (err && !this.failure) this.failure = err;
        this.syncing = undefined;
        resolve();
      }),
    );
  }

  /** SHA-256 of the file: from the running hash when bytes came in order, else re-read. */
  async sha256(size: number): Promise<string> {
    if (this.hash && this.hashedEnd === size) return this.hash.copy().digest('hex');
    return (await hashFile(this.path)).sha256;
  }

  /** Closes the file after flushing; keeps only the contiguous prefix (a resumable partial). */
  async closeFile(truncateToPrefix: boolean): Promise<number> {
    try {
      await this.flush();
      await this.syncing;
    } catch {
      // the error is kept in `failure`; the caller decides what the upload becomes
    }
    this.closed = true;
    let size = this.written.end();
    if (truncateToPrefix && this.written.count > 1) {
      size = this.written.contiguousFromZero();
      await ftruncateP(this.fd, size).catch(() => undefined);
    }
    await closeP(this.fd).catch(() => undefined);
    return size;
  }

  async fileSize(): Promise<number> {
    return (await fstatP(this.fd)).size;
  }

  private submit(): void {
    const b = this.batch;
    if (!b) return;
    this.batch = undefined;
    this.follow(b);
    this.queue.push(b);
    this.queuedBytes += b.len;
    this.pump();
  }

  /** Hash and stream the batch if it continues the in-order prefix; otherwise stop both for good. */
  private follow(b: Batch): void {
    if (!this.hash) return;
    if (b.start !== this.hashedEnd) {
      this.hash = undefined;
      this.onInOrder = undefined;
      return;
    }
    const chunk = b.buf.subarray(0, b.len);
    this.hash.update(chunk);
    this.hashedEnd += b.len;
    this.onInOrder?.(chunk);
  }

  /**
   * Starts queued batches, up to WRITES_IN_FLIGHT at once: positional writes to distinct
   * ranges are independent, and on a busy machine one write at a time leaves the disk idle
   * while the callback waits for the event loop.
   */
  private pump(): void {
    while (this.writing < WRITES_IN_FLIGHT) {
      const b = this.queue.shift();
      if (!b) break;
      this.writing++;
      const done = (err: Error | null): void => {
        this.writing--;
        this.queuedBytes -= b.len;
        if (err && !this.failure) this.failure = err;
        this.unsynced += b.len;
        this.backgroundSync();
        if (this.queuedBytes <= MAX_QUEUED_BYTES / 2 || this.failure) this.roomWaiters.splice(0).forEach((r) => r());
        this.pump();
      };
      if (this.failure) done(null);
      else writeAll(this.fd, b.buf, b.len, b.start, done);
    }
    if (this.writing === 0 && this.queue.length === 0) this.drained.splice(0).forEach((r) => r());
  }
}

function writeAll(fd: number, buf: Buffer, len: number, position: number, cb: (err: Error | null) => void, done = 0): void {
  write(fd, buf, done, len - done, position + done, (err, n) => {
    if (err) return cb(err);
    if (done + n < len) return writeAll(fd, buf, len, position, cb, done + n);
    cb(null);
  });
}

