/**
 * Starts one of the gateway's worker threads from the module beside the caller: `name`.js when
 * running the build, `name`.ts under tsx (tests), where a small script registers tsx's loader in
 * the thread first (`--import tsx` in execArgv does not reach workers on Node 20).
 */
import { Worker } from 'node:worker_threads';

export function startWorker(callerUrl: string, name: string): Worker {
  const self = new URL(callerUrl);
  if (!self.pathname.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, self));
  const api = import.meta.resolve('tsx/esm/api'); // its ESM build: the CJS one cannot register hooks here
  const entry = new URL(`./${name}.ts`, self).href;
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`, { eval: true });
}
