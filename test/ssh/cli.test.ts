import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../gateway/config/project.js';
import { startDemoProcess, type DemoProcess } from '../helpers/demo-process.js';

const ROOT = projectRoot();

function sftpBatch(cmdline: string, knownHosts: string, batch: string): Promise<{ code: number; stdout: string; stderr: string }> {
  // The printed command, plus what batch mode needs: strict host key checking against the printed line.
  const args = cmdline.split(' ').slice(1);
  const full = ['-b', '-', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'IdentitiesOnly=yes', ...args];
  return new Promise((resolve) => {
    const p = execFile('sftp', full, { cwd: ROOT, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
    p.stdin?.end(batch);
  });
}

describe('passerelle demo (the real CLI process)', () => {
  let dir: string;
  let demo: DemoProcess;
  let out = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'passerelle-demo-'));
    demo = await startDemoProcess(join(dir, 'var'));
    out = demo.output();
  });
  afterAll(async () => {
    if (demo.child.exitCode === null) demo.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the SHA256 host key fingerprint and how to connect as a partner, a commune and to the admin UI', () => {
    expect(out).toMatch(/SHA256:[A-Za-z0-9+/]{43}\b/);
    expect(out).toMatch(/sftp -i keys-example\/police-nationale\/ssh_ed25519 -P \d+ police-nationale@127\.0\.0\.1/);
    expect(out).toMatch(/sftp -i keys-example\/ludres\/ssh_ed25519 -P \d+ ludres@127\.0\.0\.1/);
    expect(out).toMatch(/https:\/\/127\.0\.0\.1:\d+/);
  });

  it('the printed commands log in, checked against the printed known_hosts line', async () => {
    const known = join(dir, 'known_hosts');
    const line = /known_hosts\s+(\[127\.0\.0\.1\]:\d+ ssh-ed25519 \S+)/.exec(out)?.[1];
    expect(line).toBeDefined();
    await writeFile(known, `${line}\n`);
    for (const who of ['police-nationale', 'ludres']) {
      const cmd = new RegExp(`sftp -i \\S+ -P \\d+ ${who}@127\\.0\\.0\\.1`).exec(out)?.[0];
      expect(cmd).toBeDefined();
      const r = await sftpBatch(cmd!, known, 'ls /\n');
      expect(r.stderr).not.toMatch(/denied|refused|REMOTE HOST IDENTIFICATION/);
      expect(r.code).toBe(0);
    }
  });

  it('serves the admin UI at the printed URL with the printed certificate', async () => {
    const url = /administration \(DPO, admin\)\s+: (https:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
    const printed = /Certificat TLS \(SHA-256\)\s+(\S+)/.exec(out)?.[1];
    expect(url).toBeDefined();
    const seen = await new Promise<{ status: number; fingerprint: string }>((resolve, reject) => {
      // Self-signed at first start: the printed fingerprint is what the operator checks, so do we.
      const req = httpsGet(url!, { rejectUnauthorized: false }, (res) => {
        const cert = (res.socket as TLSSocket).getPeerCertificate();
        res.resume();
        resolve({ status: res.statusCode ?? 0, fingerprint: cert.fingerprint256 });
      });
      req.on('error', reject);
    });
    expect(seen.fingerprint).toBe(printed);
    expect(seen.status).toBeGreaterThanOrEqual(200);
    expect(seen.status).toBeLessThan(400);
  });

  it('stops cleanly on SIGTERM, with exit code 0, its data under PASSERELLE_DATA', async () => {
    expect(await demo.stop()).toBe(0);
    expect(await readdir(join(dir, 'var'))).toEqual(expect.arrayContaining(['audit', 'outbox', 'staging']));
  });
});

describe('passerelle demo stopped the moment it says it is up', () => {
  it('a SIGTERM sent on seeing its banner closes it cleanly (8 processes)', async () => {
    // It used to print the banner, then listen for signals: a stop sent on reading the banner
    // could land in between and kill it outright (1 in 8 here).
    const dir = await mkdtemp(join(tmpdir(), 'passerelle-sigterm-'));
    try {
      const codes = await Promise.all(
        [0, 1, 2, 3, 4, 5, 6, 7].map(async (i) => {
          const demo = await startDemoProcess(join(dir, `data-${i}`));
          return { code: await demo.stop(), signal: (await demo.exited).signal };
        }),
      );
      expect(codes).toEqual(Array.from({ length: 8 }, () => ({ code: 0, signal: null })));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
