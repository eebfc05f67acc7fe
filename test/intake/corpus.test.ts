import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../gateway/errors.js';
import { ROOT, check } from './helpers.js';

// One runner for the whole adversarial corpus: the expected outcome is in each file's name.
const CORPUS = join(ROOT, 'test', 'fixtures', 'datasets', 'corpus');
const NAME = /^(ACCEPTED|[A-Z_]+)(?:@(\d+))?__[a-z0-9_.-]+$/i;

for (const datasetId of readdirSync(CORPUS).sort()) {
  describe(`corpus ${datasetId}`, () => {
    for (const file of readdirSync(join(CORPUS, datasetId)).sort()) {
      const m = NAME.exec(file);
      it(file, async () => {
        expect(m, `bad fixture name ${file}`).not.toBeNull();
        const [, expectCode = '', line] = m ?? [];
        const res = await check(datasetId, readFileSync(join(CORPUS, datasetId, file)));
        if (expectCode === 'ACCEPTED') {
          expect(res.errors).toEqual([]);
          expect(res.ok).toBe(true);
          expect(res.accepted).toBeGreaterThan(0);
          expect(res.delivered.length).toBe(res.accepted);
          return;
        }
        expect(Object.keys(ERROR_CODES)).toContain(expectCode);
        expect(res.ok).toBe(false);
        expect(res.code).toBe(expectCode);
        expect(res.delivered.length === 0 || expectCode !== 'OUTSIDE_TERRITORY' || res.errors.length > 0).toBe(true);
        const first = res.errors.find((e) => e.code === expectCode);
        expect(first?.message).toMatch(/\S/);
        if (line !== undefined) expect(first?.line).toBe(Number(line));
      });
    }
  });
}
