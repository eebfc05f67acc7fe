/** Messages between the seal pool (pool.ts) and its worker threads (worker.ts). */
import type { SealInit } from '../seal-native.js';

export type ToSealWorker =
  | { type: 'start'; id: number; init: SealInit }
  /** A job whose message the worker writes itself to `path` (created, 0600), hashed and fsynced. */
  | { type: 'start-file'; id: number; init: SealInit; path: string }
  | { type: 'data'; id: number; chunk: Uint8Array }
  | { type: 'end'; id: number }
  | { type: 'abort'; id: number };

export type FromSealWorker =
  | { type: 'out'; id: number; consumed: number; chunk: Uint8Array | null }
  | { type: 'done'; id: number; chunk: Uint8Array }
  /** A file job took `consumed` input bytes (written to the file). */
  | { type: 'ack'; id: number; consumed: number }
  /** A file job is complete and durable. */
  | { type: 'sealed'; id: number; sha256: string; size: number }
  /** `code`: the error's system code (ENOSPC…), which a message would otherwise lose. */
  | { type: 'error'; id: number; message: string; code?: string };
