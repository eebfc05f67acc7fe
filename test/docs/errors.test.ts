import { describe, it, expect } from 'vitest';
import { readFile } from 'node:fs/promises';
import { ERROR_CODES } from '../../gateway/errors.js';

const DOC = new URL('../../docs/errors.md', import.meta.url);

/** `## CODE` headings and the text under each, up to the next heading. */
function sections(md: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = md.split(/^## /m).slice(1);
  for (const p of parts) {
    const nl = p.indexOf('\n');
    const title = (nl < 0 ? p : p.slice(0, nl)).trim();
    if (/^[A-Z][A-Z0-9_]+$/.test(title)) out.set(title, nl < 0 ? '' : p.slice(nl + 1));
  }
  return out;
}

describe('docs/errors.md', () => {
  it('documents every error code with a meaning and what to do', async () => {
    const docs = sections(await readFile(DOC, 'utf8'));
    const missing = Object.keys(ERROR_CODES).filter((c) => !docs.has(c));
    expect(missing).toEqual([]);
    for (const code of Object.keys(ERROR_CODES)) {
      const body = docs.get(code) ?? '';
      expect(body, code).toMatch(/\*\*Signification\*\* : \S/);
      expect(body, code).toMatch(/\*\*Que faire\*\* : \S/);
    }
  });

  it('documents no code that the gateway does not have', async () => {
    const docs = sections(await readFile(DOC, 'utf8'));
    const unknown = [...docs.keys()].filter((c) => !(c in ERROR_CODES));
    expect(unknown).toEqual([]);
  });

  it('has each code once', async () => {
    const md = await readFile(DOC, 'utf8');
    const headings = [...md.matchAll(/^## ([A-Z][A-Z0-9_]+)\s*$/gm)].map((m) => m[1]);
    expect(headings.length).toBe(new Set(headings).size);
  });
});
