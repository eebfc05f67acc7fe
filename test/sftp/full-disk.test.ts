/**
 * A full disk seen by real clients (security.md invariants 3 and 6): the whole gateway (the
 * `passerelle demo` process) runs with its data directory on a small tmpfs of its own, filled
 * by the test. An upload that finds no room fails to the client, with STORAGE_FULL where the
 * client shows the server's message (lftp), publishes nothing, and the same upload goes through
 * once room is freed, without a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeExport } from '../../bench/intake.js';
import { DEFAULT_LIMITS } from '../../gateway/config/defaults.js';
import { projectRoot } from '../../gateway/config/project.js';
import { readGatewayPgp } from '../../gateway/kit/inputs.js';
import { openStateStore, type UploadRow } from '../../gateway/store/state.js';
import { startDemoProcess, demoTarget, type DemoProcess } from '../helpers/demo-process.js';
import { inside, spawnOnTmpfs } from '../helpers/tmpfs.js';
import { filesUnder } from '../intake/invariants.js';
import { gpg } from '../intake/pipeline-harness.js';
import { lftp, sftpBatch, type SftpTarget } from './harness.js';

const ROOT = projectRoot();
const PARTNER = 'police-nationale';
const TMPFS_BYTES = 256 << 20;
const EXPORT_BYTES = 16 << 20;
/**
 * Room enough for a login (its audit entries, and a checkpoint of the audit log's WAL into its
 * database, up to 4 MiB at once) but not for the upload's staging copy; then room for the
 * staging copy and that slack, but not for the sealed deliveries (about 7 times the export).
 */
const ROOM_LOGIN_ONLY = 8 << 20;
const ROOM_STAGING_ONLY = 32 << 20;

let dir: string;
let mount: string;
let demo: DemoProcess;
let child: ChildProcess;
let gw: SftpTarget;
let sealed: string;

/**
 * Leaves about `room` bytes free on the gateway's disk (a filler file takes the rest), once the
 * previous attempt's files are cleaned up (they would free more room after the measure).
 */
async function leaveRoom(room: number): Promise<void> {
  await settled('pending');
  await settled('staging');
  const filler = inside(child.pid!, join(mount, 'filler'));
  rmSync(filler, { force: true });
  const s = statfsSync(inside(child.pid!, mount));
  const fill = s.bavail * s.bsize - room;
  if (fill > 0) execFileSync('fallocate', ['-l', String(fill), filler]);
}

function seen(sub: string): string[] {
  return filesUnder(inside(child.pid!, join(mount, 'data', sub)));
}

/**
 * What is left under `sub` once the gateway has finished cleaning up (10 s at most). A failed
 * WRITE aborts the upload's pipeline, which removes its pending files once its sealing threads
 * have stopped, after the client has had its answer; a client that quits without its CLOSE
 * leaves its upload to the end of its session.
 */
