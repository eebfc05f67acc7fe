/**
 * The Passerelle side of the bench: the gateway's own SSH server and SFTP adapter, started
 * in-process on the Grand Nancy demo configuration with a durable audit log, and an intake
 * that accepts without processing (gateway/intake/stub.ts), because the upload and download
 * figures measure raw transfer into a partner area and out of an outbox (performance.md).
 * Driven with the same OpenSSH client as the reference.
 */
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { silentLogger } from '../gateway/log.js';
import { dataLayout, type DataLayout } from '../gateway/paths.js';
import { newId } from '../gateway/ids.js';
import { loadConfig } from '../gateway/config/load.js';
import { projectRoot } from '../gateway/config/project.js';
import type { ConfigSource } from '../gateway/config/model.js';
import { openAuditLog } from '../gateway/audit/log.js';
import { createStubIntake, type StubIntake } from '../gateway/intake/stub.js';
import { deliveryFileName } from '../gateway/publish/names.js';
import { handleSession } from '../gateway/sftp/session.js';
import { createUploadRegistry } from '../gateway/sftp/uploads.js';
import { startSshServer } from '../gateway/ssh/server.js';
import { makeFile, q, runBatchOk, type SftpTarget } from './sftp.js';

export interface BenchGateway {
  /** The partner's login (uploads, sessions). */
  readonly target: SftpTarget;
  /** Uploads `src` as a partner into its inbox; resolves with the wall time (ms). */
  upload(src: string, name: string): Promise<number>;
  /** Downloads the prepared outbox file to `local` as a commune; resolves with the wall time (ms). */
  download(local: string): Promise<number>;
  /** Something the reader of the results should know about how the gateway was run. */
  readonly note?: string;
  close(): Promise<void>;
}

export interface BenchGatewayOptions {
  readonly work: string;
  readonly downloadBytes: number;
}

export const BENCH_PARTNER = 'police-nationale';
export const BENCH_DATASET = 'faits-4001';
export const BENCH_RECIPIENT = 'observatoire';

/** The demo party's SSH key, copied 0600 (OpenSSH refuses a key others can read). */
export async function demoIdentity(root: string, party: string, work: string): Promise<string> {
  const dest = join(work, `${party}_ed25519`);
  await copyFile(join(root, 'keys-example', party, 'ssh_ed25519'), dest);
  await chmod(dest, 0o600);
  return dest;
}

/** The gateway's SSH server and SFTP adapter on the demo configuration, with a stub intake. */
export interface InProcessGateway {
  readonly port: number;
  /** "ssh-ed25519 AAAA…" of the demo gateway host key. */
  readonly hostKeyLine: string;
  readonly layout: DataLayout;
  readonly intake: StubIntake;
  close(): Promise<void>;
}

export async function startInProcessGateway(work: string): Promise<InProcessGateway> {
  const root = projectRoot();
  const dataDir = join(work, 'gateway-data');
  const log = silentLogger();
  const config = await loadConfig(join(root, 'config', 'grand-nancy', 'passerelle.json'), {
    demo: true,
    adjustSettings: (s) => ({ ...s, dataDir, sftp: { ...s.sftp, host: '127.0.0.1', port: 0 } }),
  });
  const source: ConfigSource = { current: () => config, onChange: () => () => undefined };
  const layout = dataLayout(dataDir);
  for (const d of [layout.staging, layout.outbox, layout.receipts, layout.audit]) await mkdir(d, { recursive: true });
  const audit = await openAuditLog({
    dir: layout.audit,
    origin: config.settings.audit.origin,
    checkpointKeyFile: join(work, 'checkpoint.key'),
    checkpointIntervalMs: config.settings.audit.checkpointIntervalMs,
    log,
    demo: true,
  });
  const intake = createStubIntake();
  const uploads = createUploadRegistry({ keepMs: () => config.settings.limits.partialUploadKeepMs, log });
  try {
    const server = await startSshServer({
      config: source,
      hostKeys: [await readFile(resolve(config.dir, config.settings.keys.sshHostKey))],
      host: '127.0.0.1',
      port: 0,
      audit,
      log,
      onSession: (session, ctx) => handleSession(session, ctx, { config: source, intake, layout, audit, log, uploads }),
    });
    return {
      port: server.port,
      hostKeyLine: server.hostKeyLine,
      layout,
      intake,
      async close() {
        await server.close();
        uploads.close();
        await audit.close();
      },
    };
  } catch (e) {
    uploads.close();
    await audit.close();
    throw e;
  }
}

export async function startBenchGateway(o: BenchGatewayOptions): Promise<BenchGateway> {
  const root = projectRoot();
  const running = await startInProcessGateway(o.work);
  const { layout, intake } = running;

  const knownHosts = join(o.work, 'known_hosts_gateway');
  await writeFile(knownHosts, `[127.0.0.1]:${running.port} ${running.hostKeyLine}\n`);
  const base = { host: '127.0.0.1', port: running.port, knownHosts };
  const partner: SftpTarget = { ...base, user: BENCH_PARTNER, identity: await demoIdentity(root, BENCH_PARTNER, o.work) };
  const commune: SftpTarget = { ...base, user: BENCH_RECIPIENT, identity: await demoIdentity(root, BENCH_RECIPIENT, o.work) };

  // A delivery file placed where the publisher puts them, under a name the gateway would make.
  const outDir = join(layout.outbox, BENCH_RECIPIENT, BENCH_DATASET);
  await mkdir(outDir, { recursive: true });
  const deliveryName = deliveryFileName(new Date(), BENCH_PARTNER, newId());
  await makeFile(join(outDir, deliveryName), o.downloadBytes);

  return {
    target: partner,
    note: 'Passerelle run in-process: its SSH server + SFTP adapter + durable audit log, intake stubbed (accepts without processing)',
    async upload(src, name) {
      const ms = await runBatchOk(partner, [`put ${q(src)} /inbox/${BENCH_DATASET}/${name}`], o.work);
      // The stub leaves staging files to their owner; the bench is that owner here.
      for (const f of intake.finished.splice(0)) await rm(f.stagingPath, { force: true });
      return ms;
    },
    async download(local) {
      return runBatchOk(commune, [`get /outbox/${BENCH_DATASET}/${deliveryName} ${q(local)}`], o.work);
    },
    close: () => running.close(),
  };
}
