/**
 * The upload registry keeps parked partials across a restart: each is recorded beside its
 * staging file and `restore` takes back only what is still valid; everything else in staging
 * goes. Records that lie (malformed, expired, longer than the file, not an upload id) are refused.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../gateway/ids.js';
import { silentLogger } from '../../gateway/log.js';
import { createUploadRegistry, type UploadEntry, type UploadRegistry } from '../../gateway/sftp/uploads.js';
import { tempDir } from '../helpers/ssh-fixture.js';

let tmp: { path: string; cleanup(): void };
const registries: UploadRegistry[] = [];
beforeEach(() => {
  tmp = tempDir('uploads-');
});
afterEach(async () => {
  for (const r of registries.splice(0)) await r.close();
  tmp.cleanup();
});

function registry(keepMs = 60_000, now: () => number = Date.now): UploadRegistry {
  const r = createUploadRegistry({ keepMs: () => keepMs, log: silentLogger(), now });
  registries.push(r);
  return r;
}

function staged(bytes: number): UploadEntry {
  const uploadId = newId();
  const stagingPath = join(tmp.path, uploadId);
  writeFileSync(stagingPath, Buffer.alloc(bytes, 7));
  return { state: 'open', uploadId, stagingPath, size: bytes, mtimeMs: Date.now(), closed: false };
}


describe('parked partials across a restart', () => {
  it('a parked partial is recorded, restored by the next registry with its size, and resumable', async () => {
    const a = registry();
    const e = staged(1000);
    a.park('police-nationale', 'faits-4001', 'x.csv.gpg', e);
    await a.close();
    expect(existsSync(`${e.stagingPath}.parked`)).toBe(true);

    const b = registry();
    expect(await b.restore(tmp.path)).toEqual({ restored: 1, removed: 0 });
    expect(b.get('police-nationale', 'faits-4001', 'x.csv.gpg')).toMatchObject({ state: 'parked', uploadId: e.uploadId, size: 1000, closed: false });
    // Another party, dataset or name sees nothing.
    expect(b.get('bailleur-social', 'faits-4001', 'x.csv.gpg')).toBeUndefined();
    expect(b.get('police-nationale', 'faits-4001', 'y.csv.gpg')).toBeUndefined();
    expect(b.list('police-nationale', 'faits-4001').map(([n]) => n)).toEqual(['x.csv.gpg']);
  });

  it('drop, resume (open) and commit forget the record; a rename keeps it under the new name', async () => {
    const a = registry();
    const dropped = staged(10);
    const resumed = staged(20);
    const renamed = staged(30);
    a.park('p', 'd', 'dropped', dropped);
    a.park('p', 'd', 'resumed', resumed);
    a.park('p', 'd', 'a.filepart', renamed);
    await a.drop('p', 'd', 'dropped', true);
    a.open('p', 'd', 'resumed', { ...resumed, state: 'open' });
    // renameUpload: drop from the old name, park under the new one, at once.
    await a.drop('p', 'd', 'a.filepart', false);
    a.park('p', 'd', 'b.filepart', renamed);
    await a.close();
    expect(existsSync(`${dropped.stagingPath}.parked`)).toBe(false);
    expect(existsSync(dropped.stagingPath)).toBe(false);
    expect(existsSync(`${resumed.stagingPath}.parked`)).toBe(false);
    expect(JSON.parse(readFileSync(`${renamed.stagingPath}.parked`, 'utf8'))).toMatchObject({ name: 'b.filepart', size: 30 });

    const b = registry();
    // The resumed one was open when the gateway stopped: not resumable, removed.
    expect(await b.restore(tmp.path)).toEqual({ restored: 1, removed: 1 });
    expect(b.get('p', 'd', 'b.filepart')).toMatchObject({ size: 30 });
    expect(readdirSync(tmp.path).sort()).toEqual([renamed.uploadId, `${renamed.uploadId}.parked`].sort());
  });

  it('expired, malformed, dangling, oversized and foreign records, and stray files, are handled', async () => {
    let clock = 1_000_000;
    const a = registry(10_000, () => clock);
    const expired = staged(10);
    const fresh = staged(100);
    a.park('p', 'd', 'old', expired);
    clock += 6_000;
    a.park('p', 'd', 'new', fresh);
    await a.close();
    // The file grew past the record (bytes written after the park was recorded): cut back.
    writeFileSync(fresh.stagingPath, Buffer.alloc(150, 7));
    const malformed = staged(5);
    writeFileSync(`${malformed.stagingPath}.parked`, '{"v":1,"party":"p"');
    const dangling = newId();
    writeFileSync(join(tmp.path, `${dangling}.parked`), JSON.stringify({ v: 1, party: 'p', dataset: 'd', name: 'gone', size: 1, closed: false, parkedAtMs: clock }));
    writeFileSync(join(tmp.path, '..%2Fescape.parked'), JSON.stringify({ v: 1, party: 'p', dataset: 'd', name: 'evil', size: 1, closed: true, parkedAtMs: clock }));
    const stray = staged(3);

    clock += 5_000; // `old` is 11 s old (keep 10 s), `new` 5 s
    const b = registry(10_000, () => clock);
    const r = await b.restore(tmp.path);
    expect(r.restored).toBe(1);
    expect(b.get('p', 'd', 'old')).toBeUndefined();
    expect(b.get('p', 'd', 'gone')).toBeUndefined();
    expect(b.get('p', 'd', 'evil')).toBeUndefined();
    expect(b.get('p', 'd', 'new')).toMatchObject({ size: 100, uploadId: fresh.uploadId });
    expect(statSync(fresh.stagingPath).size).toBe(100);
    expect(readdirSync(tmp.path).sort()).toEqual([fresh.uploadId, `${fresh.uploadId}.parked`].sort());
    expect(existsSync(stray.stagingPath)).toBe(false);
  });

  it('a restored partial still expires at the end of its keep time, file and record together', async () => {
    let clock = 5_000_000;
    const a = registry(400, () => clock);
    const e = staged(10);
    a.park('p', 'd', 'x', e);
    await a.close();
    clock += 200;
    const b = registry(400, () => clock);
    expect((await b.restore(tmp.path)).restored).toBe(1);
    expect(b.get('p', 'd', 'x')).toBeDefined();
    for (let i = 0; i < 100 && b.get('p', 'd', 'x'); i++) await new Promise((r) => setTimeout(r, 50));
    await b.close(); // the expiry's removals, done
    expect(b.get('p', 'd', 'x')).toBeUndefined();
    expect(readdirSync(tmp.path)).toEqual([]);
  });
});

describe('the pipeline a closed temporary name holds', () => {
  /** An intake handle that only counts its aborts (the registry calls nothing else on it). */
  function following(entry: UploadEntry): { aborts: number } {
    const seen = { aborts: 0 };
    entry.intake = { push: () => undefined, finish: () => Promise.reject(new Error('not here')), abort: () => void seen.aborts++ };
    return seen;
  }

  it('is aborted when the entry is discarded (dropped with its file, replaced, expired, registry closed), not when it moves', async () => {
    const a = registry(300);
    const moved = staged(1);
    const dropped = staged(1);
    const replaced = staged(1);
    const expiring = staged(1);
    const closing = staged(1);
    const seen = [moved, dropped, replaced, expiring, closing].map(following);
    a.park('p', 'd', 'a.filepart', moved);
    a.park('p', 'd', 'b.filepart', dropped);
    a.park('p', 'd', 'c.filepart', replaced);
    // The RENAME of a temporary name onto another: the same entry, still followed.
    await a.drop('p', 'd', 'a.filepart', false);
    a.park('p', 'd', 'a2.filepart', moved);
    await a.drop('p', 'd', 'b.filepart', true);
    a.open('p', 'd', 'c.filepart', { ...staged(1), state: 'open' });
    expect(seen.map((s) => s.aborts)).toEqual([0, 1, 1, 0, 0]);
    expect(moved.intake).toBeDefined();
    expect(dropped.intake).toBeUndefined();

    a.park('p', 'd', 'e.filepart', expiring);
    await new Promise((r) => setTimeout(r, 400));
    expect(seen[3]!.aborts).toBe(1);
    // moved expired too by now (same keep time): its file went, and its pipeline with it.
    expect(seen[0]!.aborts).toBe(1);

    a.park('p', 'd', 'f.filepart', closing);
    await a.close();
    expect(seen[4]!.aborts).toBe(1);
    // Released once: a second discard does not abort again.
    expect(seen.map((s) => s.aborts)).toEqual([1, 1, 1, 1, 1]);
  });
});
