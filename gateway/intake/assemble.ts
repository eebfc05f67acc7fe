/**
 * Puts the intake pipeline together for a running gateway: the keys of the configuration in
 * force (reloaded with it), the dataset schemas (compiled once each), the commune outlines
 * (loaded once), and receipts that carry a fresh checkpoint and their inclusion proof.
 */
import type { AuditLog } from '../audit/log.js';
import type { AuditSink } from '../audit/events.js';
import type { ConfigSource } from '../config/model.js';
import type { Logger } from '../log.js';
import type { DataLayout } from '../paths.js';
import type { StateStore } from '../store/state.js';
import type { Intake } from './contract.js';
import { loadCommuneOutlines } from './geo.js';
import { loadKeyRing, type KeyRing } from './keyring.js';
import { createSealPool } from '../pgp/native-seal/pool.js';
import { createIntake } from './pipeline.js';
import { SchemaStore } from './validate.js';
import { inThreadProcessor, type Processor } from './work.js';
import { workerPoolProcessor, type WorkerPoolOptions } from './worker-pool.js';

export interface AssembleDeps {
  readonly config: ConfigSource;
  readonly layout: DataLayout;
  readonly audit: AuditSink;
  /** The durable audit log, when there is one: receipts then carry a checkpoint and a proof. */
  readonly auditLog?: AuditLog;
  readonly state: StateStore;
  readonly log: Logger;
  /** Worker threads for the work on the bytes; 0 runs it in this thread. */
  readonly workers: number;
  /** See WorkerPoolOptions.onWorker. */
  readonly onWorker?: WorkerPoolOptions['onWorker'];
  /** See WorkerPoolOptions.workerModule. */
  readonly workerModule?: WorkerPoolOptions['workerModule'];
}

async function inThreadProcessorFor(config: ConfigSource, keys: () => KeyRing): Promise<Processor> {
  const schemas = new SchemaStore();
  const communes = await loadCommuneOutlines();
  const seals = createSealPool(1);
  const processor = inThreadProcessor(
    () => ({ config: config.current(), keys: keys(), schemas, communes, seals, now: () => new Date() }),
    () => config.current().settings.limits.maxFileBytes,
  );
  return { ...processor, close: async () => (await processor.close(), await seals.close()) };
}

export async function assembleIntake(deps: AssembleDeps): Promise<Intake & { close(): Promise<void> }> {
  let keys: KeyRing = await loadKeyRing(deps.config.current());
  // A configuration change that passed validation has readable keys; should reading them still
  // fail, the previous keys stay and the failure is logged.
  const off = deps.config.onChange((next) => {
    loadKeyRing(next).then(
      (k) => (keys = k),
      (err: unknown) => deps.log.error({ err: err instanceof Error ? err.message : String(err) }, 'keys of the new configuration could not be loaded'),
    );
  });
  const auditLog = deps.auditLog;
  const processor =
    deps.workers > 0
      ? workerPoolProcessor({
          config: deps.config,
          size: deps.workers,
          log: deps.log,
          ...(deps.onWorker ? { onWorker: deps.onWorker } : {}),
          ...(deps.workerModule ? { workerModule: deps.workerModule } : {}),
        })
      : await inThreadProcessorFor(deps.config, () => keys);
  const intake = createIntake({
    config: deps.config,
    keys: () => keys,
    layout: deps.layout,
    state: deps.state,
    audit: deps.audit,
    auditProof: auditLog
      ? async (index) => {
          await auditLog.checkpoint();
          const b = await auditLog.prove(index);
          return { tree_size: b.treeSize, inclusion_proof: b.inclusionProof, checkpoint: b.checkpoint };
        }
      : undefined,
    processor,
    log: deps.log,
    now: () => new Date(),
  });
  return {
    open: (ctx) => intake.open(ctx),
    close: async () => {
      off();
      await processor.close();
    },
  };
}
