import { describe, it, expect, afterEach } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openAuditReader } from '../../gateway/audit/log.js';
import { entryLeafHash } from '../../gateway/audit/entry.js';
import { verifyCheckpoint } from '../../gateway/audit/checkpoint.js';
import { verifyInclusionBundle } from '../../gateway/audit/proof.js';
import { verifyAuditStore } from '../../gateway/audit/verify.js';
import { openSqliteAuditStore, type AuditStore } from '../../gateway/audit/store.js';
import { isGatewayError } from '../../gateway/errors.js';
import { ORIGIN, event, fixture, type Fixture } from './helpers.js';

let fx: Fixture;
afterEach(() => fx?.cleanup());

describe('AuditLog', () => {
  it('gives concurrent writers distinct, gap-free sequence numbers and correct leaf hashes', async () => {
    fx = fixture();
    const log = await fx.open();
    const receipts = await Promise.all(Array.from({ length: 500 }, (_, i) => log.append(event(i))));
    expect(receipts.map((r) => r.index).sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(await log.count()).toBe(500);
    const records = await log.query({ limit: 500 });
    for (const r of records) {
      expect(entryLeafHash(r.entry).toString('hex')).toBe(r.leafHash);
      expect(receipts.find((x) => x.index === r.entry.seq)!.leafHash).toBe(r.leafHash);
    }
    await log.close();
  });

  it('shares one transaction between appends that arrive together (group commit)', async () => {
    fx = fixture();
    const real = openSqliteAuditStore(join(fx.dir, 'audit'));
    let transactions = 0;
    const counting: AuditStore = { ...real, append: (build) => (transactions++, real.append(build)) };
    const log = await fx.open({ store: counting });
    await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(event(i))));
    expect(transactions).toBeGreaterThanOrEqual(1);
    expect(transactions).toBeLessThan(10);
    await log.close();
  });

  it('does not strand appends queued while a slow append is in flight', async () => {
    fx = fixture();
    const real = openSqliteAuditStore(join(fx.dir, 'audit'));
    // Each append resolves only after a macrotask, like a store waiting for a disk sync.
    const slow: AuditStore = {
      ...real,
      append: async (build) => {
        const r = await real.append(build);
        await new Promise((res) => setTimeout(res, 5));
        return r;
      },
    };
    const log = await fx.open({ store: slow });
    const first = log.append(event(0));
    await new Promise((res) => setImmediate(res)); // the first flush is now waiting in the store
    const later = [log.append(event(1)), log.append(event(2))];
    const got = await Promise.race([
      Promise.all([first, ...later]).then((rs) => rs.map((r) => r.index)),
      new Promise((res) => setTimeout(() => res('stranded'), 2000)),
    ]);
    expect(got).toEqual([0, 1, 2]);
    await log.close();
  });

  it('is durable when append resolves: another connection sees the entry', async () => {
    fx = fixture();
    const log = await fx.open();
    const r = await log.append(event(1));
    const db = new Database(join(fx.dir, 'audit', 'audit.sqlite'), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect((db.prepare('SELECT leaf_hash FROM entries WHERE seq = ?').pluck().get(r.index) as Buffer).toString('hex')).toBe(r.leafHash);
    db.close();
    await log.close();
  });

  it('appendAll writes all or none, in order; a bad event fails alone', async () => {
    fx = fixture();
    const log = await fx.open();
    const rs = await log.appendAll([event(0), event(1), event(2)]);
    expect(rs.map((r) => r.index)).toEqual([0, 1, 2]);
    const bad = log.appendAll([event(3), event(4, { type: 'Not A Type' })]);
    const good = log.append(event(5));
    await expect(bad).rejects.toMatchObject({ code: 'AUDIT_ENTRY_MISMATCH' });
    expect((await good).index).toBe(3);
    expect(await log.count()).toBe(4);
    await log.close();
  });

  it('signs a checkpoint at close and proves every entry offline', async () => {
    fx = fixture();
    const log = await fx.open();
    for (let i = 0; i < 37; i++) await log.append(event(i));
    const cp = await log.checkpoint();
    expect(cp?.size).toBe(37);
    const c = verifyCheckpoint(cp!.note, fx.verifier, ORIGIN);
    expect(c.size).toBe(37);
    for (let i = 0; i < 37; i++) {
      const bundle = await log.prove(i);
      const checked = verifyInclusionBundle(JSON.stringify(bundle), fx.verifier, ORIGIN);
      expect(checked.entry.seq).toBe(i);
      expect(checked.purged).toBe(false);
    }
    // prove signs a fresh checkpoint when the entry is not covered yet
    const r = await log.append(event(99));
    const b = await log.prove(r.index);
    expect(b.treeSize).toBe(38);
    await log.close();
    const reader = openAuditReader(join(fx.dir, 'audit'));
    expect((await reader.latestCheckpoint())?.size).toBe(38);
    await reader.close();
  });

  it('rejects a bundle whose entry, proof or checkpoint was altered', async () => {
    fx = fixture();
    const log = await fx.open();
    for (let i = 0; i < 10; i++) await log.append(event(i));
    await log.checkpoint();
    const bundle = await log.prove(6);
    await log.close();
    const code = (text: string): string | undefined => {
      try {
        verifyInclusionBundle(text, fx.verifier, ORIGIN);
        return undefined;
      } catch (e) {
        return isGatewayError(e) ? `${e.code}:${String(e.detail['check'] ?? e.detail['reason'] ?? '')}` : String(e);
      }
    };
    expect(code(JSON.stringify(bundle))).toBeUndefined();
    expect(code(JSON.stringify({ ...bundle, entry: { ...bundle.entry, outcome: 'failure' } }))).toBe('AUDIT_PROOF_INVALID:LEAF_HASH');
    const proof = [...bundle.inclusionProof];
    proof[1] = proof[1]!.replace(/^./, (ch) => (ch === '0' ? '1' : '0'));
    expect(code(JSON.stringify({ ...bundle, inclusionProof: proof }))).toMatch(/^AUDIT_PROOF_INVALID/);
    expect(code(JSON.stringify({ ...bundle, checkpoint: bundle.checkpoint.replace('\n10\n', '\n11\n') }))).toBe('AUDIT_CHECKPOINT_INVALID:SIGNATURE_INVALID');
    expect(code('{"index":')).toBe('AUDIT_PROOF_INVALID:FORMAT');
    const other = fixture();
    try {
      expect(() => verifyInclusionBundle(JSON.stringify(bundle), other.verifier)).toThrow(/non signé par la clé/);
    } finally {
      other.cleanup();
    }
  });

  it('reopens where it stopped and keeps one consistent tree', async () => {
    fx = fixture();
    let log = await fx.open();
    for (let i = 0; i < 13; i++) await log.append(event(i));
    await log.close();
    log = await fx.open();
    const r = await log.append(event(13));
    expect(r.index).toBe(13);
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(event(14 + i))));
    await log.close();
    const store = openSqliteAuditStore(join(fx.dir, 'audit'), { readonly: true });
    const report = await verifyAuditStore(store, { key: fx.verifier, origin: ORIGIN });
    await store.close();
    expect(report).toMatchObject({ ok: true, entries: 34, checkpoints: 2, uncheckpointed: 0 });
  });

  it('refuses another origin for an existing log, and a world-readable key outside demo mode', async () => {
    fx = fixture();
    const log = await fx.open();
    await log.close();
    await expect(fx.open({ origin: 'other/origin' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    const { chmodSync } = await import('node:fs');
    chmodSync(fx.keyFile, 0o644);
    await expect(fx.open()).rejects.toMatchObject({ code: 'KEY_PERMISSIONS' });
    const demo = await fx.open({ demo: true });
    await demo.close();
  });

  it('creates its checkpoint key at first start (0600, verifier key beside it), unless told not to', async () => {
    fx = fixture();
    const { existsSync, readFileSync, statSync } = await import('node:fs');
    const keyFile = join(fx.dir, 'new', 'checkpoint.key');
    await expect(fx.open({ checkpointKeyFile: keyFile, createKey: false })).rejects.toMatchObject({ code: 'CONFIG_UNREADABLE' });
    expect(existsSync(keyFile)).toBe(false);
    const log = await fx.open({ checkpointKeyFile: keyFile });
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const pub = readFileSync(join(fx.dir, 'new', 'checkpoint.pub'), 'utf8').trim();
    expect(log.verifierKey).toBe(pub);
    expect(pub.startsWith(`${ORIGIN}+`)).toBe(true);
    await log.append(event(0));
    await log.close();
  });

  it('signs checkpoints periodically while entries arrive', async () => {
    fx = fixture();
    const log = await fx.open({ checkpointIntervalMs: 20 });
    await log.append(event(1));
    let cp;
    for (let i = 0; i < 500 && !(cp = await log.latestCheckpoint()); i++) await new Promise((r) => setTimeout(r, 10));
    expect(cp?.size).toBe(1);
    await log.close();
  });

  it('queries by time, type prefix, actor, outcome and upload id, with paging', async () => {
    fx = fixture();
    let t = Date.parse('2026-01-01T00:00:00.000Z');
    const log = await fx.open({ now: () => new Date((t += 60_000)) });
    for (let i = 0; i < 30; i++) await log.append(event(i));
    expect(await log.count({ type: 'sftp.*' })).toBe(10);
    expect(await log.count({ type: 'ssh.auth' })).toBe(20);
    expect(await log.count({ actor: 'ludres' })).toBe(15);
    expect(await log.count({ outcome: 'failure' })).toBe(6);
    expect((await log.query({ uploadId: 'up-7' })).map((r) => r.entry.seq)).toEqual([7]);
    const from = new Date(Date.parse('2026-01-01T00:00:00.000Z') + 11 * 60_000);
    const page = await log.query({ from, to: '2026-01-01T00:21:00.000Z', limit: 5, offset: 2 });
    expect(page.map((r) => r.entry.seq)).toEqual([12, 13, 14, 15, 16]);
    const all = [];
    for await (const r of log.iterate({ actor: 'police-nationale' })) all.push(r.entry.seq);
    expect(all).toEqual(Array.from({ length: 15 }, (_, i) => i * 2));
    await log.close();
  });
});

describe('type prefix queries', () => {
  it('"a.*" matches a.x and a.x.y, never a-b.x, ab.x or a itself', async () => {
    fx = fixture();
    const log = await fx.open();
    for (const type of ['a.x', 'a.x.y', 'a-b.x', 'ab.x', 'a', 'a_.x', 'b.x']) await log.append(event(1, { type }));
    expect((await log.query({ type: 'a.*' })).map((r) => r.entry.type)).toEqual(['a.x', 'a.x.y']);
    await log.close();
  });
});

describe('retention', () => {
  it('purges details past retention, keeps proofs and verification working, records the purge', async () => {
    fx = fixture();
    let now = new Date('2025-01-01T00:00:00.000Z');
    const log = await fx.open({ now: () => now, retentionDays: 30 });
    for (let i = 0; i < 10; i++) await log.append(event(i));
    await log.checkpoint();
    now = new Date('2025-03-01T00:00:00.000Z');
    for (let i = 10; i < 15; i++) await log.append(event(i));
    expect(await log.purgeExpired()).toBe(10);
    const recs = await log.query({ limit: 100 });
    expect(recs[4]).toMatchObject({ purged: true, entry: { seq: 4, actor: null, refs: null, details: null, type: 'ssh.auth' } });
    expect(recs[12]!.purged).toBe(false);
    expect(recs[15]!.entry).toMatchObject({ type: 'audit.purged', details: { count: 10 } });
    expect(await log.count({ actor: 'ludres' })).toBe(2); // purged actors are gone from queries
    const bundle = await log.prove(3);
    expect(verifyInclusionBundle(JSON.stringify(bundle), fx.verifier, ORIGIN).purged).toBe(true);
    await log.close();

    const path = join(fx.dir, 'audit');
    const store = openSqliteAuditStore(path, { readonly: true });
    expect(await verifyAuditStore(store, { key: fx.verifier, origin: ORIGIN })).toMatchObject({ ok: true, entries: 16, purged: 10 });
    await store.close();

    const db = new Database(join(path, 'audit.sqlite'));
    const h = db.prepare('SELECT leaf_hash FROM entries WHERE seq = 3').pluck().get() as Buffer;
    h[0] = h[0]! ^ 1;
    db.prepare('UPDATE entries SET leaf_hash = ? WHERE seq = 3').run(h);
    db.close();
    const again = openSqliteAuditStore(path, { readonly: true });
    const report = await verifyAuditStore(again, { key: fx.verifier, origin: ORIGIN });
    await again.close();
    expect(report.ok).toBe(false);
    expect(report.failure).toMatchObject({ check: 'CHECKPOINT_ROOT', checkpointSize: 10 });
  });
});
