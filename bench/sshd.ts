/**
 * A throwaway OpenSSH sshd for the benchmark's reference runs: loopback, random port, its own
 * host key, `internal-sftp`, one authorized key, everything in a temp directory removed on close.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, mkdir, writeFile, rm, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export const SSHD_PATH = '/usr/sbin/sshd';

export interface SshKeyPair {
  readonly privatePath: string;
  readonly publicLine: string;
}

/** ssh-keygen an unencrypted ed25519 key at `path` (+ .pub). */
export async function generateKey(path: string, comment = 'bench'): Promise<SshKeyPair> {
  await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return { privatePath: path, publicLine: (await readFile(`${path}.pub`, 'utf8')).trim() };
}

/** A free loopback port (bound then released: good enough for a bench on a quiet machine). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Sshd {
  readonly port: number;
  readonly user: string;
  /** A directory the SFTP user may write to (absolute path, as seen by internal-sftp). */
  readonly dataDir: string;
  /** `[127.0.0.1]:port ssh-ed25519 …` for a known_hosts file. */
  readonly knownHostsLine: string;
  close(): Promise<void>;
}

export function sshdConfig(o: { port: number; hostKey: string; authorizedKeys: string }): string {
  return [
    `ListenAddress 127.0.0.1:${o.port}`,
    `HostKey ${o.hostKey}`,
    `AuthorizedKeysFile ${o.authorizedKeys}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'StrictModes no',
    'UsePAM no',
    'PidFile none',
    'UseDNS no',
    'MaxStartups 100:30:200',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

/** Starts sshd and resolves once it accepts connections. */
export async function startSshd(authorizedKeyLines: readonly string[]): Promise<Sshd> {
  // sshd refuses to start without its privilege-separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 }).catch(() => undefined);
  const dir = await mkdtemp(join(tmpdir(), 'passerelle-bench-sshd-'));
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  const host = await generateKey(hostKey, 'bench-sshd');
  const authorizedKeys = join(dir, 'authorized_keys');
  await writeFile(authorizedKeys, authorizedKeyLines.join('\n') + '\n', { mode: 0o600 });
  const dataDir = join(dir, 'data');
  await mkdir(dataDir);
  const port = await freePort();
  const configPath = join(dir, 'sshd_config');
  await writeFile(configPath, sshdConfig({ port, hostKey, authorizedKeys }));

  const child = spawn(SSHD_PATH, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  // An interrupted bench or a timed-out test must not leave a listening sshd behind.
  const killOnExit = () => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString();
  });
  try {
    await waitForBanner(port, child, () => stderr);
  } catch (e) {
    child.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    port,
    user: userInfo().username,
    dataDir,
    knownHostsLine: `[127.0.0.1]:${port} ${host.publicLine.split(' ').slice(0, 2).join(' ')}`,
    async close() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Resolves once a TCP connection to the port reads an SSH banner. */
export async function waitForBanner(port: number, child?: ChildProcess, log?: () => string, timeoutMs = 10_000): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`sshd exited (${child.exitCode}): ${log?.() ?? ''}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.setTimeout(1000);
      s.once('data', (d: Buffer) => {
        s.destroy();
        resolve(d.toString('latin1').startsWith('SSH-2.0-'));
      });
      s.once('error', () => resolve(false));
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`no SSH banner on 127.0.0.1:${port}: ${log?.() ?? ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