async function settled(sub: string): Promise<string[]> {
  for (const until = Date.now() + 10_000; seen(sub).length > 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
  return seen(sub);
}

/** The gateway's upload records, read from a copy of its state database (it runs in its own mount namespace). */
function recordedUploads(): UploadRow[] {
  const copy = mkdtempSync(join(dir, 'state-'));
  execFileSync('cp', ['-r', inside(child.pid!, join(mount, 'data', 'state')), copy]);
  const state = openStateStore(join(copy, 'state'));
  try {
    return state.recentUploads(1000);
  } finally {
    void state.close();
  }
}

function acceptedReceipts(): number {
  return seen('receipts')
    .filter((f) => f.endsWith('.json'))
    .filter((f) => (JSON.parse(readFileSync(f, 'utf8')) as { status?: string }).status === 'accepted').length;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'passerelle-sftp-fulldisk-'));
  mount = join(dir, 'var');
  mkdirSync(mount);
  demo = await startDemoProcess(join(mount, 'data'), (command, args, opts) => spawnOnTmpfs(mount, TMPFS_BYTES, command, args, opts));
  child = demo.child;
  gw = demoTarget(demo, dir, PARTNER);

  // An export signed and encrypted by the partner's demo key with GnuPG.
  const home = join(dir, 'gnupg');
  mkdirSync(home, { mode: 0o700 });
  gpg(home, ['--import', join(ROOT, 'keys-example', PARTNER, 'pgp.sec.asc'), join(ROOT, 'keys-example', 'gateway', 'pgp.pub.asc')]);
  const plain = join(dir, 'export.csv');
  await writeExport(plain, EXPORT_BYTES, 'FULL');
  sealed = `${plain}.gpg`;
  const gatewayKey = (await readGatewayPgp(join(ROOT, 'keys-example', 'gateway', 'pgp.pub.asc'))).fingerprint;
  gpg(home, ['--compress-algo', 'none', '--recipient', gatewayKey, '--sign', '--encrypt', '--output', sealed, plain]);
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await demo.exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a full disk under real SFTP clients', () => {
  it('no room at all: logins are refused (no access without its audit entry), and not held against the partner', async () => {
    await leaveRoom(0);
    // More refusals than the ban threshold: a source is banned for failed keys, not for this.
    for (let i = 0; i <= DEFAULT_LIMITS.banAfterFailures; i++) {
      const r = await sftpBatch(gw, PARTNER, [`put ${sealed} /inbox/faits-4001/a.csv.gpg`]);
      // Once (CI under load, 2026-12-07) the client ended by a signal here: say which, and what it printed.
      expect(r.code, `attempt ${i}, signal ${String(r.signal)}, timed out ${String(r.timedOut)}: ${r.stderr}`).toBe(255);
      expect(r.stderr).toMatch(/Permission denied/);
      // Once an audit write has failed, the refusal says why before authentication.
      if (i > 0) expect(r.stderr).toMatch(/le stockage était plein.*Gateway: storage was full/s);
    }
    expect(seen('outbox')).toEqual([]);
    expect(child.exitCode).toBeNull();
  }, 60_000);

  it('room to log in but not for the upload: its WRITEs fail, lftp says STORAGE_FULL, nothing is published', async () => {
    await leaveRoom(ROOM_LOGIN_ONLY);
    const r = await sftpBatch(gw, PARTNER, [`put ${sealed} /inbox/faits-4001/b.csv.gpg`]);
    expect(r.code).toBe(1);
    // Each attempt leaves the databases' logs a little longer: the same room again.
    await leaveRoom(ROOM_LOGIN_ONLY);
    const l = await lftp(gw, PARTNER, [`put ${sealed} -o /inbox/faits-4001/b.csv.gpg`]);
    expect(l.code).toBe(1);
    expect(l.stderr + l.stdout).toMatch(/STORAGE_FULL/);
    expect(seen('outbox')).toEqual([]);
    expect(acceptedReceipts()).toBe(0);
    // Both uploads are recorded as failed for that reason, not as dropped by the client.
    await settled('pending');
    const failed = recordedUploads().filter((u) => u.clientName === 'b.csv.gpg');
    expect(failed.map((u) => [u.state, u.code])).toEqual([['failed', 'STORAGE_FULL'], ['failed', 'STORAGE_FULL']]);
  }, 60_000);

  it('room for the upload but not for its deliveries: the verdict is STORAGE_FULL, nothing is published', async () => {
    await leaveRoom(ROOM_STAGING_ONLY);
    const l = await lftp(gw, PARTNER, [`put ${sealed} -o /inbox/faits-4001/c.csv.gpg`]);
    expect(l.code).toBe(1);
    expect(l.stderr + l.stdout).toMatch(/STORAGE_FULL/);
    // Each attempt leaves the databases' logs a little longer: the same room again.
    await leaveRoom(ROOM_STAGING_ONLY);
    const r = await sftpBatch(gw, PARTNER, [`put ${sealed} /inbox/faits-4001/d.csv.gpg`]);
    expect(r.code).toBe(1);
    expect(seen('outbox')).toEqual([]);
    expect(await settled('pending')).toEqual([]);
    expect(acceptedReceipts()).toBe(0);
  }, 60_000);

  it('once room is freed, the same file goes through without a restart', async () => {
    rmSync(inside(child.pid!, join(mount, 'filler')), { force: true });
    const r = await sftpBatch(gw, PARTNER, [`put ${sealed} /inbox/faits-4001/e.csv.gpg`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(acceptedReceipts()).toBe(1);
    expect(seen('outbox').filter((f) => f.endsWith('.ndjson.pgp')).length).toBeGreaterThanOrEqual(2);
    // Nothing of the failed attempts is left in staging (a full disk is not a dropped
    // connection: nothing is kept for a resume).
    expect(await settled('staging')).toEqual([]);
  }, 60_000);
});
