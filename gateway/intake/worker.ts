/**
 * Worker thread entry: runs the work on upload bytes (process.ts) off the thread that serves
 * the SSH transports. Messages in: `config` (a snapshot, versioned), `open`, `chunk`, `finish`,
 * `abort`; out: `ack` (bytes taken by the work, for the sender's pacing) and `result`.
 */
import { parentPort, type Worker } from 'node:worker_threads';
import type { GatewayConfig } from '../config/model.js';
import { loadCommuneOutlines, type CommuneIndex } from './geo.js';
import { loadKeyRing, type KeyRing } from './keyring.js';
import type { ProcessEnv } from './process.js';
import { createSealPool } from '../pgp/native-seal/pool.js';
import { UploadBytes } from './upload-bytes.js';
import { SchemaStore } from './validate.js';
import { QUEUE_HIGH_WATER, runWork, toWorkError } from './work.js';
import { HEARTBEAT_MS, type FromWorker, type ToWorker } from './worker-messages.js';

const port = parentPort;
if (!port) throw new Error('worker.ts runs only as a worker thread');

const schemas = new SchemaStore();
/** Sees each sealing thread this thread starts (the tests' fault injection ends one). */
export const sealThreads: { onStart?: (worker: Worker) => void } = {};
// One sealing thread beside this one: with the SSH thread mostly idle once an upload is in, the
// record work here and the sealing there keep two cores busy.
const seals = createSealPool(1, { onWorker: (w) => sealThreads.onStart?.(w) });
let communes: Promise<CommuneIndex> | undefined;
const envs = new Map<number, Promise<{ config: GatewayConfig; keys: KeyRing }>>();
const uploads = new Map<string, UploadBytes>();

const beat: FromWorker = { type: 'beat' };
// unref: the heartbeat alone must not keep an idle thread (and the process) alive.
setInterval(() => port.postMessage(beat), HEARTBEAT_MS).unref();

async function envFor(version: number): Promise<ProcessEnv> {
  const e = envs.get(version);
  if (!e) throw new Error(`unknown configuration version ${version}`);
  const { config, keys } = await e;
  communes ??= loadCommuneOutlines();
  return { config, keys, schemas, communes: await communes, seals, now: () => new Date() };
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'config': {
      const p = loadKeyRing(m.config).then((keys) => ({ config: m.config, keys }));
      p.catch(() => undefined);
      envs.set(m.version, p);
      // Keep the two newest snapshots: uploads that started under the previous one finish with it.
      for (const v of envs.keys()) if (v < m.version - 1) envs.delete(v);
      break;
    }
    case 'open': {
      // Acknowledged when the work takes the bytes, not when they arrive here: the sender
      // paces the upload on it.
      const id = m.ctx.uploadId;
      const bytes = new UploadBytes(QUEUE_HIGH_WATER, m.maxFileBytes, (n) => port.postMessage({ type: 'ack', uploadId: id, bytes: n }));
      uploads.set(m.ctx.uploadId, bytes);
      void envFor(m.version)
        .then((env) => runWork(env, m.ctx, bytes, m.dir, m.fileName))
        .catch(toWorkError)
        .then((result) => {
          uploads.delete(m.ctx.uploadId);
          port.postMessage({ type: 'result', uploadId: m.ctx.uploadId, result });
        });
      break;
    }
    case 'chunk': {
      const chunk = Buffer.from(m.data);
      // A chunk not taken (the upload ended, or stopped streaming) is acknowledged at once.
      if (!uploads.get(m.uploadId)?.push(chunk)) port.postMessage({ type: 'ack', uploadId: m.uploadId, bytes: chunk.length });
      break;
    }
    case 'finish':
      uploads.get(m.uploadId)?.finish(m.path, m.size);
      break;
    case 'abort':
      uploads.get(m.uploadId)?.fail(new Error('aborted'));
      break;
  }
});
