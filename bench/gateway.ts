/**
 * The Passerelle side of the bench: starts the gateway with the bench configuration and drives
 * it with the same OpenSSH client as the reference. Throws (with the reason) when the gateway
 * cannot run yet; the runner then reports the reference alone.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SftpTarget } from './sftp.js';

export interface BenchGateway {
  readonly target: SftpTarget;
  /** Uploads `src` as a partner into its inbox; resolves with the wall time (ms). */
  upload(src: string, name: string): Promise<number>;
  /** Downloads the prepared outbox file to `local`; resolves with the wall time (ms). */
  download(local: string): Promise<number>;
  /** Something the reader of the results should know (e.g. a figure measured differently). */
  readonly note?: string;
  close(): Promise<void>;
}

export interface BenchGatewayOptions {
  readonly work: string;
  readonly downloadBytes: number;
}

export async function startBenchGateway(_o: BenchGatewayOptions): Promise<BenchGateway> {
  const here = dirname(fileURLToPath(import.meta.url));
  const app = ['.js', '.ts'].map((ext) => join(here, '..', 'gateway', `app${ext}`)).find((f) => existsSync(f));
  if (!app) throw new Error('gateway/app.ts is not built yet');
  await import(pathToFileURL(app).href);
  throw new Error('gateway/app.ts has no startGateway() the bench knows how to drive');
}
