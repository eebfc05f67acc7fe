/**
 * Positional writes into one staging file, answered as soon as the data is queued in memory.
 * Contiguous WRITEs are copied into 1 MiB batches, which the staging I/O thread (staging-io.ts)
 * hashes and writes; memory is bounded (a WRITE waits while too much is queued); the SHA-256 and
 * the intake stream follow the bytes while they arrive in order, and give up (the file is
 * re-read at commit) otherwise.
 *
 * Why: an SFTP server that answers each WRITE after its own fs.write reaches 0.2× OpenSSH
 * (performance.md); the transport is fast, per-request disk round trips are not.
 */
import { fdatasync, fsync, ftruncate, close } from 'node:fs';
import { hashFile } from '../hash-file.js';
import { promisify } from 'node:util';
import { IntervalSet } from './intervals.js';
import { digest, newHashId, takeBatch, writeBatch } from './staging-io.js';

// Per upload: 32 parallel uploads stay well under the memory target (performance.md).
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
/**
 * Dirty bytes after which a background fdatasync starts while the upload goes on, so the
 * fsync at the commit point has little left to flush (the verdict must come within a second
 * of the last byte, whatever the file size).
 */
const SYNC_EVERY_BYTES = 32 * 1024 * 1024;

const fsyncP = promisify(fsync);
const closeP = promisify(close);
const ftruncateP = promisify(ftruncate);

/** Contiguous bytes from `start`, in a batch buffer from the staging I/O thread's pool. */
interface Batch {
  readonly start: number;
  readonly buf: Buffer;
  len: number;
  /** The running hash the bytes go into (they continue the in-order prefix), if any. */
  readonly hashId: number | undefined;
}

export interface WriterOptions {
  /** Bytes already in the file (a resumed upload): treated as written, hash and stream off. */
  readonly resumedSize?: number;
  /** Receives contiguous bytes from offset 0, in order, while that lasts. */
  readonly onInOrder?: (chunk: Buffer) => void;
}

export class StagingWriter {
  private batch: Batch | undefined;
  private queuedBytes = 0;
  private writing = 0;
  private readonly drained: (() => void)[] = [];
  private readonly roomWaiters: (() => void)[] = [];
  private failure: Error | undefined;
  /** The running hash in the I/O thread, while bytes arrive in order from 0. */
  private hashId: number | undefined;
  /** End of the in-order prefix (what the hash and the stream have seen). */
  private inOrderEnd = 0;
  private digestOf: { readonly size: number; readonly sha256: Promise<string> } | undefined;
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
      this.hashId = newHashId();
      this.onInOrder = options.onInOrder;
    }
  }

  /** True while bytes have arrived strictly in order from 0 (the stream and hash are live). */
  get inOrder(): boolean {
    return this.hashId !== undefined;
  }

  /** Queues `data` at `offset`; resolves when it is safely queued (possibly after waiting for room). */
  async write(offset: number, data: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error('writer closed');
    this.written.add(offset, offset + data.length);
    if (this.hashId !== undefined) {
      if (offset === this.inOrderEnd) {
        this.inOrderEnd += data.length;
        // ssh2 (pinned) hands a view of a buffer it never reuses, so the consumer may keep it;
        // a short one is copied rather than pin the socket read it came in.
        this.onInOrder?.(data.length >= 16 * 1024 ? data : Buffer.from(data));
      } else {
        // Out of order: what is batched so far is still hashed, nothing after it; the digest
        // request frees the thread's state (the file is re-read at commit).
        this.submit();
        digest(this.hashId).catch(() => undefined);
        this.stopFollowing();
      }
    }
    let p = 0;
    while (p < data.length) {
      const b = this.batch;
      if (!b || b.start + b.len !== offset + p || b.len === b.buf.length) {
        this.submit();
        this.batch = { start: offset + p, buf: takeBatch(), len: 0, hashId: this.hashId };
        continue;
      }
      const n = data.copy(b.buf, b.len, p);
      b.len += n;
      p += n;
    }
    if (this.batch && this.batch.len === this.batch.buf.length) this.submit();
    // The disk wait holds this WRITE's reply alone: holding the SSH channel for it too starved
    // the writes with window round trips (512 MiB upload, 420-460 -> 340-400 MB/s).
    if (this.queuedBytes > MAX_QUEUED_BYTES) await new Promise<void>((r) => this.roomWaiters.push(r));
    if (this.failure) throw this.failure;
  }

  /** Writes everything queued; rejects with the first disk error. */
  async flush(): Promise<void> {
    this.submit();
    if (this.writing > 0) await new Promise<void>((r) => this.drained.push(r));
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
    await this.flush().catch(() => undefined);
    this.endHash();
    if (this.digestOf?.size === size) {
      // The running hash is lost if its thread died: the file is hashed again.
      const sha256 = await this.digestOf.sha256.catch(() => undefined);
      if (sha256 !== undefined) return sha256;
    }
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
    this.endHash();
    let size = this.written.end();
    if (truncateToPrefix && this.written.count > 1) {
      size = this.written.contiguousFromZero();
      await ftruncateP(this.fd, size).catch(() => undefined);
    }
    await closeP(this.fd).catch(() => undefined);
    return size;
  }

  /** Asks the I/O thread for the digest, which comes after every write sent (and frees its state). */
  private endHash(): void {
    if (this.hashId === undefined) return;
    this.submit();
    const sha256 = digest(this.hashId);
    sha256.catch(() => undefined); // a failed thread: the caller re-reads the file
    this.digestOf = { size: this.inOrderEnd, sha256 };
    this.stopFollowing();
  }

  private stopFollowing(): void {
    this.hashId = undefined;
    this.onInOrder = undefined;
  }

  /** Hands the batch to the I/O thread, which takes batches in order. */
  private submit(): void {
    const b = this.batch;
    if (!b) return;
    this.batch = undefined;
    if (b.len === 0) return;
    this.queuedBytes += b.len;
    this.writing++;
    const done = (err: unknown): void => {
      this.writing--;
      this.queuedBytes -= b.len;
      if (err && !this.failure) this.failure = err instanceof Error ? err : new Error(String(err));
      this.unsynced += b.len;
      this.backgroundSync();
      if (this.queuedBytes <= MAX_QUEUED_BYTES / 2 || this.failure) this.roomWaiters.splice(0).forEach((r) => r());
      if (this.writing === 0) this.drained.splice(0).forEach((r) => r());
    };
    writeBatch(this.fd, b.start, b.buf, b.len, b.hashId).then(() => done(null), done);
  }
}
