import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GatewayError } from '../../gateway/errors.js';
import type { GatewayConfig } from '../../gateway/config/model.js';
import { watchConfig, type WatchedConfig } from '../../gateway/config/watch.js';
import { createLogger } from '../../gateway/log.js';
import { copyExample, type TempConfig } from './fixtures.js';
import { captureLog } from '../helpers/log-capture.js';

function nextChange(w: WatchedConfig): Promise<GatewayConfig> {
  return new Promise((resolve) => {
    const off = w.onChange((next) => {
      off();
      resolve(next);
    });
  });
}

function nextRefusal(w: WatchedConfig): Promise<GatewayError> {
  return new Promise((resolve) => {
    const off = w.onRefused((err) => {
      off();
      resolve(err);
    });
  });
}

describe('watchConfig', () => {
  let t: TempConfig;
  let w: WatchedConfig | undefined;
  beforeEach(() => {
    t = copyExample();
  });
  afterEach(async () => {
    await w?.close();
    w = undefined;
    t.cleanup();
  });

  it('replaces the snapshot on a valid change, refuses a broken one and keeps the old, accepts the fix', async () => {
    const log = captureLog();
    w = await watchConfig(t.main, { demo: true }, createLogger({ level: 'info', destination: log.stream }));
    const first = w.current();
    expect(first.partners.get('transport')?.name).toMatch(/transport/);

    // 1. a valid change
    let changed = nextChange(w);
    t.edit('partners.json', (d) => (d.partners[4].name = 'Keolis Grand Nancy'));
    const second = await changed;
    expect(second.partners.get('transport')?.name).toBe('Keolis Grand Nancy');
    expect(w.current()).toBe(second);
    expect(first.partners.get('transport')?.name).not.toBe('Keolis Grand Nancy'); // old snapshots are untouched

    // 2. a broken change: refused, one clear log line, the running snapshot stays
    const refused = nextRefusal(w);
    t.edit('conventions.json', (d) => (d.conventions[0].senders[0].datasets = ['faits-4002']));
    const err = await refused;
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.detail).toMatchObject({ file: join(t.dir, 'conventions.json'), path: '/conventions/0/senders/0/datasets/0' });
    expect(w.current()).toBe(second);
    const errorLines = log.lines.filter((l) => l['level'] === 50);
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatchObject({
      code: 'CONFIG_INVALID',
      file: join(t.dir, 'conventions.json'),
      path: '/conventions/0/senders/0/datasets/0',
      problem: 'jeu de données inconnu : faits-4002',
    });

    // 3. the fix, written the way editors do (temporary file renamed onto the original)
    changed = nextChange(w);
    const fixed = t.read('conventions.json');
    fixed.conventions[0].senders[0].datasets = ['faits-4001'];
    writeFileSync(join(t.dir, 'conventions.json.tmp'), JSON.stringify(fixed));
    renameSync(join(t.dir, 'conventions.json.tmp'), join(t.dir, 'conventions.json'));
    const third = await changed;
    expect(third.conventions[0]?.senders[0]?.datasets).toEqual(['faits-4001']);
    expect(w.current()).toBe(third);
  });

  it('tells listeners when a partner is removed', async () => {
    w = await watchConfig(t.main, { demo: true }, createLogger({ level: 'silent' }));
    const seen = new Promise<{ next: GatewayConfig; previous: GatewayConfig }>((resolve) => w?.onChange((next, previous) => resolve({ next, previous })));
    t.edit('partners.json', (d) => (d.partners = d.partners.filter((p: { id: string }) => p.id !== 'bailleur-social')));
    t.edit('conventions.json', (d) => {
      for (const c of d.conventions) c.senders = c.senders.filter((g: { party: string }) => g.party !== 'bailleur-social');
    });
    const { next, previous } = await seen;
    expect(previous.partners.has('bailleur-social')).toBe(true);
    expect(next.partners.has('bailleur-social')).toBe(false);
    expect(w.current().partners.has('bailleur-social')).toBe(false);
  });

  it('reloads when a key file changes, and refuses a key that no longer matches its pin', async () => {
    w = await watchConfig(t.main, { demo: true }, createLogger({ level: 'silent' }));
    const refused = nextRefusal(w);
    // replace Nancy's public key by Laxou's: the pinned fingerprint no longer matches
    const laxou = join(t.root, 'keys-example', 'laxou', 'pgp.pub.asc');
    const nancy = join(t.root, 'keys-example', 'nancy', 'pgp.pub.asc');
    writeFileSync(nancy, readFileSync(laxou));
    const err = await refused;
    expect(err.message).toMatch(/ne correspond pas à la clé du fichier/);
    expect(w.current().recipients.has('nancy')).toBe(true);
  });

  it('reload() reloads on demand, and close() stops watching', async () => {
    w = await watchConfig(t.main, { demo: true }, createLogger({ level: 'silent' }));
    t.edit('datasets.json', (d) => (d.datasets[0].title = 'Faits constatés (état 4001), version 2'));
    await expect(w.reload()).resolves.toBe('loaded');
    expect(w.current().datasets.get('faits-4001')?.title).toBe('Faits constatés (état 4001), version 2');
    await w.close();
    const before = w.current();
    t.edit('datasets.json', (d) => (d.datasets[0].title = 'après fermeture'));
    await new Promise((r) => setTimeout(r, 600)); // longer than the debounce: nothing may happen
    expect(w.current()).toBe(before);
  });
});
