/**
 * A gateway restart does not cost a partner its interrupted upload: the partial parked by a
 * dropped connection survives the stop, the partner's own listing shows it with its size after
 * the restart, and OpenSSH `sftp reput` completes it into an accepted export whose committed
 * SHA-256 is the whole file's. Past its keep time, a restart removes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ssh2';
import { writeExport } from '../../bench/intake.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { p, sftpBatch, type SftpTarget } from '../sftp/harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const KEYS = join(ROOT, 'keys-example');
const PARTNER = 'police-nationale';
const DS = 'faits-4001';

let dir: string;
let sealed: Buffer;
let sealedPath: string;
/** Another export (the first one is accepted by the first test: this one must not be its duplicate). */
let other: { path: string; sha256: string };

function gpg(home: string, args: string[]): void {
  execFileSync('gpg', ['--homedir', home, '--batch', '--yes', '--quiet', '--trust-model', 'always', ...args], { stdio: 'pipe' });
}

/** What test/sftp/harness.ts's client helpers need to reach `tg` as the partner. */
async function clientView(tg: TestGateway): Promise<SftpTarget> {
  return { dir: tg.dir, port: tg.port, keys: { [PARTNER]: { privateKey: await tg.key(PARTNER) } }, knownHosts: tg.knownHosts };
}

/** Sends the first `bytes` of `data` with ssh2's client, then drops the connection (no CLOSE). */
async function sendAndDrop(tg: TestGateway, remote: string, data: Buffer, bytes: number): Promise<void> {
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject);
    client.connect({
      host: '127.0.0.1',
      port: tg.port,
      username: PARTNER,
      privateKey: readFileSync(join(KEYS, PARTNER, 'ssh_ed25519')),
      hostVerifier: (key: Buffer) => key.equals(Buffer.from(tg.knownHostsLine.split(' ')[2]!, 'base64')),
    });
  });
  client.on('error', () => undefined);
  const sftp = await new Promise<import('ssh2').SFTPWrapper>((res, rej) => client.sftp((e, s) => (e ? rej(e) : res(s))));
  const h = await p.open(sftp, remote, 'w');
  for (let off = 0; off < bytes; off += 32768) await p.write(sftp, h, data.subarray(off, Math.min(off + 32768, bytes)), off);
  client.destroy();
}

