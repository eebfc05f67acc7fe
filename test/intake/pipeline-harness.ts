/**
 * Drives the real intake pipeline (no SSH) on the Grand Nancy demo configuration: real audit
 * log, real state store, real keys, files sealed by the real GnuPG.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { loadConfig } from '../../gateway/config/load.js';
import type { ConfigSource, GatewayConfig } from '../../gateway/config/model.js';
import { openAuditLog, type AuditLog } from '../../gateway/audit/log.js';
import { openStateStore, type StateStore } from '../../gateway/store/state.js';
import { dataLayout, type DataLayout } from '../../gateway/paths.js';
import { assembleIntake } from '../../gateway/intake/assemble.js';
import { loadKeyRing } from '../../gateway/intake/keyring.js';
import { newId } from '../../gateway/ids.js';
import { createLogger, silentLogger } from '../../gateway/log.js';
import type { Intake, Verdict } from '../../gateway/intake/contract.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const DEMO_CONFIG = join(ROOT, 'config', 'grand-nancy', 'passerelle.json');
export const KEYS = join(ROOT, 'keys-example');

export interface PipelineHarness {
  readonly dir: string;
  readonly layout: DataLayout;
  readonly config: GatewayConfig;
  readonly audit: AuditLog;
  readonly state: StateStore;
  readonly intake: Intake;
  /** A GnuPG home holding every demo secret key and the gateway's public key. */
  readonly gnupg: string;
  /** Sends `bytes` as partner `partner` for `dataset`, in chunks, and returns the verdict. */
  upload(partner: string, dataset: string, bytes: Buffer, name?: string): Promise<Verdict & { uploadId: string }>;
  /**
   * The same a step at a time, for tests that act between the steps: the staging file holds all
   * of `bytes` at once; `push` streams bytes [from, to) to the intake; `finish` commits.
   */
  begin(partner: string, dataset: string, bytes: Buffer, name?: string): StepwiseUpload;
  /** gpg --sign --encrypt of `plain` by `partner`'s demo key to the gateway. */
  seal(partner: string, plain: Buffer | string, extra?: string[]): Buffer;
  close(): Promise<void>;
}

export interface StepwiseUpload {
  readonly uploadId: string;
  push(from: number, to?: number): Promise<void>;
  finish(): Promise<Verdict & { uploadId: string }>;
  /** The connection is lost before the commit. */
  abort(): void;
}

export function gpg(home: string, args: string[], input?: Buffer | string): Buffer {
  return execFileSync('gpg', ['--homedir', home, '--batch', '--yes', '--quiet', '--trust-model', 'always', ...args], { input, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface PipelineOptions {
  readonly dir?: string;
  readonly workers?: number;
  wrapState?(s: StateStore): StateStore;
  onWorker?(w: Worker): void;
  /** The intake thread's module (a wrapper that injects a fault). */
  readonly workerModule?: URL;
  /** Limits over the demo configuration's. */
  readonly limits?: Partial<GatewayConfig['settings']['limits']>;
  /** Where the gateway's log lines go (default: nowhere). */
  readonly logTo?: NodeJS.WritableStream;
}

export async function startPipeline(opts: PipelineOptions = {}): Promise<PipelineHarness> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'passerelle-pipeline-'));
  const layout = dataLayout(join(dir, 'data'));
  const loaded = await loadConfig(DEMO_CONFIG, { demo: true });
  const config: GatewayConfig = opts.limits ? { ...loaded, settings: { ...loaded.settings, limits: { ...loaded.settings.limits, ...opts.limits } } } : loaded;
  const source: ConfigSource = { current: () => config, onChange: () => () => undefined };
  const log = opts.logTo ? createLogger({ destination: opts.logTo }) : silentLogger();
  const audit = await openAuditLog({ dir: layout.audit, origin: 'test.passerelle/audit', checkpointKeyFile: join(dir, 'checkpoint.key'), checkpointIntervalMs: 60_000, log });
  const opened = openStateStore(layout.state);
  const state = opts.wrapState ? opts.wrapState(opened) : opened;
  const intake = await assembleIntake({ config: source, layout, audit, auditLog: audit, state, log, workers: opts.workers ?? 1,
    ...(opts.onWorker ? { onWorker: opts.onWorker } : {}),
    ...(opts.workerModule ? { workerModule: opts.workerModule } : {}),
  });
  const keys = await loadKeyRing(config);
  const gnupg = join(dir, 'gnupg');
  const fresh = !existsSync(gnupg);
  execFileSync('mkdir', ['-p', '-m', '700', gnupg]);
  if (fresh) for (const party of ['police-nationale', 'police-municipale-ludres', 'bailleur-social', 'sdis54', 'transport', 'ludres', 'laxou', 'nancy', 'observatoire']) {
    gpg(gnupg, ['--import', join(KEYS, party, 'pgp.sec.asc')]);
  }
  if (fresh) gpg(gnupg, ['--import', join(KEYS, 'gateway', 'pgp.pub.asc')]);
  const gatewayFpr = keys.gatewayFingerprint;
  const partnerFpr = (p: string): string => {
    const k = config.partners.get(p)?.pgpKeys[0];
    if (!k) throw new Error(`no key for ${p}`);
    return k.fingerprint;
  };

  const begin = (partner: string, dataset: string, bytes: Buffer, name = 'export.csv.pgp'): StepwiseUpload => {
    const uploadId = newId();
    const staging = join(dir, `staging-${uploadId}`);
    writeFileSync(staging, bytes);
    const up = intake.open({ uploadId, partnerId: partner, datasetId: dataset, clientName: name, source: '127.0.0.1:50000' });
    return {
      uploadId,
      push: async (from, to = bytes.length) => {
        await up.push(bytes.subarray(from, to));
      },
      finish: async () => ({ ...(await up.finish(staging, bytes.length, createHash('sha256').update(bytes).digest('hex'))), uploadId }),
      abort: () => up.abort(),
    };
  };

  return {
    dir,
    layout,
    config,
    audit,
    state,
    intake,
    gnupg,
    seal: (partner, plain, extra = []) =>
      gpg(gnupg, ['--local-user', partnerFpr(partner), '--recipient', gatewayFpr, '--compress-algo', 'none', ...extra, '--sign', '--encrypt'], plain),
    begin,
    upload: async (partner, dataset, bytes, name) => {
      const up = begin(partner, dataset, bytes, name);
      for (let o = 0; o < bytes.length; o += 32768) await up.push(o, o + 32768);
      return up.finish();
    },
    close: async () => {
      await intake.close();
      await audit.close();
      await state.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function fixture(name: string): Buffer {
  return readFileSync(join(ROOT, 'test', 'fixtures', 'datasets', 'valid', name));
}
