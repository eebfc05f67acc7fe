/**
 * How the pipeline runs the work on an upload's bytes (process.ts): in the calling thread, or in
 * a worker thread (worker-pool.ts) so that decryption, validation and re-encryption run on
 * another core than the SSH transports. Both give the same `UploadWork`.
 */
import type { ErrorCode } from '../errors.js';
import { isGatewayError } from '../errors.js';
import type { UploadContext } from './contract.js';
import { processUpload, type ProcessEnv, type Processed } from './process.js';
import { UploadBytes } from './upload-bytes.js';

export type WorkResult =
  | { readonly ok: true; readonly processed: Processed }
  /** `internal`: a gateway failure (nothing is the partner's fault); otherwise the file's error. */
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly internal: boolean };

export interface UploadWork {
  push(chunk: Buffer): void;
  /** The staging file is complete and fsynced. */
  finish(stagingPath: string, size: number): void;
  abort(): void;
  readonly result: Promise<WorkResult>;
}

export interface Processor {
  start(ctx: UploadContext, pendingDir: string, fileName: string): UploadWork;
  close(): Promise<void>;
}

/** Bytes held in memory per upload before the rest is read back from staging. */
export const QUEUE_HIGH_WATER = 8 << 20;

export function toWorkError(e: unknown): WorkResult {
  if (isGatewayError(e) && e.code !== 'GATEWAY_FAILURE' && e.code !== 'CONFIG_INVALID' && e.code !== 'CONFIG_UNREADABLE') {
    return { ok: false, code: e.code, message: e.message.split('\n')[0] ?? e.code, internal: false };
  }
  return { ok: false, code: 'GATEWAY_FAILURE', message: e instanceof Error ? e.message : String(e), internal: true };
}

/** Runs one upload's work on `bytes`; shared by both processors. */
export async function runWork(env: ProcessEnv, ctx: UploadContext, bytes: UploadBytes, dir: string, fileName: string): Promise<WorkResult> {
  try {
    const processed = await processUpload(env, ctx, bytes, dir, fileName);
    return { ok: true, processed };
  } catch (e) {
    return toWorkError(e);
  }
}

export function inThreadProcessor(env: () => ProcessEnv, maxFileBytes: () => number): Processor {
  return {
    start: (ctx, dir, fileName) => {
      const bytes = new UploadBytes(QUEUE_HIGH_WATER, maxFileBytes());
      const result = runWork(env(), ctx, bytes, dir, fileName);
      return {
        push: (c) => bytes.push(c),
        finish: (p, s) => bytes.finish(p, s),
        abort: () => bytes.fail(new Error('aborted')),
        result,
      };
    },
    close: async () => undefined,
  };
}
