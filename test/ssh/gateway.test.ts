import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAuditReader } from '../../gateway/audit/log.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

function sftp(args: string[], batch: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = execFile('sftp', ['-b', '-', ...args], { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
    p.stdin?.end(batch);
  });
}

describe('startGateway on the example deployment (OpenSSH sftp)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('reports the host key fingerprint OpenSSH computes, and a known_hosts line clients accept', async () => {
    const fp = await new Promise<string>((resolve, reject) =>
      execFile('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(process.cwd(), 'keys-example', 'gateway', 'ssh_host_ed25519.pub')], (err, out) =>
        err ? reject(err) : resolve(out.split(' ')[1] ?? ''),
      ),
    );
    expect(gw.fingerprint).toBe(fp);
    expect(gw.knownHostsLine).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${gw.port} ssh-ed25519 AAAA`));
  });

  it('lets a partner and a commune log in with their demo keys and see their own trees', async () => {
    const partner = await sftp([...(await gw.sftpOptions('police-nationale')), '127.0.0.1'], 'ls /\n');
    expect(partner.stderr).not.toContain('Permission denied');
    expect(partner.code).toBe(0);
    expect(partner.stdout).toMatch(/inbox/);
    const commune = await sftp([...(await gw.sftpOptions('ludres')), '127.0.0.1'], 'ls /\n');
    expect(commune.code).toBe(0);
    expect(commune.stdout).toMatch(/outbox/);
  });

  it('refuses a party whose key is not its own', async () => {
    const opts = (await gw.sftpOptions('ludres')).map((a) => (a === 'User=ludres' ? 'User=police-nationale' : a));
    const r = await sftp([...opts, '127.0.0.1'], 'ls /\n');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Permission denied (publickey)');
  });

  it('runs uploads through the real intake: a file that is not OpenPGP is rejected, with a receipt, and nothing is delivered', async () => {
    const file = join(gw.dir, 'export.csv.gpg');
    await writeFile(file, 'not really encrypted');
    const r = await sftp([...(await gw.sftpOptions('police-nationale')), '127.0.0.1'], `put ${file} /inbox/faits-4001/export.csv.gpg\n`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Failure');
    // The partner's receipt says why.
    const dir = join(gw.gateway.layout.receipts, 'police-nationale');
    const receipts = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    expect(receipts).toHaveLength(1);
    const receipt = await readFile(join(dir, receipts[0]!), 'utf8');
    expect(receipt).toContain('PGP_NOT_ENCRYPTED');
    // Nothing was delivered to anyone.
    expect(await readdir(gw.gateway.layout.outbox, { recursive: true })).toEqual([]);
  });

  it('records start, logins and the stop in the durable audit log', async () => {
    await gw.gateway.close();
    const reader = openAuditReader(gw.gateway.layout.audit);
    const types: string[] = [];
    const actors: string[] = [];
    for await (const r of reader.iterate({})) {
      types.push(r.entry.type);
      actors.push(r.entry.actor?.id ?? '');
    }
    await reader.close();
    expect(types[0]).toBe('gateway.start');
    expect(types.at(-1)).toBe('gateway.stop');
    expect(types).toContain('ssh.auth');
    expect(actors).toEqual(expect.arrayContaining(['police-nationale', 'ludres']));
  });
});
