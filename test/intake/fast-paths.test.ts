/**
 * The shortcuts taken for throughput give the same answers as the plain way: the verdict of a
 * file does not depend on how its bytes are chunked, the date-time window needs Date.parse only
 * near its edges, and errors still name the right line when a piece boundary splits a character.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeText } from '../../gateway/intake/records.js';
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
