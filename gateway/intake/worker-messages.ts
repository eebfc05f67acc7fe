/** The messages between the pipeline and its worker threads (structured-cloned). */
import type { GatewayConfig } from '../config/model.js';
import type { UploadContext } from './contract.js';
import type { WorkResult } from './work.js';

export type ToWorker =
  | { readonly type: 'config'; readonly version: number; readonly config: GatewayConfig }
  | { readonly type: 'open'; readonly version: number; readonly ctx: UploadContext; readonly dir: string; readonly fileName: string; readonly maxFileBytes: number }
  | { readonly type: 'chunk'; readonly uploadId: string; readonly data: ArrayBuffer }
  | { readonly type: 'finish'; readonly uploadId: string; readonly path: string; readonly size: number }
  | { readonly type: 'abort'; readonly uploadId: string };

/**
 * How often a worker thread says its event loop is turning. A thread blocked in a computation (a
 * bug, a pathological input) sends nothing: the pool ends it (worker-pool.ts, `limits.intakeThreadStallMs`).
 */
export const HEARTBEAT_MS = 250;

export type FromWorker =
  | { readonly type: 'beat' }
  | { readonly type: 'ack'; readonly uploadId: string; readonly bytes: number }
  | { readonly type: 'result'; readonly uploadId: string; readonly result: WorkResult };
