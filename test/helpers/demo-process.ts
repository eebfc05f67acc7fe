/**
 * The real `passerelle demo` process for tests that must kill it, restart it or give it a disk
 * of its own: SFTP and admin UI on ports chosen by the system, logs at error level. Ready once
 * it has printed how to connect; its port and host key line are read from that text.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../gateway/config/project.js';
import type { SftpTarget } from '../sftp/harness.js';

export interface DemoProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** `[127.0.0.1]:port ssh-ed25519 …` as printed. */
  readonly knownHostsLine: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What it printed on stdout and stderr so far. */
  output(): string;
  /** SIGTERM and wait: the gateway closes cleanly (exit code 0). */
  stop(): Promise<number | null>;
}

type Spawner = (command: string, args: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv }) => ChildProcess;
const direct: Spawner = (command, args, opts) => spawn(command, [...args], { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });

export async function startDemoProcess(dataDir: string, spawnWith: Spawner = direct): Promise<DemoProcess> {
  const root = projectRoot();
  const child = spawnWith(process.execPath, ['--import', 'tsx', join(root, 'gateway', 'cli', 'main.ts'), 'demo'], {
    cwd: root,
    env: { ...process.env, PASSERELLE_DATA: dataDir, PASSERELLE_SFTP_PORT: '0', PASSERELLE_ADMIN_PORT: '0', PASSERELLE_LOG_LEVEL: 'error' },
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (out.includes('Ctrl-C')) {
        clearInterval(t);
        resolve();
      }
    }, 25);
    void exited.then(({ code }) => {
      clearInterval(t);
      reject(new Error(`demo exited early (${code}): ${out}`));
    });
  });
  const port = Number(/sftp -i \S+ -P (\d+) police-nationale@/.exec(out)?.[1]);
  const knownHostsLine = /known_hosts\s+(\[127\.0\.0\.1\]:\d+ ssh-ed25519 \S+)/.exec(out)?.[1];
  if (!port || knownHostsLine === undefined) throw new Error(`no port or host key line in: ${out}`);
  return {
    child,
    port,
    knownHostsLine,
    exited,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return (await exited).code;
    },
  };
}

/** What test/sftp/harness.ts's client helpers need to reach `demo` as `party` (demo key copied 0600 into `dir`). */
export function demoTarget(demo: DemoProcess, dir: string, party: string): SftpTarget {
  const knownHosts = join(dir, `known_hosts-${demo.port}`);
  writeFileSync(knownHosts, `${demo.knownHostsLine}\n`);
  const identity = join(dir, `id_${party}`);
  copyFileSync(join(projectRoot(), 'keys-example', party, 'ssh_ed25519'), identity);
  chmodSync(identity, 0o600);
  return { dir, port: demo.port, knownHosts, keys: { [party]: { privateKey: identity } } };
}
