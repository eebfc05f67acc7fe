/**
 * A running gateway SSH server (H2's `startSshServer`) whose sessions are served by the SFTP
 * adapter, with a stub intake, recorded audit, real keys and real stock clients to drive it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Convention, Dataset, GatewayConfig } from '../../gateway/config/model.js';
import { createStubIntake, type StubIntake } from '../../gateway/intake/stub.js';
import { silentLogger } from '../../gateway/log.js';
import { dataLayout, type DataLayout } from '../../gateway/paths.js';
import { handleSession } from '../../gateway/sftp/session.js';
import type { SftpLimits } from '../../gateway/sftp/state.js';
import { createUploadRegistry, type UploadRegistry } from '../../gateway/sftp/uploads.js';
import { startSshServer, type RunningSshServer } from '../../gateway/ssh/server.js';
import { RecordingAudit, TestConfigSource, sshKeygen, tempDir, testConfig, type KeyPair } from '../helpers/ssh-fixture.js';

export const PARTNER = 'police-nationale';
export const OTHER_PARTNER = 'bailleur-social';
export const COMMUNE = 'ludres';
export const OTHER_COMMUNE = 'nancy';
export const DS = 'faits-4001';
export const OTHER_DS = 'incivilites-bailleur';

function dataset(id: string): Dataset {
  return { id, title: id, format: { kind: 'ndjson', maxLineBytes: 65536 }, schema: `datasets/${id}.schema.json`, idField: 'id', inseeOptional: false };
}

function convention(id: string, sender: string, ds: string, recipients: { party: string; datasets: string[] }[]): Convention {
  return {
    id,
    title: id,
    legalReference: 'test',
    signedOn: '2020-01-01',
    validFrom: '2020-01-01',
    validTo: '2099-12-31',
    purpose: 'test',
    dataCategories: [],
    retentionDays: 30,
    validation: 'all_or_nothing',
    senders: [{ party: sender, datasets: [ds] }],
    recipients,
  };
}

export interface Gateway {
  readonly dir: string;
  readonly port: number;
  readonly layout: DataLayout;
  readonly intake: StubIntake;
  readonly audit: RecordingAudit;
  readonly uploads: UploadRegistry;
  readonly keys: Record<string, KeyPair>;
  readonly knownHosts: string;
  readonly fingerprint: string;
  readonly server: RunningSshServer;
  close(): Promise<void>;
}

export async function startGateway(limits: Partial<SftpLimits> = {}): Promise<Gateway> {
  const tmp = tempDir('passerelle-sftp-');
  const dir = tmp.path;
  const keysDir = join(dir, 'keys');
  mkdirSync(keysDir);
  const host = sshKeygen(keysDir, 'host');
  const keys: Record<string, KeyPair> = {};
  for (const id of [PARTNER, OTHER_PARTNER, COMMUNE, OTHER_COMMUNE]) keys[id] = sshKeygen(keysDir, id);
  const base = testConfig({
    dir,
    partners: [PARTNER, OTHER_PARTNER].map((id) => ({ id, sshKeys: [keys[id]!.publicLine] })),
    recipients: [COMMUNE, OTHER_COMMUNE].map((id) => ({ id, sshKeys: [keys[id]!.publicLine] })),
  });
  const config: GatewayConfig = Object.freeze({
    ...base,
    datasets: new Map([DS, OTHER_DS].map((id) => [id, dataset(id)])),
    conventions: [
      convention('c1', PARTNER, DS, [{ party: COMMUNE, datasets: [DS] }, { party: OTHER_COMMUNE, datasets: [DS] }]),
      convention('c2', OTHER_PARTNER, OTHER_DS, [{ party: COMMUNE, datasets: [OTHER_DS] }]),
    ],
  });
  const layout = dataLayout(join(dir, 'data'));
  for (const d of [layout.staging, layout.outbox, layout.receipts]) mkdirSync(d, { recursive: true });
  const intake = createStubIntake();
  const audit = new RecordingAudit();
  const log = silentLogger();
  const effective = { ...config.settings.limits, maxInflightRequests: 256, ...limits };
  const uploads = createUploadRegistry({ keepMs: () => effective.partialUploadKeepMs, log });
  const source = new TestConfigSource(config);
  const server = await startSshServer({
    config: source,
    hostKeys: [readFileSync(host.privateKey)],
    host: '127.0.0.1',
    port: 0,
    audit,
    log,
    onSession: (session, ctx) => handleSession(session, ctx, { config: source, intake, layout, audit, log, uploads, limits: effective }),
  });
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${server.port} ${server.hostKeyLine}\n`);
  return {
    dir,
    port: server.port,
    layout,
    intake,
    audit,
    uploads,
    keys,
    knownHosts,
    fingerprint: server.fingerprint,
    server,
    async close() {
      uploads.close();
      await server.close();
      tmp.cleanup();
    },
  };
}

/** Puts a delivery file into a recipient's outbox as the publisher would. */
export function publish(gw: Gateway, recipient: string, ds: string, name: string, content: Buffer | string): string {
  const d = join(gw.layout.outbox, recipient, ds);
  mkdirSync(d, { recursive: true });
  const p = join(d, name);
  writeFileSync(p, content);
  return p;
}

export function writeReceipt(gw: Gateway, partner: string, name: string, content: string): string {
  const d = join(gw.layout.receipts, partner);
  mkdirSync(d, { recursive: true });
  const p = join(d, name);
  writeFileSync(p, content);
  return p;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Runs a client; a client still running after `timeoutMs` is killed and reported as timed out. */
export function run(cmd: string, args: string[], opts: { input?: string; cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export function sshOptions(gw: Gateway, party: string): string[] {
  return [
    '-i', gw.keys[party]!.privateKey,
    '-o', `UserKnownHostsFile=${gw.knownHosts}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'GlobalKnownHostsFile=/dev/null',
  ];
}

/** OpenSSH `sftp -b` with the given batch lines. */
export function sftpBatch(gw: Gateway, party: string, lines: string[], cwd?: string, timeoutMs?: number): Promise<RunResult> {
  const batch = join(gw.dir, `batch-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  writeFileSync(batch, lines.join('\n') + '\n');
  return run('sftp', ['-b', batch, '-P', String(gw.port), ...sshOptions(gw, party), `${party}@127.0.0.1`], { cwd, timeoutMs });
}
