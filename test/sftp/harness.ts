/**
 * A running gateway SSH server (H2's `startSshServer`) whose sessions are served by the SFTP
 * adapter, with a stub intake, recorded audit, real keys and real stock clients to drive it.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { Client, type OpenMode, type SFTPWrapper, type Stats as SftpStats } from 'ssh2';
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
  readonly config: TestConfigSource;
  close(): Promise<void>;
}

/** What the client helpers need of a gateway: any SFTP server, the parties' private key files. */
export interface SftpTarget {
  /** Where the helpers write their batch and configuration files. */
  readonly dir: string;
  readonly port: number;
  readonly knownHosts: string;
  readonly keys: Readonly<Record<string, { readonly privateKey: string }>>;
}

/** PuTTY pins the host key by its fingerprint rather than a known_hosts file. */
export interface PsftpTarget extends SftpTarget {
  readonly fingerprint: string;
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
    config: source,
    async close() {
      await uploads.close();
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
  /** The signal that ended the client, when one did (`code` is then null). */
  readonly signal?: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Runs a client; a client still running after `timeoutMs` is killed and reported as timed out. */
export function run(cmd: string, args: string[], opts: { input?: string; cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // Own process group, so a hung client and the ssh it started are killed together.
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export function sshOptions(gw: SftpTarget, party: string): string[] {
  return [
    '-i', gw.keys[party]!.privateKey,
    '-o', `UserKnownHostsFile=${gw.knownHosts}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'GlobalKnownHostsFile=/dev/null',
  ];
}

/** OpenSSH `sftp -b` with the given batch lines (`extra`: more ssh options, e.g. a cipher). */
export function sftpBatch(gw: SftpTarget, party: string, lines: string[], cwd?: string, timeoutMs?: number, extra: readonly string[] = []): Promise<RunResult> {
  const batch = join(gw.dir, `batch-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  writeFileSync(batch, lines.join('\n') + '\n');
  return run('sftp', ['-b', batch, '-P', String(gw.port), ...sshOptions(gw, party), ...extra, `${party}@127.0.0.1`], { cwd, timeoutMs });
}

/** OpenSSH `scp` (SFTP protocol, the OpenSSH 9 default). */
export function scp(gw: SftpTarget, party: string, from: string, to: string): Promise<RunResult> {
  const remote = (p: string): string => (p.startsWith(':') ? `${party}@127.0.0.1${p}` : p);
  return run('scp', ['-P', String(gw.port), ...sshOptions(gw, party), remote(from), remote(to)]);
}

/** lftp over sftp, its connection made by OpenSSH with the party's key. */
export function lftp(gw: SftpTarget, party: string, commands: string[], timeoutMs?: number): Promise<RunResult> {
  const ssh = ['ssh', '-a', '-x', ...sshOptions(gw, party)].join(' ');
  const script = [
    `set sftp:connect-program "${ssh}"`,
    'set cmd:fail-exit yes',
    'set net:max-retries 1',
    'set net:reconnect-interval-base 1',
    `open sftp://${party}:@127.0.0.1:${gw.port}`,
    ...commands,
  ].join('; ');
  return run('lftp', ['-c', script], { timeoutMs });
}

/** rclone with an sftp remote named `gw` (no shell commands, no remote hashing). */
export function rclone(gw: SftpTarget, party: string, args: string[], timeoutMs?: number): Promise<RunResult> {
  const conf = join(gw.dir, `rclone-${party}.conf`);
  writeFileSync(
    conf,
    [
      '[gw]',
      'type = sftp',
      'host = 127.0.0.1',
      `port = ${gw.port}`,
      `user = ${party}`,
      `key_file = ${gw.keys[party]!.privateKey}`,
      `known_hosts_file = ${gw.knownHosts}`,
      'shell_type = none',
      'disable_hashcheck = true',
      '',
    ].join('\n'),
  );
  return run('rclone', ['--config', conf, '--low-level-retries', '1', '--retries', '1', ...args], { env: { ...process.env, RCLONE_CONFIG: conf }, timeoutMs });
}

/** PuTTY psftp in batch mode with the party's key converted to PPK. */
export async function psftp(gw: PsftpTarget, party: string, lines: string[]): Promise<RunResult> {
  const ppk = `${gw.keys[party]!.privateKey}.ppk`;
  const conv = await run('puttygen', [gw.keys[party]!.privateKey, '-O', 'private', '-o', ppk]);
  if (conv.code !== 0) throw new Error(`puttygen failed: ${conv.stderr}`);
  const batch = join(gw.dir, `psftp-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  writeFileSync(batch, lines.join('\n') + '\n');
  return run('psftp', ['-batch', '-i', ppk, '-hostkey', gw.fingerprint, '-P', String(gw.port), '-b', batch, `${party}@127.0.0.1`]);
}

/** An ssh2 client SFTP session, for what stock clients cannot send (hostile paths, floods, drops). */
export async function ssh2Sftp(gw: Gateway, party: string): Promise<{ client: Client; sftp: SFTPWrapper; closed: Promise<void> }> {
  const client = new Client();
  const closed = new Promise<void>((r) => client.on('close', () => r()));
  await new Promise<void>((resolve, reject) => {
    client.on('ready', () => resolve());
    client.on('error', reject);
    client.connect({
      host: '127.0.0.1',
      port: gw.port,
      username: party,
      privateKey: readFileSync(gw.keys[party]!.privateKey),
      hostVerifier: (key: Buffer) => key.equals(Buffer.from(gw.server.hostKeyLine.split(' ')[1]!, 'base64')),
    });
  });
  client.on('error', () => undefined);
  const sftp = await new Promise<SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
  return { client, sftp, closed };
}

/** Promise wrappers over the ssh2 client SFTP calls used by the tests. */
export const p = {
  open: (s: SFTPWrapper, path: string, flags: OpenMode | number): Promise<Buffer> => new Promise((res, rej) => s.open(path, flags, (e, h) => (e ? rej(e) : res(h)))),
  write: (s: SFTPWrapper, h: Buffer, data: Buffer, pos: number): Promise<void> =>
    new Promise((res, rej) => s.write(h, data, 0, data.length, pos, (e) => (e ? rej(e) : res()))),
  read: (s: SFTPWrapper, h: Buffer, len: number, pos: number): Promise<Buffer> =>
    new Promise((res, rej) => s.read(h, Buffer.alloc(len), 0, len, pos, (e, n, b) => (e ? rej(e) : res(b.subarray(0, n))))),
  close: (s: SFTPWrapper, h: Buffer): Promise<void> => new Promise((res, rej) => s.close(h, (e) => (e ? rej(e) : res()))),
  stat: (s: SFTPWrapper, path: string): Promise<SftpStats> => new Promise((res, rej) => s.stat(path, (e, st) => (e ? rej(e) : res(st)))),
  readdir: (s: SFTPWrapper, path: string): Promise<string[]> =>
    new Promise((res, rej) => s.readdir(path, (e, list) => (e ? rej(e) : res(list.map((x) => x.filename))))),
  rename: (s: SFTPWrapper, a: string, b: string): Promise<void> => new Promise((res, rej) => s.rename(a, b, (e) => (e ? rej(e) : res()))),
  unlink: (s: SFTPWrapper, path: string): Promise<void> => new Promise((res, rej) => s.unlink(path, (e) => (e ? rej(e) : res()))),
  mkdir: (s: SFTPWrapper, path: string): Promise<void> => new Promise((res, rej) => s.mkdir(path, (e) => (e ? rej(e) : res()))),
  symlink: (s: SFTPWrapper, target: string, path: string): Promise<void> => new Promise((res, rej) => s.symlink(target, path, (e) => (e ? rej(e) : res()))),
  realpath: (s: SFTPWrapper, path: string): Promise<string> => new Promise((res, rej) => s.realpath(path, (e, r) => (e ? rej(e) : res(r)))),
};

/** Every file under `root` (relative path → size and mtime), to prove nothing else moved. */
export function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, e.name);
      if (e.isDirectory()) walk(full);
      else {
        const st = statSync(full);
        out.set(full.slice(root.length), `${st.size}:${st.mtimeMs}:${sha256(readFileSync(full))}`);
      }
    }
  };
  walk(root);
  return out;
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
