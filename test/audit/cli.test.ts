import { describe, it, expect, afterEach } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir, userInfo } from 'node:os';
import Database from 'better-sqlite3';
import { verifyCheckpoint } from '../../gateway/audit/checkpoint.js';
import { openAuditReader } from '../../gateway/audit/log.js';
import { parseSignerKey, parseVerifierKey } from '../../gateway/audit/notekey.js';
import { ORIGIN, event, fixture, type Fixture } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
function cli(args: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'gateway', 'cli', 'main.ts'), 'audit', ...args], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

let fx: Fixture;
afterEach(() => fx?.cleanup());

async function seeded(n = 20): Promise<void> {
  fx = fixture();
  const log = await fx.open();
  for (let i = 0; i < n; i++) await log.append(event(i));
  await log.close();
}

async function entriesOfType(type: string): Promise<{ actor: string | undefined; details: unknown }[]> {
  const reader = openAuditReader(join(fx.dir, 'audit'));
  const recs = await reader.query({ type, limit: 100 });
  await reader.close();
  return recs.map((r) => ({ actor: r.entry.actor?.id, details: r.entry.details }));
}

describe('passerelle audit', () => {
  it('verify: exit 0 on an intact trail, and the viewing is recorded with the OS user', async () => {
    await seeded();
    const r = cli(['verify', '--data', fx.dir, '--key', fx.pubFile]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Journal d'audit intègre \/ audit trail verified: 21 entrées/);
    expect(await entriesOfType('audit.viewed')).toEqual([{ actor: userInfo().username, details: { via: 'cli', command: 'verify', trustedCheckpoints: 0 } }]);
  });

  it('verify: exit 1 naming the altered entry', async () => {
    await seeded();
    const db = new Database(join(fx.dir, 'audit', 'audit.sqlite'));
    db.prepare("UPDATE entries SET body = replace(body, 'police-nationale', 'police-nationaIe') WHERE seq = 4").run();
    db.close();
    const r = cli(['verify', '--data', fx.dir, '--key', fx.pubFile]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ÉCHEC \/ FAILED \[AUDIT_ENTRY_MISMATCH LEAF_HASH\] entrée n° 4 :/);
  });

  it('verify: needs a trusted key, and refuses a trail re-signed with another key', async () => {
    await seeded();
    expect(cli(['verify', '--data', fx.dir]).code).toBe(2);
    const other = fixture();
    try {
      const r = cli(['verify', '--data', fx.dir, '--key', other.pubFile]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/CHECKPOINT_KEY/);
    } finally {
      other.cleanup();
    }
  });

  it('prove N then verify-proof offline; an altered proof fails with exit 1', async () => {
    await seeded();
    const out = join(fx.dir, 'proof.json');
    const p = cli(['prove', '7', '--data', fx.dir, '--out', out]);
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    const bundle = JSON.parse(readFileSync(out, 'utf8')) as { index: number; treeSize: number; entry: { seq: number }; inclusionProof: string[]; checkpoint: string };
    expect(bundle.index).toBe(7);
    expect(bundle.entry.seq).toBe(7);
    expect(bundle.inclusionProof.every((h) => /^[0-9a-f]{64}$/.test(h))).toBe(true);
    expect(verifyCheckpoint(bundle.checkpoint, fx.verifier, ORIGIN).size).toBe(bundle.treeSize);

    const ok = cli(['verify-proof', out, '--key', fx.pubFile, '--origin', ORIGIN]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/Preuve valide \/ proof valid: entrée n° 7/);

    const bad = join(fx.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...bundle, entry: { ...bundle.entry, outcome: 'failure' } }));
    const ko = cli(['verify-proof', bad, '--key', fx.pubFile]);
    expect(ko.code).toBe(1);
    expect(ko.stderr).toMatch(/\[AUDIT_PROOF_INVALID\] l'empreinte de l'entrée ne correspond pas/);
    expect(cli(['prove', 'x', '--data', fx.dir]).code).toBe(2);

    // The same leaf presented as purged, under a made-up type and time: its hash is still proven
    // (a purged entry cannot be hashed again), but what the bundle says of it is not shown as proven.
    const forged = join(fx.dir, 'purged.json');
    writeFileSync(forged, JSON.stringify({ ...bundle, entry: { seq: 7, time: '2020-01-01T00:00:00.000Z', type: 'admin.login', actor: null, outcome: 'success', refs: null, details: null } }));
    const purged = cli(['verify-proof', forged, '--key', fx.pubFile, '--origin', ORIGIN]);
    expect(purged.code).toBe(0);
    expect(purged.stdout).toMatch(/l'entrée n° 7 est dans .* seule son empreinte est prouvée, pas son type ni sa date/);
    expect(purged.stdout).not.toMatch(/admin\.login|2020-01-01/);
  });

  it('export: ndjson and csv with filters, each export recorded', async () => {
    await seeded(30);
    const nd = cli(['export', '--data', fx.dir, '--type', 'sftp.*', '--format', 'ndjson']);
    expect(nd.code).toBe(0);
    const rows = nd.stdout.trim().split('\n').map((l) => JSON.parse(l) as { seq: number; type: string; leafHash: string });
    expect(rows.map((r) => r.seq)).toEqual([0, 3, 6, 9, 12, 15, 18, 21, 24, 27]);
    expect(rows.every((r) => r.type === 'sftp.upload.committed' && r.leafHash.length === 64)).toBe(true);

    const csv = cli(['export', '--data', fx.dir, '--actor', 'ludres', '--format', 'csv']);
    expect(csv.code).toBe(0);
    const lines = csv.stdout.split('\r\n').filter(Boolean);
    expect(lines[0]).toBe('seq,time,type,outcome,actor_id,actor_kind,actor_source,refs,details,leaf_hash,purged');
    expect(lines).toHaveLength(16);
    expect(lines[1]).toMatch(/^1,[0-9T:.-]+Z,ssh\.auth,success,ludres,recipient,127\.0\.0\.1:10001,"{""uploadId"":""up-1""}","{""bytes"":10,""note"":""événement 1""}",[0-9a-f]{64},0$/);

    expect(await entriesOfType('audit.exported')).toEqual([
      { actor: userInfo().username, details: { via: 'cli', format: 'ndjson', type: 'sftp.*' } },
      { actor: userInfo().username, details: { via: 'cli', format: 'csv', actor: 'ludres' } },
    ]);
    expect(cli(['export', '--data', fx.dir, '--format', 'xml']).code).toBe(2);
    expect(cli(['export', '--data', fx.dir, '--from', 'hier']).code).toBe(2);
  });

  it('checkpoint: prints the latest signed note, and the verifier key', async () => {
    await seeded();
    const r = cli(['checkpoint', '--data', fx.dir, '--checkpoint-key', fx.keyFile]);
    expect(r.code).toBe(0);
    expect(verifyCheckpoint(r.stdout, fx.verifier, ORIGIN).size).toBe(21); // includes its own audit.viewed entry
    const k = cli(['checkpoint', '--data', fx.dir, '--checkpoint-key', fx.keyFile, '--verifier-key']);
    expect(k.stdout.trim()).toBe(readFileSync(fx.pubFile, 'utf8').trim());
  });

  it('keygen: writes a 0600 signer key and its verifier key, never overwrites', () => {
    const dir = mkdtempSync(join(tmpdir(), 'passerelle-keygen-'));
    try {
      const r = cli(['keygen', '--name', 'x.example/audit', '--out', join(dir, 'cp'), '--comment', 'DEMO']);
      expect(r.code).toBe(0);
      expect(statSync(join(dir, 'cp.key')).mode & 0o777).toBe(0o600);
      const pub = readFileSync(join(dir, 'cp.pub'), 'utf8');
      expect(pub.startsWith('# DEMO\n')).toBe(true);
      const signer = parseSignerKey(readFileSync(join(dir, 'cp.key'), 'utf8').split('\n')[1]!);
      expect(parseVerifierKey(pub.split('\n')[1]!).raw.equals(signer.raw)).toBe(true);
      expect(cli(['keygen', '--name', 'x.example/audit', '--out', join(dir, 'cp')]).code).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never creates a checkpoint key: a wrong --checkpoint-key path is an error', async () => {
    await seeded();
    const r = cli(['checkpoint', '--data', fx.dir, '--checkpoint-key', join(fx.dir, 'typo.key')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/CONFIG_UNREADABLE/);
    expect(existsSync(join(fx.dir, 'typo.key'))).toBe(false);
  });

  it('reports a missing trail clearly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'passerelle-empty-'));
    try {
      const r = cli(['verify', '--data', dir, '--key', join(ROOT, 'keys-example', 'gateway', 'checkpoint.pub')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/pas de journal d'audit/);
      expect(existsSync(join(dir, 'audit'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
