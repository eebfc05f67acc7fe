/**
 * The repeat check of one file (duplicate-ids.ts) against a plain Set: every record must be
 * judged as the Set judges it, whether it was known new at once or held until the end, with
 * filters small enough that most records are held, through growths and many passes.
 */
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DuplicateIds, type DuplicateIdsOptions } from '../../gateway/intake/duplicate-ids.js';
import { isGatewayError } from '../../gateway/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'passerelle-ids-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Outcome {
  /** Indexes of the records judged repeats. */
  repeats: number[];
  /** Indexes known new at once. */
  atOnce: number;
  /** Indexes held, in the order resolve gave them back. */
  held: number[];
}

function judge(ids: readonly unknown[], o?: DuplicateIdsOptions): Outcome {
  const d = new DuplicateIds(dir, o);
  const out: Outcome = { repeats: [], atOnce: 0, held: [] };
  try {
    ids.forEach((id, i) => {
      if (d.add(id, () => JSON.stringify({ i, id }))) out.atOnce++;
    });
    expect(d.size).toBe(ids.length);
    for (const h of d.resolve()) {
      const { i } = JSON.parse(h.payload) as { i: number };
      out.held.push(i);
      if (h.repeat) out.repeats.push(i);
    }
  } finally {
    d.close();
  }
  return out;
}

/** What a Set says: the indexes whose id came earlier in the list. */
function setRepeats(ids: readonly unknown[]): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  ids.forEach((id, i) => {
    const s = String(id);
    if (seen.has(s)) out.push(i);
    seen.add(s);
  });
  return out;
}

/** Ids as partners write them, with repeats planted: some twice, one many times, far apart and adjacent. */
function corpus(n: number, seed: number): unknown[] {
  let x = seed;
  const rand = (): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const ids: unknown[] = Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 100_000 + i : `PM-2026-${String(i).padStart(7, '0')}`));
  for (let k = 0; k < n / 100; k++) ids[Math.floor(rand() * n)] = ids[Math.floor(rand() * n)];
  for (let k = 0; k < 30; k++) ids[Math.floor(rand() * n)] = 'PM-TOUJOURS';
  ids[n - 1] = ids[n - 2];
  ids.push('', '', 'é', 'é', 0, '0');
  return ids;
}

describe('DuplicateIds', () => {
  it('judges 200 000 ids as a Set does, holding few of them', () => {
    const ids = corpus(200_000, 7);
    const expected = setRepeats(ids);
    expect(expected.length).toBeGreaterThan(1500);
    const got = judge(ids);
    expect(got.repeats).toEqual(expected);
    // Everything not known new at once is given back, once, in file order.
    expect(got.atOnce + got.held.length).toBe(ids.length);
    expect(got.held).toEqual([...got.held].sort((a, b) => a - b));
    // The held are the repeats and the filter's false positives (through two growths).
    expect(got.held.length - expected.length).toBeLessThan(ids.length * 0.002);
  });

  it('gives the same answers with filters so small that nearly every id is held, and many passes', () => {
    const ids = corpus(20_000, 11);
    const expected = setRepeats(ids);
    for (const o of [{ firstCapacity: 1, bitsPerId: 1 }, { firstCapacity: 3, bitsPerId: 2, passSize: 1000 }, { firstCapacity: 64, bitsPerId: 1, passSize: 97 }]) {
      const got = judge(ids, o);
      expect(got.repeats, JSON.stringify(o)).toEqual(expected);
      expect(got.held.length, JSON.stringify(o)).toBeGreaterThan(ids.length / 2);
      expect(got.held).toEqual([...got.held].sort((a, b) => a - b));
    }
  });

  it('a file that is one id written 50 000 times: every one but the first is a repeat', () => {
    const ids = Array.from({ length: 50_000 }, () => 'B-1');
    const got = judge(ids, { passSize: 1 });
    expect(got.repeats).toEqual(Array.from({ length: 49_999 }, (_, i) => i + 1));
    expect(got.atOnce).toBe(1);
  });

  it('one million distinct ids at the default sizes: under 0.2 % held, none judged a repeat', () => {
    const d = new DuplicateIds(dir);
    let held = 0;
    try {
      for (let i = 0; i < 1_000_000; i++) if (!d.add(`id-${i}`, () => `${i}`)) held++;
      let repeats = 0;
      let back = 0;
      for (const h of d.resolve()) {
        back++;
        if (h.repeat) repeats++;
      }
      expect(back).toBe(held);
      expect(repeats).toBe(0);
      expect(held).toBeGreaterThan(0);
      expect(held).toBeLessThan(2_000);
    } finally {
      d.close();
    }
  });

  it('gives back payloads of any size and script, and leaves no file behind', () => {
    const before = readdirSync(dir);
    const d = new DuplicateIds(dir, { firstCapacity: 1, bitsPerId: 1 });
    expect(readdirSync(dir)).toEqual(before); // unlinked as soon as opened
    const payloads = ['', 'a', 'ab', 'abc', 'Vandœuvre-lès-Nancy « 54547 »', 'x'.repeat(200_000), '😀'.repeat(70_000), 'fin'];
    const back: string[] = [];
    try {
      payloads.forEach((p) => d.add('même', () => p));
      for (const h of d.resolve()) back.push(h.payload);
    } finally {
      d.close();
    }
    expect(back).toEqual(payloads.slice(1)); // the first was known new at once
    d.close(); // twice is harmless
  });

  it('writes no record content to the disk: held records encrypted, ids only as seeded hashes', () => {
    const scratch = (): string[] => readdirSync('/proc/self/fd')
      .map((fd) => `/proc/self/fd/${fd}`)
      .filter((p) => { try { return readlinkSync(p).startsWith(join(dir, '.ids-')); } catch { return false; } });
    const before = new Set(scratch());
    const d = new DuplicateIds(dir, { firstCapacity: 1, bitsPerId: 1 });
    const mine = scratch().filter((p) => !before.has(p));
    expect(mine).toHaveLength(2); // the list and the held records, open but nameless
    const secret = 'Dupont Jean, né le 1980-02-03';
    try {
      for (let i = 0; i < 2000; i++) d.add(`ID-${i % 1000}`, () => JSON.stringify({ i, victime: secret }));
      const back = [...d.resolve()];
      expect(back.filter((h) => h.repeat)).toHaveLength(1000);
      expect(back.every((h) => h.payload.includes(secret))).toBe(true);
      const onDisk = mine.map((p) => readFileSync(p));
      expect(onDisk.reduce((n, b) => n + b.length, 0)).toBeGreaterThan(2000 * 8 + 1000 * 50);
      for (const b of onDisk) {
        expect(b.includes(Buffer.from(secret))).toBe(false);
        expect(b.includes(Buffer.from('ID-'))).toBe(false);
      }
    } finally {
      d.close();
    }
    expect(scratch().filter((p) => !before.has(p))).toEqual([]); // closed
  });

  it('a directory it cannot write in fails at once, saying where and why, the system\'s error kept as cause', () => {
    const err = (() => {
      try {
        new DuplicateIds(join(dir, 'absent'));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isGatewayError(err, 'GATEWAY_FAILURE')).toBe(true);
    expect((err as Error).message).toContain(`${join(dir, 'absent')} (ENOENT)`);
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});
