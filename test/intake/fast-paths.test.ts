/**
 * The shortcuts taken for throughput give the same answers as the plain way: the verdict of a
 * file does not depend on how its bytes are chunked, the date-time window needs Date.parse only
 * near its edges, and errors still name the right line when a piece boundary splits a character.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseCsvSync } from 'csv-parse/sync';
import { decodeText } from '../../gateway/intake/records.js';
import { csvRows } from '../../gateway/intake/csv-rows.js';
import { recordRules, CLOCK_SKEW_MS, MAX_AGE_YEARS, parisDay } from '../../gateway/intake/rules.js';
import { isGatewayError } from '../../gateway/errors.js';
import { ROOT, check, dataset, schemas, NOW } from './helpers.js';

async function* whole(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

const CORPUS = join(ROOT, 'test', 'fixtures', 'datasets', 'corpus');

describe('chunking does not change a verdict', () => {
  for (const datasetId of readdirSync(CORPUS).sort()) {
    it(`${datasetId}: every corpus file gives the same result in one chunk as in 7-byte chunks`, async () => {
      for (const file of readdirSync(join(CORPUS, datasetId)).sort()) {
        const bytes = readFileSync(join(CORPUS, datasetId, file));
        const small = await check(datasetId, bytes);
        const big = await check(datasetId, bytes, { source: whole(bytes) });
        const fileError = small.errors.find((e) => e.recordNo === null);
        if (fileError === undefined) {
          expect(big, file).toEqual(small);
        } else {
          // A whole-file error stops reading where it is found: how many records of the same
          // chunk were read before it depends on the chunk, the error itself does not.
          expect([big.ok, big.code, big.errors.find((e) => e.recordNo === null)], file).toEqual([small.ok, small.code, fileError]);
        }
      }
    });
  }

  it('a large CSV in one chunk: the record errors before a syntax error are reported, then the syntax error', async () => {
    const header = 'id_fait;date_faits;heure_faits;index_4001;code_insee;adresse;x;y;tentative\n';
    const rows: string[] = [];
    for (let i = 0; i < 3000; i++) rows.push(`PN-${i};2026-03-01;21:30;${i === 2500 ? 108 : 27};54328;"a ""b"" ; c";;;0\n`);
    rows.push('PN-x;2026-03-01;21:30;27;54328;"unclosed;;;0\n');
    const bytes = Buffer.from(header + rows.join(''));
    for (const res of [await check('faits-4001', bytes, { limits: { maxRecords: 10_000, maxErrors: 100 } }), await check('faits-4001', bytes, { source: whole(bytes), limits: { maxRecords: 10_000, maxErrors: 100 } })]) {
      expect(res.errors.map((e) => [e.code, e.line])).toEqual([['SCHEMA_INVALID', 2502], ['FORMAT_SYNTAX', 3002]]);
      expect(res.records).toBe(3000);
    }
  });
});

describe('date-time window', () => {
  // Reference: the rule as written in datasets.md, with Date.parse on every value.
  const latest = NOW.getTime() + CLOCK_SKEW_MS;
  const today = parisDay(NOW);
  const earliest = Date.parse(`${String(Number(today.slice(0, 4)) - MAX_AGE_YEARS)}${today.slice(4)}T00:00:00Z`);
  const expected = (s: string): string | undefined => {
    const t = Date.parse(s);
    return t > latest ? 'futur' : t < earliest ? 'ans' : undefined;
  };
  const rules = recordRules(dataset('main-courante-pm'), schemas.get(dataset('main-courante-pm').schema), NOW);
  const verdict = (s: string): string | undefined => {
    const m = rules.check({ horodatage: s })?.message;
    return m === undefined ? undefined : m.includes('futur') ? 'futur' : 'ans';
  };
  const offsets = ['Z', '+00:00', '+01:00', '+02:00', '-05:00', '+14:00', '-12:00', '+23:59', '-23:59'];
  const times = ['00:00:00', '00:05:00', '09:55:00', '10:05:00', '10:09:59', '10:10:01', '12:09:00', '12:11:00', '23:59:59'];

  for (const [name, center] of [['now', NOW.getTime()], ['ten years ago', earliest]] as const) {
    it(`agrees with Date.parse on every value within three days of ${name}`, () => {
      let checked = 0;
      for (let d = -3; d <= 3; d++) {
        const day = new Date(center + d * 86_400_000).toISOString().slice(0, 10);
        for (const time of times) {
          for (const off of offsets) {
            for (const sep of ['T', 't']) {
              const s = `${day}${sep}${time}${off}`;
              expect(verdict(s), s).toBe(expected(s));
              checked++;
            }
          }
        }
      }
      expect(checked).toBe(7 * times.length * offsets.length * 2);
    });
  }

  it('still refuses far-off values', () => {
    expect(verdict('2099-01-01T00:00:00Z')).toBe('futur');
    expect(verdict('2001-01-01T00:00:00+01:00')).toBe('ans');
    expect(verdict('2026-03-14T22:10:00+01:00')).toBeUndefined();
  });
});

describe('decodeText pieces', () => {
  it('names the line of an invalid byte that follows a character split across two pieces', async () => {
    // 16 KiB pieces: "é" (c3 a9) straddles the first boundary; the bad byte is three lines on.
    const head = Buffer.alloc((16 << 10) - 1, 0x61);
    for (let i = 100; i < head.length; i += 100) head[i] = 0x0a; // short lines
    const lines = head.toString('latin1').split('\n').length;
    const bytes = Buffer.concat([head, Buffer.from('é\nx\ny\nR'), Buffer.from([0xe9]), Buffer.from('p\n')]);
    const err = await (async () => {
      for await (const text of decodeText(whole(bytes), { encoding: 'utf-8', maxLineBytes: undefined })) void text;
    })().catch((e: unknown) => e);
    expect(isGatewayError(err, 'FORMAT_ENCODING')).toBe(true);
    expect((err as { detail: { line: number } }).detail.line).toBe(lines + 3);
  });

  it('gives back the text of a large chunk whole, characters split across pieces included', async () => {
    const text = 'é€😀a\n'.repeat(20_000);
    let out = '';
    for await (const t of decodeText(whole(Buffer.from(text)), { encoding: 'utf-8', maxLineBytes: 100 })) out += t;
    expect(out).toBe(text);
  });
});

describe('csvRows', () => {
  // A small deterministic generator (mulberry32), so a failure can be replayed.
  const rng = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

  /** A file of mostly plain lines, with quoted cells (well or badly formed), CR, CRLF and blank lines mixed in. */
  function file(r: () => number, delimiter: string): string {
    const eol = r() < 0.5 ? '\n' : '\r\n';
    const plainOnly = r() < 0.3;
    const lines: string[] = [];
    const n = 1 + Math.floor(r() * 12);
    for (let i = 0; i < n; i++) {
      const cells: string[] = [];
      const k = 1 + Math.floor(r() * 4);
      for (let j = 0; j < k; j++) {
        const x = r();
        if (plainOnly || x < 0.75) cells.push(pick(r, ['', 'a', 'bé', '12,5', 'x y', '😀']));
        else if (x < 0.9) cells.push(`"${pick(r, ['', 'q', `a${delimiter}b`, 'l1\nl2', 'l1\r\nl2', 'say ""hi""'])}"`);
        else cells.push(pick(r, ['a"b', '"open', 'c\rd', '"x"y', '"']));
      }
      lines.push(cells.join(delimiter));
      if (!plainOnly && r() < 0.1) lines.push('');
    }
    const end = plainOnly || r() < 0.8 ? eol : pick(r, ['\n', '\r\n', '\r', '']);
    return lines.join(plainOnly || r() < 0.9 ? eol : pick(r, ['\n', '\r\n'])) + end;
  }

  async function* pieces(r: () => number, s: string): AsyncGenerator<string> {
    for (let i = 0; i < s.length; ) {
      let n = 1 + Math.floor(r() * 40);
      const last = s.charCodeAt(i + n - 1);
      if (last >= 0xd800 && last <= 0xdbff) n++; // never split a character (TextDecoder does not)
      yield s.slice(i, i + n);
      i += n;
    }
  }

  type Outcome = { rows: string[][] } | { error: string; lines: number | undefined };
  const reference = (s: string, delimiter: string, max = 1000): Outcome => {
    try {
      return { rows: parseCsvSync(s, { delimiter, relax_column_count: true, max_record_size: max }) as string[][] };
    } catch (e) {
      return { error: (e as { code: string }).code, lines: (e as { lines?: number }).lines };
    }
  };
  const ours = async (r: () => number, s: string, delimiter: string, max = 1000): Promise<Outcome> => {
    const rows: string[][] = [];
    try {
      for await (const batch of csvRows(pieces(r, s), { delimiter, maxRecordChars: max })) rows.push(...batch);
      return { rows };
    } catch (e) {
      return { error: (e as { code: string }).code, lines: (e as { lines?: number }).lines };
    }
  };

  it('gives csv-parse\'s rows, or its error and line, on 3000 generated files in random pieces', async () => {
    const r = rng(20261128);
    let plainFiles = 0;
    let errors = 0;
    for (let i = 0; i < 3000; i++) {
      const delimiter = pick(r, [';', ',', '\t']);
      const s = file(r, delimiter);
      const want = reference(s, delimiter);
      expect(await ours(r, s, delimiter), JSON.stringify(s)).toEqual(want);
      if (!s.includes('"') && !s.includes('\r')) plainFiles++;
      if ('error' in want) errors++;
    }
    // The generator covers both paths and the error cases.
    expect(plainFiles).toBeGreaterThan(300);
    expect(errors).toBeGreaterThan(100);
  });

  it('agrees with csv-parse when records outgrow the record limit (lines within it, as decodeText ensures)', async () => {
    const r = rng(7);
    let tried = 0;
    let overLimit = 0;
    for (let i = 0; i < 6000; i++) {
      const delimiter = pick(r, [';', ',']);
      const s = file(r, delimiter);
      if (s.split('\n').some((l) => Buffer.byteLength(l) > 12)) continue;
      const want = reference(s, delimiter, 12);
      expect(await ours(r, s, delimiter, 12), JSON.stringify(s)).toEqual(want);
      tried++;
      if ('error' in want && want.error === 'CSV_MAX_RECORD_SIZE') overLimit++;
    }
    expect(tried).toBeGreaterThan(200);
    expect(overLimit).toBeGreaterThan(5);
  });
});
