/**
 * Starts the SSH layer alone (no SFTP, no intake) with keys made by ssh-keygen, and runs the
 * real OpenSSH client against it. Sessions are served by a tiny test handler: `exec` answers
 * "party=<id>" and exits 0, so a successful `ssh … whoami` proves who logged in.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { Session } from 'ssh2';
import type { Limits } from '../../gateway/config/model.js';
import { silentLogger } from '../../gateway/log.js';
import { startSshServer, type RunningSshServer, type SessionContext } from '../../gateway/ssh/server.js';
import { RecordingAudit, sshKeygen, tempDir, testConfig, TestConfigSource, type KeyPair } from '../helpers/ssh-fixture.js';

export interface SshHarness {
  readonly server: RunningSshServer;
  readonly config: TestConfigSource;
  readonly audit: RecordingAudit;
  readonly dir: string;
  readonly knownHosts: string;
  readonly keys: { readonly partner: KeyPair; readonly partner2: KeyPair; readonly recipient: KeyPair; readonly stranger: KeyPair };
  /** Live contexts handed to the session handler, newest last. */
  readonly contexts: SessionContext[];
  stop(): Promise<void>;
}

export async function startSshHarness(limits: Partial<Limits> = {}): Promise<SshHarness> {
  const tmp = tempDir('passerelle-ssh-');
  const dir = tmp.path;
  const host = sshKeygen(dir, 'ssh_host_ed25519');
  const keys = {
    partner: sshKeygen(dir, 'partner'),
    partner2: sshKeygen(dir, 'partner2'),
    recipient: sshKeygen(dir, 'recipient'),
    stranger: sshKeygen(dir, 'stranger'),
  };
  const config = new TestConfigSource(
    testConfig({
      dir,
      partners: [{ id: 'police-nationale', sshKeys: [keys.partner.publicLine, keys.partner2.publicLine] }],
      recipients: [{ id: 'ludres', sshKeys: [keys.recipient.publicLine] }],
      limits,
    }),
  );
  const audit = new RecordingAudit();
  const contexts: SessionContext[] = [];
  const server = await startSshServer({
    config,
    hostKeys: [readFileSync(host.privateKey)],
    host: '127.0.0.1',
    port: 0,
    audit,
    log: silentLogger(),
    onSession: (session, ctx) => {
      contexts.push(ctx);
      serveTestSession(session, ctx);
    },
  });
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${server.port} ${server.hostKeyLine}\n`);
  return {
    server,
    config,
    audit,
    dir,
    knownHosts,
    keys,
    contexts,
    stop: async () => {
      await server.close();
      tmp.cleanup();
    },
  };
}

function serveTestSession(session: Session, ctx: SessionContext): void {
  session.on('exec', (accept, _reject, info) => {
    const ch = accept();
    if (info.command === 'sleep') return; // held open until the connection is closed
    ch.write(`party=${ctx.party.id}\n`);
    ch.exit(0);
    ch.end();
  });
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command, never rejects: the exit code and outputs are the result. */
export function run(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** OpenSSH client options: batch mode, strict host key checking against our known_hosts only, no agent, no config file. */
export function sshArgs(h: SshHarness, user: string, identity: string | undefined, extra: readonly string[] = []): string[] {
  return [
    '-F', '/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${h.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'IdentityAgent=none',
    '-o', 'ConnectTimeout=20',
    ...(identity ? ['-i', identity] : ['-o', 'IdentityFile=/dev/null']),
    '-p', String(h.server.port),
    ...extra,
    '-l', user,
    '127.0.0.1',
  ];
}

/** Connects ssh2's own client; resolves once authenticated, rejects with the client's error. */
export function ssh2Connect(h: SshHarness, cfg: Omit<ssh2.ConnectConfig, 'host' | 'port'>): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    c.once('close', () => reject(new Error('closed before ready')));
    c.connect({ host: '127.0.0.1', port: h.server.port, readyTimeout: 20_000, ...cfg });
  });
}

/** Runs a command over an ssh2 client connection; resolves with its stdout. */
export function ssh2Exec(c: ssh2.Client, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, ch) => {
      if (err) return reject(err);
      let out = '';
      ch.on('data', (d: Buffer) => (out += d.toString()));
      ch.on('close', () => resolve(out));
    });
  });
}

/** Resolves when the client's connection has closed. */
export function closed(c: ssh2.Client): Promise<void> {
  return new Promise((resolve) => c.once('close', () => resolve()));
}
