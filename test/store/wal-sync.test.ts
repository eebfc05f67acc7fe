import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteAuditStore } from '../../gateway/audit/store.js';
import { WAL_NORMAL_PRAGMAS, walSync } from '../../gateway/store/wal-sync.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'walsync-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function walDb(dir: string): Database.Database {
  const db = new Database(join(dir, 'x.db'));
  for (const p of WAL_NORMAL_PRAGMAS) db.pragma(p);
  db.exec('CREATE TABLE IF NOT EXISTS t (v TEXT)');
  return db;
}

describe('walSync', () => {
  it('syncs the WAL of a WAL-mode database, and refuses once closed', async () => {
    const dir = tmp();
    const db = walDb(dir);
    const wal = walSync(join(dir, 'x.db'));
    db.prepare('INSERT INTO t VALUES (?)').run('a');
    expect(statSync(join(dir, 'x.db-wal')).size).toBeGreaterThan(0);
    await expect(wal.durably(() => 'done')).resolves.toBe('done');
    await wal.close();
    await expect(wal.durably(() => 'late')).rejects.toThrow(/closed/);
    db.close();
  });

  it('durably runs the write at the call and resolves with its result once synced; a failed write rejects', async () => {
    const dir = tmp();
    const db = walDb(dir);
    const wal = walSync(join(dir, 'x.db'));
    const p = wal.durably(() => db.prepare('INSERT INTO t VALUES (?)').run('a').changes);
    // Committed before any await: another connection sees it at once.
    const other = new Database(join(dir, 'x.db'), { readonly: true });
    expect(other.prepare('SELECT count(*) FROM t').pluck().get()).toBe(1);
    other.close();
    await expect(p).resolves.toBe(1);
    await expect(wal.durably(() => db.prepare('INSERT INTO nope VALUES (1)').run())).rejects.toThrow(/no such table/);
    await wal.close();
    db.close();
  });

  it('waits for syncs in flight before closing the file', async () => {
    const dir = tmp();
    const db = walDb(dir);
    const wal = walSync(join(dir, 'x.db'));
    const settled: string[] = [];
    const syncs = [1, 2, 3].map((k) => wal.durably(() => k).then(() => settled.push(`sync ${k}`)));
    await wal.close().then(() => settled.push('closed'));
    await Promise.all(syncs);
    expect(settled.at(-1)).toBe('closed');
    expect(settled).toHaveLength(4);
    db.close();
  });

  it('names the file when the database is not in WAL mode', () => {
    const dir = tmp();
    const db = new Database(join(dir, 'x.db'));
    db.exec('CREATE TABLE t (v TEXT)');
    expect(() => walSync(join(dir, 'x.db'))).toThrow(/x\.db-wal/);
    db.close();
  });
});

describe('the audit store leaves commits to walSync', () => {
  it('writes in WAL mode; what a resolved write committed is visible to another connection', async () => {
    const dir = tmp();
    const store = openSqliteAuditStore(dir);
    await store.setMeta('origin', 'test/audit');
    const other = new Database(join(dir, 'audit.sqlite'), { readonly: true });
    expect(other.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(other.prepare("SELECT value FROM meta WHERE key = 'origin'").pluck().get()).toBe('test/audit');
    other.close();
    await store.close();
  });
});
