import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCommunes } from '../../gateway/config/communes.js';
import { DEFAULT_LIMITS } from '../../gateway/config/defaults.js';
import { configValidators } from '../../gateway/config/schema.js';
import { ROOT } from './fixtures.js';

const DIR = join(ROOT, 'schemas', 'config');
type Node = Record<string, unknown>;

/** Every object schema with properties, in every file, with its location. */
function objectSchemas(node: unknown, at: string, out: { at: string; node: Node }[] = []): { at: string; node: Node }[] {
  if (Array.isArray(node)) node.forEach((n, i) => objectSchemas(n, `${at}/${i}`, out));
  else if (node && typeof node === 'object') {
    const o = node as Node;
    if (o['properties'] && typeof o['properties'] === 'object' && !('const' in o)) out.push({ at, node: o });
    for (const [k, v] of Object.entries(o)) if (k !== 'properties' || typeof v === 'object') objectSchemas(v, `${at}/${k}`, out);
  }
  return out;
}

describe('configuration schemas', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.schema.json'));

  it('are draft 2020-12 and closed: additionalProperties false on every object (or on every oneOf branch)', () => {
    expect(files.sort()).toEqual(['common.schema.json', 'conventions.schema.json', 'datasets.schema.json', 'partners.schema.json', 'passerelle.schema.json', 'recipients.schema.json']);
    let checked = 0;
    for (const f of files) {
      const doc = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Node;
      expect(doc['$schema'], f).toBe('https://json-schema.org/draft/2020-12/schema');
      for (const { at, node } of objectSchemas(doc, f)) {
        const closed = node['additionalProperties'] === false;
        const branches = node['oneOf'] as Node[] | undefined;
        const closedBranches = Array.isArray(branches) && branches.every((b) => b['additionalProperties'] === false);
        expect(closed || closedBranches, at).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(20);
  });

  it('document the same limit defaults as the code', () => {
    const main = JSON.parse(readFileSync(join(DIR, 'passerelle.schema.json'), 'utf8')) as { $defs: { limits: { properties: Record<string, { default: number }> } } };
    const documented = Object.fromEntries(Object.entries(main.$defs.limits.properties).map(([k, v]) => [k, v.default]));
    expect(documented).toEqual({ ...DEFAULT_LIMITS });
  });

  it('are compiled once per schemas directory', () => {
    expect(configValidators(join(ROOT, 'schemas'))).toBe(configValidators(join(ROOT, 'schemas')));
  });
});

describe('reference data in data/', () => {
  it('the outlines cover exactly the 20 communes of the table, with attribution in SOURCES.md', async () => {
    const geo = JSON.parse(readFileSync(join(ROOT, 'data', 'grand-nancy-communes.geojson'), 'utf8')) as { features: { properties: { code: string } }[] };
    const { communes } = await loadCommunes();
    expect(geo.features.map((f) => f.properties.code).sort()).toEqual(communes.map((c) => c.insee).sort());
    const sources = readFileSync(join(ROOT, 'data', 'SOURCES.md'), 'utf8');
    for (const f of ['grand-nancy-communes.geojson', 'communes-grand-nancy.tsv', 'etat4001-index.tsv']) expect(sources).toContain(f);
    expect(sources).toMatch(/IGN/);
    expect(sources).toMatch(/Licence Ouverte/);
  });

  it('the état 4001 index lists 107 index, 96, 97, 99 and 100 unused', () => {
    const rows = readFileSync(join(ROOT, 'data', 'etat4001-index.tsv'), 'utf8').trim().split('\n').slice(1);
    const ids = rows.map((r) => Number(r.split('\t')[0]));
    expect(ids).toEqual(Array.from({ length: 107 }, (_, i) => i + 1));
    const unused = rows.filter((r) => /non utilisé/.test(r)).map((r) => Number(r.split('\t')[0]));
    expect(unused).toEqual([96, 97, 99, 100]);
  });
});
