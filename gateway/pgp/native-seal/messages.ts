/** Messages between the seal pool (pool.ts) and its worker threads (worker.ts). */
import type { SealInit } from '../seal-native.js';

export type ToSealWorker =
  | { type: 'start'; id: number; init: SealInit }
  | { type: 'data'; id: number; chunk: Uint8Array }
  | { type: 'end'; id: number }
  | { type: 'abort'; id: number };

export type FromSealWorker =
  | { type: 'out'; id: number; consumed: number; chunk: Uint8Array | null }
  | { type: 'done'; id: number; chunk: Uint8Array }
  | { type: 'error'; id: number; message: string };
