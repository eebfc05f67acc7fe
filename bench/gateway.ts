/**
 * The Passerelle side of the bench: the gateway (gateway/app.ts `startGateway`), started
 * in-process on the Grand Nancy demo configuration with its durable audit log, and an intake
 * that accepts without processing (gateway/intake/stub.ts), because the upload and download
 * figures measure raw transfer into a partner area and out of an outbox (performance.md).
 * Driven with the same OpenSSH client as the reference.
 */
import { chmod, copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startGateway } from '../gateway/app.js';
import { silentLogger } from '../gateway/log.js';
import type { DataLayout } from '../gateway/paths.js';
import { newId } from '../gateway/ids.js';
import { projectRoot } from '../gateway/config/project.js';
import { createStubIntake, type StubIntake } from '../gateway/intake/stub.js';
import { deliveryFileName } from '../gateway/publish/names.js';
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

/** The whole gateway (gateway/app.ts) on the demo configuration, with a stub intake. */
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
  const intake = createStubIntake();
  const gateway = await startGateway({
    configFile: join(root, 'config', 'grand-nancy', 'passerelle.json'),
    demo: true,
    env: {},
    log: silentLogger(),
    adjustSettings: (s) => ({ ...s, dataDir, sftp: { host: '127.0.0.1', port: 0 } }),
    intake,
  });
  return { port: gateway.sftp.port, hostKeyLine: gateway.hostKey.line, layout: gateway.layout, intake, close: () => gateway.close() };
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
    note: 'upload, download, sessions, parallel: Passerelle in-process (startGateway, demo config, durable audit log) with the stub intake (raw bytes accepted unprocessed); intake: the real pipeline',
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
