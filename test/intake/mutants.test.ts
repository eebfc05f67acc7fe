/**
 * Mutants of the five valid exports through checkExport (security.md, invariant 6; product.md:
 * bad input gets a precise error). Every truncation point, and at every position one of the
 * bytes that move parsers (quotes, delimiters, line ends, brackets, backslash, NUL, bytes that
 * are not UTF-8, a BOM). The oracle needs no expected answer per mutant: checkExport must return
 * (never throw, never hang), and the same bytes cut in 1-byte, 7-byte or whole pieces must give
 * the very same verdict, errors and deliveries: the parsers' state must not depend on where a
 * network read happened to end.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkExport, type CheckResult } from '../../gateway/intake/check.js';
import { ALL, NOW, PARTNER_OF, ROOT, communes, dataset, grandNancyConfig, schemas } from './helpers.js';

const NASTY = [0x22, 0x3b, 0x2c, 0x0a, 0x0d, 0x7b, 0x7d, 0x5b, 0x5d, 0x5c, 0x00, 0xff, 0xc3];
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const config = grandNancyConfig();

async function run(datasetId: string, bytes: Buffer, chunk: number): Promise<{ result: CheckResult; lines: string[] } | { threw: unknown }> {
  const lines: string[] = [];
  async function* source(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
  }
  try {
    const result = await checkExport({
      config,
      dataset: dataset(datasetId),
      partnerId: PARTNER_OF[datasetId],
      uploadId: '01mutant',
      source: source(),
      now: NOW,
      limits: { maxRecords: 1000, maxErrors: 100 },
      schemas,
      communes,
      onRecord: (recipients, line) => void lines.push(`${recipients.join(',')} ${line}`),
    });
    return { result, lines };
  } catch (e) {
    return { threw: e };
  }
}

/** About 300 positions' worth of mutants a file: every position, the mutations spread over them. */
function* mutants(file: Buffer): Generator<{ name: string; bytes: Buffer }> {
  const stride = Math.max(1, Math.round(file.length / 300));
  for (let i = 0; i < file.length; i++) if (i % stride === 0) yield { name: `truncated at ${i}`, bytes: file.subarray(0, i) };
  for (let i = 0; i < file.length; i++) {
    for (const [k, b] of NASTY.entries()) {
      if (file[i] === b || (i + k) % stride !== 0) continue;
      const bytes = Buffer.from(file);
      bytes[i] = b;
      yield { name: `byte ${i} = 0x${b.toString(16)}`, bytes };
    }
    if (i % stride === 0) yield { name: `BOM at ${i}`, bytes: Buffer.concat([file.subarray(0, i), BOM, file.subarray(i)]) };
  }
}
describe('mutated exports: checkExport returns, and the same verdict whatever the chunking', () => {
  for (const id of ALL) {
    it(id, async () => {
      const dir = join(ROOT, 'test', 'fixtures', 'datasets', 'valid');
      const file = readFileSync(join(dir, readdirSync(dir).find((f) => f.startsWith(`${id}.`)) ?? id));
      const whole = await run(id, file, file.length + 1);
      expect('result' in whole && whole.result.ok).toBe(true);
      const problems: string[] = [];
      const codes = new Set<string>();
      let n = 0;
      for (const m of mutants(file)) {
        n++;
        // Whole, 7-byte and 3-byte pieces for all; byte by byte (the slowest) for one in four.
        const chunks = n % 4 === 0 ? [m.bytes.length + 1, 7, 3, 1] : [m.bytes.length + 1, 7, 3];
        const outcomes = await Promise.all(chunks.map((chunk) => run(id, m.bytes, chunk)));
        const [first] = outcomes;
        if (!first || 'threw' in first) {
          problems.push(`${m.name}: threw ${String((first as { threw: unknown }).threw)}`);
          continue;
        }
        for (const e of first.result.errors) codes.add(e.code);
        const want = JSON.stringify(first);
        outcomes.forEach((o, k) => {
          if (k > 0 && JSON.stringify(o) !== want) problems.push(`${m.name}: pieces of ${chunks[k]} bytes give ${JSON.stringify(o).slice(0, 300)} instead of ${want.slice(0, 300)}`);
        });
      }
      expect(problems.slice(0, 10)).toEqual([]);
      // The mutants reach many distinct checks.
      expect(codes.size, [...codes].join(' ')).toBeGreaterThanOrEqual(4);
      expect(n).toBeGreaterThan(3000);
    }, 300_000);
  }
});
