/**
 * Drives the OpenSSH `sftp` client in batch mode, the same way against both servers, and
 * measures wall time. The client process is part of every measurement on both sides, so the
 * ratio compares the servers.
 */
import { spawn } from 'node:child_process';
import { open, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export const BENCH_CIPHER = 'aes128-gcm@openssh.com';

export interface SftpTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly identity: string;
  /** A known_hosts file holding the server's host key (strict checking stays on). */
  readonly knownHosts: string;
}

export interface BatchResult {
  readonly ms: number;
  readonly code: number;
  readonly stderr: string;
}

export function sftpArgs(t: SftpTarget, batchFile: string): string[] {
  return [
    '-q',
    '-b', batchFile,
    '-P', String(t.port),
    '-i', t.identity,
    '-o', `Ciphers=${BENCH_CIPHER}`,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${t.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
    `${t.user}@${t.host}`,
  ];
}

/** Runs `sftp -b` with the given commands; resolves with the wall time and exit code. */
export async function runBatch(t: SftpTarget, commands: readonly string[], workDir: string): Promise<BatchResult> {
  const batchFile = join(workDir, `batch-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  await writeFile(batchFile, commands.join('\n') + '\n');
  const start = process.hrtime.bigint();
  const child = spawn('sftp', sftpArgs(t, batchFile), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c ?? -1));
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { ms, code, stderr: stderr.trim() };
}

/** Like runBatch but throws when the client exits non-zero. */
export async function runBatchOk(t: SftpTarget, commands: readonly string[], workDir: string): Promise<number> {
  const r = await runBatch(t, commands, workDir);
  if (r.code !== 0) throw new Error(`sftp exited ${r.code}: ${r.stderr || '(no message)'}`);
  return r.ms;
}

/**
 * Writes a file of `bytes` pseudo-random bytes (incompressible, 1 MiB pattern repeated: cheap
 * to make, and SSH here does no compression anyway), and fsyncs it: the bench's own files must
 * not be written back to disk during the measured runs, where that writeback competes with the
 * gateway's fsyncs (OpenSSH does none) — it made the upload figure swing from 0.6x to 1.2x.
 */
export async function makeFile(path: string, bytes: number): Promise<void> {
  const block = randomBytes(1 << 20);
  const fh = await open(path, 'w');
  try {
    let left = bytes;
    while (left > 0) {
      const n = Math.min(left, block.length);
      await fh.write(block, 0, n);
      left -= n;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Quotes a path for an sftp batch file (double quotes; the client understands \" inside). */
export function q(path: string): string {
  return `"${path.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
