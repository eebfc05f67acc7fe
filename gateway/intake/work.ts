/**
 * How the pipeline runs the work on an upload's bytes (process.ts): in the calling thread, or in
 * a worker thread (worker-pool.ts) so that decryption, validation and re-encryption run on
 * another core than the SSH transports. Both give the same `UploadWork`.
 */
import type { ErrorCode } from '../errors.js';
import { describeError, gatewayFailure, isGatewayError, someCause } from '../errors.js';
import type { UploadContext } from './contract.js';
import { processUpload, type ProcessEnv, type Processed } from './process.js';
import { UploadBytes } from './upload-bytes.js';
import { SealThreadExited } from '../pgp/native-seal/pool.js';

export type WorkResult = (
  | { readonly ok: true; readonly processed: Processed }
  /** `internal`: a gateway failure (nothing is the partner's fault); otherwise the file's error. */
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly internal: boolean }
) & {
  /** Bytes the work read back from the staging file because the pushes did not bring them (logged). */
  readonly readBackBytes?: number;
  /** The failure was a thread's of this process dying, not the file's: the work may be given again. */
  readonly threadDied?: boolean;
};

export interface UploadWork {
  /** See IntakeUpload.push: a promise while the work is behind. */
  push(chunk: Buffer): Promise<void> | undefined;
  /** The staging file is complete and fsynced. */
  finish(stagingPath: string, size: number): void;
  abort(): void;
  readonly result: Promise<WorkResult>;
}

export interface Processor {
  start(ctx: UploadContext, pendingDir: string, fileName: string): UploadWork;
  close(): Promise<void>;
}

/**
 * Bytes pushed but not yet taken by the work past which the upload is paced (the session stops
 * reading the channel, whose window lets at most 2 MiB more in): at the
 * ~14 MB/s of a CSV export's record work, under half a second of work is queued when the last
 * byte arrives (64 MiB export: verdict 6.8 s after the last byte unpaced, 0.5 s paced; 4 MiB
 * gave 0.7 s, with the same total time).
 */
export const PACE_BYTES = 2 << 20;
/**
 * Bytes held in memory per upload before the rest is read back from staging instead: reached
 * only by a client that sends past its SSH window.
 */
export const QUEUE_HIGH_WATER = 16 << 20;

/**
 * Flow control between the pushes and the work that takes them: `add` answers a promise while
 * more than PACE_BYTES are outstanding, resolved once the work has taken them down to half.
 * `close` lets everything through (the work ended or stopped streaming: nothing will be taken).
 */
export class Pacer {
  private outstanding = 0;
  private closed = false;
  /** The one wait every `add` past the limit shares, until the work catches up. */
  private gate: { readonly wait: Promise<void>; readonly open: () => void } | undefined;

  constructor(private readonly limit = PACE_BYTES) {}

  /** Bytes pushed and not yet taken. */
  get pending(): number {
    return this.outstanding;
  }

  add(n: number): Promise<void> | undefined {
    this.outstanding += n;
    if (this.closed || this.outstanding <= this.limit) return undefined;
    if (!this.gate) {
      let open!: () => void;
      const wait = new Promise<void>((r) => (open = r));
      this.gate = { wait, open };
    }
    return this.gate.wait;
  }

  take(n: number): void {
    this.outstanding -= n;
    if (this.outstanding <= this.limit / 2) this.release();
  }

  close(): void {
    this.closed = true;
    this.release();
  }

  private release(): void {
    this.gate?.open();
    this.gate = undefined;
  }
}

export function toWorkError(e: unknown): WorkResult {
  if (isGatewayError(e) && e.code !== 'GATEWAY_FAILURE' && e.code !== 'STORAGE_FULL' && e.code !== 'CONFIG_INVALID' && e.code !== 'CONFIG_UNREADABLE') {
    return { ok: false, code: e.code, message: e.message.split('\n')[0] ?? e.code, internal: false };
  }
  // Crosses a thread as a message: the code says whether the disk was full (found here, where
  // the error object is), the message is for the operator's log.
  return { ok: false, code: gatewayFailure(e).code, message: describeError(e), internal: true };
}

/** Runs one upload's work on `bytes`; shared by both processors. */
export async function runWork(env: ProcessEnv, ctx: UploadContext, bytes: UploadBytes, dir: string, fileName: string): Promise<WorkResult> {
  try {
    const processed = await processUpload(env, ctx, bytes, dir, fileName);
    return { ok: true, processed, readBackBytes: bytes.readBack };
  } catch (e) {
    return { ...toWorkError(e), readBackBytes: bytes.readBack, ...(someCause(e, (c) => c instanceof SealThreadExited) ? { threadDied: true } : {}) };
  }
}

export function inThreadProcessor(env: () => ProcessEnv, maxFileBytes: () => number): Processor {
  return {
    start: (ctx, dir, fileName) => {
      const pacer = new Pacer();
      const bytes = new UploadBytes(QUEUE_HIGH_WATER, maxFileBytes(), (n) => pacer.take(n));
      const result = runWork(env(), ctx, bytes, dir, fileName);
      void result.finally(() => pacer.close());
      return {
        push: (c) => {
          if (!bytes.push(c)) {
            pacer.close();
            return undefined;
          }
          return pacer.add(c.length);
        },
        finish: (p, s) => bytes.finish(p, s),
        abort: () => bytes.fail(new Error('aborted')),
        result,
      };
    },
    close: async () => undefined,
  };
}
