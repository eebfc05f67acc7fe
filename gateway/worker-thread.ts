/**
 * Starts one of the gateway's worker threads from the module beside the caller: `name`.js when
 * running the build, `name`.ts under tsx (tests), where a small script registers tsx's loader in
 * the thread first (`--import tsx` in execArgv does not reach workers on Node 20).
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Young generation of each worker thread (V8 splits it in three: two 4 MiB semi-spaces and as much
 * for new large objects). The intake worker makes a few short-lived objects per record; left to
 * V8, its young generation grew to 48 MiB without making the work faster. Measured on a 64 MiB
 * CSV export (in-process, two runs each): 12 MiB 15.1-16.0 MB/s, peak RSS 346-379 MiB; V8's
 * default 14.7-15.4 MB/s, 376-405 MiB; 6 MiB 13.0-13.9 MB/s (scavenges promoted more). Standalone
 * gateway, 256 MiB export: peak RSS 335-341 against 359-367 MiB.
 */
const WORKER_YOUNG_GENERATION_MB = 12;

export function startWorker(callerUrl: string, name: string, extra: Omit<WorkerOptions, 'resourceLimits' | 'eval'> = {}): Worker {
  const self = new URL(callerUrl);
  return startWorkerModule(new URL(`./${name}${self.pathname.endsWith('.ts') ? '.ts' : '.js'}`, self), extra);
}

/** A worker thread running the module at `url` (a .ts one through tsx). */
export function startWorkerModule(url: URL, extra: Omit<WorkerOptions, 'resourceLimits' | 'eval'> = {}): Worker {
  const options = { ...extra, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } };
  if (!url.pathname.endsWith('.ts')) return new Worker(url, options);
  const api = import.meta.resolve('tsx/esm/api'); // its ESM build: the CJS one cannot register hooks here
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`, { eval: true, ...options });
}
