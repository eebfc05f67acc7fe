/**
 * Mutants of the example deployment's five configuration files through loadConfigReport: at
 * every JSON path (the first two items of each array), the value replaced by values of every
 * other type and by hostile strings, the member removed, an unknown member added. A bad change
 * to the configuration must be refused with problems that name the file and a JSON path (the
 * running configuration stays, config/watch.ts); no mutant may make the loader throw anything
 * else, and none may load with /etc/passwd or /dev/zero taken as a key file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigReport } from '../../gateway/config/load.js';
import { problemsOf } from '../../gateway/config/problems.js';
import { GatewayError } from '../../gateway/errors.js';
import { copyExample, type Json, type TempConfig } from './fixtures.js';

const FILES = ['passerelle.json', 'datasets.json', 'partners.json', 'recipients.json', 'conventions.json'];
const HOSTILE: unknown[] = [null, 0, -1, 1e300, 2 ** 53 + 1, '', 'x'.repeat(10_000), '../../../../etc/passwd', '/dev/zero', '\u0000', true, [], {}, [null], { '': 1 }];

let t: TempConfig;
beforeAll(() => {
  t = copyExample();
});
afterAll(() => t.cleanup());

type Step = string | number;

/** Every path in `doc`, arrays limited to their first two items. */
function paths(doc: Json, at: Step[] = []): Step[][] {
  const out: Step[][] = at.length ? [at] : [];
  if (Array.isArray(doc)) doc.slice(0, 2).forEach((v, i) => out.push(...paths(v, [...at, i])));
  else if (doc !== null && typeof doc === 'object') for (const k of Object.keys(doc as object)) out.push(...paths((doc as Record<string, Json>)[k], [...at, k]));
  return out;
}

function withValue(doc: Json, path: Step[], value: unknown, remove = false): Json {
  const copy = structuredClone(doc) as Json;
  let node = copy;
  for (const step of path.slice(0, -1)) node = node[step];
  const last = path[path.length - 1] as Step;
  if (remove) {
    if (Array.isArray(node)) node.splice(last as number, 1);
    else delete node[last];
  } else node[last] = value;
  return copy;
}

describe('mutated configuration files: refused with file and path, or loaded', () => {
  for (const name of FILES) {
    it(name, async () => {
      const original = readFileSync(join(t.dir, name), 'utf8');
      const doc = JSON.parse(original) as Json;
      const problems: string[] = [];
      let refused = 0;
      let loaded = 0;
      try {
        for (const path of paths(doc)) {
          const variants: [string, Json][] = HOSTILE.map((v) => [`${JSON.stringify(v).slice(0, 20)}`, withValue(doc, path, v)]);
          variants.push(['removed', withValue(doc, path, undefined, true)]);
          const parent = path.slice(0, -1);
          if (parent.length > 0 || typeof path[0] === 'string') variants.push(['unknown member', withValue(doc, [...parent, 'zz_inconnu'], 1)]);
          for (const [what, mutated] of variants) {
            const label = `${name} /${path.join('/')} ← ${what}`;
            writeFileSync(join(t.dir, name), JSON.stringify(mutated));
            try {
              const report = await loadConfigReport(t.main, { demo: true });
              loaded++;
              // Loaded: neither hostile path was accepted as a key file.
              for (const f of report.files) if (f === '/etc/passwd' || f === '/dev/zero') problems.push(`${label}: loaded, reading ${f}`);
            } catch (e) {
              if (!(e instanceof GatewayError) || !Array.isArray(e.detail['problems'])) {
                problems.push(`${label}: ${String(e)}`);
                continue;
              }
              refused++;
              // Each problem names a file (of the deployment, or a key file it points to) and a path in it.
              for (const p of problemsOf(e)) if (p.file === '' || typeof p.path !== 'string' || p.problem === '') problems.push(`${label}: vague problem ${JSON.stringify(p)}`);
            }
          }
        }
      } finally {
        writeFileSync(join(t.dir, name), original);
      }
      expect(problems.slice(0, 10)).toEqual([]);
      expect(refused).toBeGreaterThan(loaded);
    }, 300_000);
  }
});
