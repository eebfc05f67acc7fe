/**
 * The bytes of one upload as an async iterable, fed while they arrive: chunks pushed in file
 * order by the SFTP layer, then, once the upload is committed, whatever the pushes did not
 * cover read from the fsynced staging file. Memory is bounded: past `highWater` queued bytes
 * the pushes are ignored and the rest is read from the file at the commit. The sender paces
 * itself on what the consumer takes (work.ts, Pacer) and normally never reaches that bound.
 * Also counts what it yields (the size must match the committed one; the SHA-256 is the SFTP
 * layer's, computed while the bytes arrived).
 */
import { createReadStream } from 'node:fs';
import { GatewayError } from '../errors.js';

export class UploadBytes implements AsyncIterable<Uint8Array> {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  /** Bytes accepted from pushes (file offset up to which pushes cover the file). */
  private pushedUpTo = 0;
  private streaming = true;
  private wake: (() => void) | undefined;
  private file: { path: string; size: number } | undefined;
  private failure: Error | undefined;
  private yielded = 0;
  /** Bytes read back from the staging file (those the pushes did not cover). */
  readBack = 0;

  /** `onTaken`: called with the size of each pushed chunk the consumer takes (flow control). */
  constructor(
    private readonly highWater: number,
    private readonly maxBytes: number,
    private readonly onTaken?: (bytes: number) => void,
  ) {}

  /** False when the chunk is not taken (pushes have stopped): the rest comes from the file. */
  push(chunk: Buffer): boolean {
    if (!this.streaming || this.file || this.failure) return false;
    if (this.queued + chunk.length > this.highWater) {
      this.streaming = false; // the processing is behind: the rest comes from the staging file
      return false;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.pushedUpTo += chunk.length;
    this.signal();
    return true;
  }

  finish(path: string, size: number): void {
    this.file = { path, size };
    this.signal();
  }

  fail(err: Error): void {
    this.failure ??= err;
    this.signal();
  }

  private signal(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private account(chunk: Buffer): Buffer {
    this.yielded += chunk.length;
    if (this.yielded > this.maxBytes) {
      throw new GatewayError('FILE_TOO_LARGE', `fichier trop volumineux (plus de ${this.maxBytes} octets) / file over the size limit`);
    }
    return chunk;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.failure) throw this.failure;
      const chunk = this.queue.shift();
      if (chunk) {
        this.queued -= chunk.length;
        this.onTaken?.(chunk.length);
        yield this.account(chunk);
        continue;
      }
      if (this.file) break;
      await new Promise<void>((r) => (this.wake = r));
    }
    const { path, size } = this.file;
    if (this.pushedUpTo < size) {
      // Large reads: the staging file was fsynced before the commit, so this is page cache.
      for await (const chunk of createReadStream(path, { start: this.pushedUpTo, end: size - 1, highWaterMark: 1 << 20 })) {
        if (this.failure) throw this.failure;
        this.readBack += (chunk as Buffer).length;
        yield this.account(chunk as Buffer);
      }
    }
    if (this.yielded !== size) {
      throw new GatewayError('UPLOAD_INCOMPLETE', `taille incohérente (${this.yielded} octets lus, ${size} attendus) / size mismatch`);
    }
  }
}

/**
 * Wraps an iterable so that a consumer stopping early does not stop the source: the rest is
 * drained in the background. The OpenPGP verdict only settles once the message was read to
 * its end, and a verdict is needed even when the parser gave up on the first line.
 */
export function drainOnEarlyExit<T>(src: AsyncIterable<T>): { iterable: AsyncIterable<T>; drain(): Promise<void> } {
  const it = src[Symbol.asyncIterator]();
  let done!: () => void;
  const drained = new Promise<void>((r) => (done = r));
  let finished = false;
  const finish = (): void => {
    if (!finished) {
      finished = true;
      done();
    }
  };
  let draining = false;
  const drain = async (): Promise<void> => {
    if (finished || draining) return;
    draining = true;
    try {
      while (!(await it.next()).done) {
        // discard: the source's own verdict says what the bytes were worth
      }
    } catch {
      // the source's error is reported through its own verdict
    }
    finish();
  };
  const iterable: AsyncIterable<T> = {
    [Symbol.asyncIterator]: () => ({
      async next() {
        try {
          const r = await it.next();
          if (r.done) finish();
          return r;
        } catch (e) {
          finish();
          throw e;
        }
      },
      async return(value?: unknown) {
        if (!finished) void drain();
        return { done: true, value: value as T };
      },
    }),
  };
  return {
    iterable,
    drain: () => {
      void drain();
      return drained;
    },
  };
}
