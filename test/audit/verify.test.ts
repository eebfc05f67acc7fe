import { describe, it, expect, afterEach } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { verifyAuditDir, type VerifyReport } from '../../gateway/audit/verify.js';
import { signCheckpoint, verifyCheckpoint } from '../../gateway/audit/checkpoint.js';
import { formatSignerKey, generateSignerKey } from '../../gateway/audit/notekey.js';
import { ORIGIN, event, fixture, type Fixture } from './helpers.js';

let fx: Fixture;
afterEach(() => fx?.cleanup());

/** A log of 40 entries with checkpoints at 10, 25 and 40, closed. */
async function build(): Promise<{ db: Database.Database; verify: (trusted?: string[]) => Promise<VerifyReport> }> {
  fx = fixture();
  const log = await fx.open();
  for (let i = 0; i < 40; i++) {
    await log.append(event(i));
    if (i === 9 || i === 24) await log.checkpoint();
  }
  await log.close();
  const file = join(fx.dir, 'audit', 'audit.sqlite');
  const db = new Database(file);
  return {
    db,
    verify: async (trusted) => verifyAuditDir(join(fx.dir, 'audit'), { key: fx.verifier, origin: ORIGIN, trusted }),
  };
}

describe('verifyAuditStore', () => {
  it('passes on an untouched log', async () => {
    const { db, verify } = await build();
    db.close();
    expect(await verify()).toEqual({ ok: true, entries: 40, purged: 0, checkpoints: 3, uncheckpointed: 0 });
  });

  it('names the entry when one byte of its content changed', async () => {
    const { db, verify } = await build();
    const body = db.prepare('SELECT body FROM entries WHERE seq = 17').pluck().get() as string;
    db.prepare('UPDATE entries SET body = ? WHERE seq = 17').run(body.replace('"bytes":170', '"bytes":171'));
    db.close();
    const r = await verify();
    expect(r.failure).toMatchObject({ check: 'LEAF_HASH', entry: 17, code: 'AUDIT_ENTRY_MISMATCH' });
    expect(r.failure?.message).toMatch(/^entrée n° 17 : son contenu ne correspond pas/);
  });

  it('names the checkpoint when an entry was changed together with its leaf hash', async () => {
    const { db, verify } = await build();
    const { createHash } = await import('node:crypto');
    const body = (db.prepare('SELECT body FROM entries WHERE seq = 17').pluck().get() as string).replace('"outcome":"success"', '"outcome":"failure"');
    const leaf = createHash('sha256').update(Buffer.from([0])).update(body).digest();
    db.prepare('UPDATE entries SET body = ?, leaf_hash = ? WHERE seq = 17').run(body, leaf);
    db.close();
    expect((await verify()).failure).toMatchObject({ check: 'CHECKPOINT_ROOT', checkpointSize: 25 });
  });

  it('names the missing entry when one was deleted', async () => {
    const { db, verify } = await build();
    db.prepare('DELETE FROM entries WHERE seq = 12').run();
    db.close();
    const r = await verify();
    expect(r.failure).toMatchObject({ check: 'ENTRY_MISSING', entry: 12 });
    expect(r.failure?.message).toMatch(/entrée n° 12 absente \(l'entrée suivante est la n° 13\)/);
  });

  it('names the first swapped entry when two were swapped', async () => {
    const { db, verify } = await build();
    const get = db.prepare('SELECT body, leaf_hash FROM entries WHERE seq = ?');
    const a = get.get(5) as { body: string; leaf_hash: Buffer };
    const b = get.get(30) as { body: string; leaf_hash: Buffer };
    const put = db.prepare('UPDATE entries SET body = ?, leaf_hash = ? WHERE seq = ?');
    db.transaction(() => {
      put.run(b.body, b.leaf_hash, 5);
      put.run(a.body, a.leaf_hash, 30);
    })();
    db.close();
    const r = await verify();
    expect(r.failure).toMatchObject({ check: 'ENTRY_SEQ', entry: 5 });
    expect(r.failure?.message).toMatch(/porte le n° 30 \(entrées déplacées ou échangées\)/);
  });

  it('detects a truncated tail', async () => {
    const { db, verify } = await build();
    db.prepare('DELETE FROM entries WHERE seq >= 33').run();
    db.close();
    const r = await verify();
    expect(r.failure).toMatchObject({ check: 'TRUNCATED', checkpointSize: 40 });
    expect(r.failure?.message).toMatch(/n'a que 33 entrées : fin du journal supprimée/);
  });

  it('detects a truncated tail whose checkpoints were removed too, given a checkpoint the auditor kept', async () => {
    const { db, verify } = await build();
    const kept = db.prepare('SELECT note FROM checkpoints WHERE size = 40').pluck().get() as string;
    db.prepare('DELETE FROM entries WHERE seq >= 25').run();
    db.prepare('DELETE FROM checkpoints WHERE size > 25').run();
    db.close();
    expect((await verify()).ok).toBe(true); // nothing inside the file can tell
    const r = await verify([kept]);
    expect(r.failure).toMatchObject({ check: 'TRUNCATED', checkpointSize: 40 });
    expect(r.failure?.message).toMatch(/^checkpoint fourni à la taille 40/);
  });

  it('detects a replaced checkpoint', async () => {
    const { db, verify } = await build();
    const note = db.prepare('SELECT note FROM checkpoints WHERE size = 25').pluck().get() as string;
    const lines = note.split('\n');
    lines[2] = Buffer.alloc(32, 7).toString('base64');
    db.prepare('UPDATE checkpoints SET note = ? WHERE size = 25').run(lines.join('\n'));
    db.close();
    const r = await verify();
    expect(r.failure).toMatchObject({ check: 'CHECKPOINT_SIGNATURE', checkpointSize: 25, code: 'AUDIT_CHECKPOINT_INVALID' });
    expect(r.failure?.message).toMatch(/signature du checkpoint invalide/);
  });

  it('detects a whole log rewritten and re-signed with a fresh key', async () => {
    const { db, verify } = await build();
    const fresh = generateSignerKey(ORIGIN);
    const rows = db.prepare('SELECT id, note FROM checkpoints').all() as { id: number; note: string }[];
    for (const row of rows) {
      const cp = verifyCheckpoint(row.note, fx.verifier);
      db.prepare('UPDATE checkpoints SET note = ? WHERE id = ?').run(signCheckpoint(cp, fresh), row.id);
    }
    db.close();
    writeFileSync(join(fx.dir, 'unused.key'), formatSignerKey(fresh));
    const r = await verify();
    expect(r.failure).toMatchObject({ check: 'CHECKPOINT_KEY', checkpointSize: 10 });
    expect(r.failure?.message).toMatch(/pas signé par la clé de checkpoint attendue/);
  });

  it('detects checkpoints stored out of order', async () => {
    const { db, verify } = await build();
    db.prepare('UPDATE checkpoints SET id = 100 WHERE size = 10').run();
    db.close();
    expect((await verify()).failure).toMatchObject({ check: 'CHECKPOINT_ORDER' });
  });

  it('detects altered interior nodes through the consistency check', async () => {
    const { db, verify } = await build();
    db.prepare('UPDATE nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 3').run();
    db.close();
    const r = await verify();
    expect(r.failure).toMatchObject({ check: 'CHECKPOINT_CONSISTENCY', checkpointSize: 25 });
  });

  it('detects a purge flag set by hand on an entry whose content is intact', async () => {
    const { db, verify } = await build();
    db.prepare('UPDATE entries SET purged = 1 WHERE seq = 3').run();
    db.close();
    expect((await verify()).failure).toMatchObject({ check: 'PURGED_FORM', entry: 3 });
  });
});

describe('audit verify reads the entries in a thread of its own', () => {
  it('gives exactly the rows the store gives: every chunk size, any start, odd bytes included', async () => {
    const { db } = await build();
    // Bytes that are not UTF-8 in one body (as BLOB, the way a hand edit could store them), an
    // empty body, a leaf hash of the wrong length, a purge flag: passed on as stored.
    db.prepare('UPDATE entries SET body = ? WHERE seq = 3').run(Buffer.from([0x7b, 0xff, 0xfe, 0xc3, 0x28, 0x7d]));
    db.prepare("UPDATE entries SET body = '' WHERE seq = 4").run();
    db.prepare('UPDATE entries SET leaf_hash = ? WHERE seq = 5').run(Buffer.alloc(7, 1));
    db.prepare('UPDATE entries SET purged = 1 WHERE seq = 6').run();
    db.close();
    const { openSqliteAuditStore } = await import('../../gateway/audit/store.js');
    const { readAheadEntryBytes } = await import('../../gateway/audit/read-ahead.js');
    const store = openSqliteAuditStore(join(fx.dir, 'audit'), { readonly: true });
    try {
      const flat = async (it: AsyncIterable<{ seq: number; body: Buffer; leafHash: Buffer; purged: boolean }[]>): Promise<string[]> => {
        const out: string[] = [];
        for await (const chunk of it) for (const r of chunk) out.push(`${r.seq} ${r.body.toString('hex')} ${r.leafHash.toString('hex')} ${String(r.purged)}`);
        return out;
      };
      for (const [from, chunk] of [[0, 20_000], [0, 1], [0, 7], [13, 5], [40, 3], [39, 100]] as const) {
        const expected = await flat(store.entryBytes(from, chunk));
        expect(await flat(readAheadEntryBytes(join(fx.dir, 'audit'), from, chunk)), `from ${from}, chunks of ${chunk}`).toEqual(expected);
      }
      expect((await flat(store.entryBytes(0)))[3]).toContain(' 7bfffec3287d ');
    } finally {
      await store.close();
    }
  });

  it('a body that is not UTF-8 is named, as any other altered entry', async () => {
    const { db, verify } = await build();
    const body = db.prepare('SELECT CAST(body AS BLOB) FROM entries WHERE seq = 21').pluck().get() as Buffer;
    db.prepare('UPDATE entries SET body = ? WHERE seq = 21').run(Buffer.concat([body.subarray(0, 10), Buffer.from([0xff]), body.subarray(11)]));
    db.close();
    expect((await verify()).failure).toMatchObject({ entry: 21, code: 'AUDIT_ENTRY_MISMATCH' });
  });

  it('an unreadable database is an error, not a verdict', async () => {
    const { readAheadEntryBytes } = await import('../../gateway/audit/read-ahead.js');
    const it = readAheadEntryBytes(join(fx?.dir ?? '/nonexistent', 'no-such-dir'));
    await expect(it.next()).rejects.toThrow(/audit read-ahead/);
  });
});