function stagingFiles(): string[] {
  const d = join(dir, 'data', 'staging');
  return existsSync(d) ? readdirSync(d) : [];
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'passerelle-restart-'));
  const home = join(dir, 'gnupg');
  mkdirSync(home, { mode: 0o700 });
  gpg(home, ['--import', join(KEYS, PARTNER, 'pgp.sec.asc'), join(KEYS, 'gateway', 'pgp.pub.asc')]);
  const gatewayFpr = execFileSync('gpg', ['--with-colons', '--show-keys', join(KEYS, 'gateway', 'pgp.pub.asc')]).toString().match(/^fpr:+([0-9A-F]{40}):/m)![1]!;
  const plain = join(dir, 'export.csv');
  await writeExport(plain, 3 * 1024 * 1024, 'RESTART');
  sealedPath = `${plain}.gpg`;
  gpg(home, ['-z', '0', '--recipient', gatewayFpr, '--sign', '--encrypt', '--output', sealedPath, plain]);
  sealed = readFileSync(sealedPath);
  await writeExport(join(dir, 'other.csv'), 1024 * 1024, 'RESTART-TMP');
  other = { path: join(dir, 'other.csv.gpg'), sha256: '' };
  gpg(home, ['-z', '0', '--recipient', gatewayFpr, '--sign', '--encrypt', '--output', other.path, join(dir, 'other.csv')]);
  other.sha256 = createHash('sha256').update(readFileSync(other.path)).digest('hex');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('interrupted uploads across a gateway restart', () => {
  it('the partial survives the restart and `sftp reput` completes it into an accepted export', async () => {
    const first = await startTestGateway({ dir });
    const half = 1024 * 1024;
    try {
      await sendAndDrop(first, `/inbox/${DS}/restart.csv.gpg`, sealed, half);
      await until(() => stagingFiles().some((f) => f.endsWith('.parked')), 'the parked record');
    } finally {
      await first.stop();
    }

    const second = await startTestGateway({ dir });
    try {
      const gw = await clientView(second);
      const ls = await sftpBatch(gw, PARTNER, [`ls -l /inbox/${DS}`]);
      expect(ls.code).toBe(0);
      expect(ls.stdout).toMatch(new RegExp(`\\s${half}\\s.*restart\\.csv\\.gpg`));

      const r = await sftpBatch(gw, PARTNER, [`reput ${sealedPath} /inbox/${DS}/restart.csv.gpg`], undefined, 120_000);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const committed = await second.gateway.auditLog!.query({ type: 'sftp.upload.committed' });
      expect(committed.at(-1)?.entry.refs?.['sha256']).toBe(createHash('sha256').update(sealed).digest('hex'));
      expect(committed.at(-1)?.entry.details?.['bytes']).toBe(sealed.length);
      const accepted = await second.gateway.auditLog!.query({ type: 'upload.accepted' });
      expect(accepted.length).toBe(1);
      expect(stagingFiles().filter((f) => f.endsWith('.parked'))).toEqual([]);
    } finally {
      await second.stop();
    }
  }, 180_000);

  it('a temporary name closed before a restart is committed by its RENAME after it, under a new upload id', async () => {
    const first = await startTestGateway({ dir });
    let firstId: string;
    try {
      const put = await sftpBatch(await clientView(first), PARTNER, [`put ${other.path} /inbox/${DS}/tmp.csv.gpg.filepart`]);
      expect(put.code, put.stderr).toBe(0);
      await until(() => stagingFiles().some((f) => f.endsWith('.parked')), 'the parked record');
      firstId = stagingFiles().find((f) => f.endsWith('.parked'))!.slice(0, -'.parked'.length);
    } finally {
      await first.stop();
    }

    const second = await startTestGateway({ dir });
    try {
      const gw = await clientView(second);
      const r = await sftpBatch(gw, PARTNER, [`rename /inbox/${DS}/tmp.csv.gpg.filepart /inbox/${DS}/tmp.csv.gpg`]);
      expect(r.code, r.stderr).toBe(0);
      const committed = (await second.gateway.auditLog!.query({ type: 'sftp.upload.committed' })).at(-1)!.entry;
      expect(committed.refs?.['sha256']).toBe(other.sha256);
      expect(committed.details?.['clientName']).toBe('tmp.csv.gpg');
      const id = String(committed.refs?.['uploadId']);
      // The pipeline that followed the bytes before the restart is gone, and its id with it.
      expect(id).not.toBe(firstId);
      expect(second.gateway.state.getUpload(id)).toMatchObject({ state: 'accepted', clientName: 'tmp.csv.gpg' });
      expect(second.gateway.state.getUpload(firstId)?.state).not.toBe('accepted');
      expect(stagingFiles()).toEqual([]);
    } finally {
      await second.stop();
    }
  }, 120_000);

  it('past its keep time, the next start removes the partial and its record', async () => {
    const first = await startTestGateway({ dir, limits: { partialUploadKeepMs: 1500 } });
    try {
      await sendAndDrop(first, `/inbox/${DS}/late.csv.gpg`, sealed, 256 * 1024);
      await until(() => stagingFiles().some((f) => f.endsWith('.parked')), 'the parked record');
    } finally {
      await first.stop();
    }
    await new Promise((r) => setTimeout(r, 1600));
    const second = await startTestGateway({ dir, limits: { partialUploadKeepMs: 1500 } });
    try {
      expect(stagingFiles()).toEqual([]);
      const ls = await sftpBatch(await clientView(second), PARTNER, [`ls -l /inbox/${DS}`]);
      expect(ls.code).toBe(0);
      expect(ls.stdout).not.toContain('late.csv.gpg');
    } finally {
      await second.stop();
    }
  }, 60_000);
});
