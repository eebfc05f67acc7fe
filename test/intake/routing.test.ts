import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, check, communes, grandNancyConfig, interiorPoint, naiveContains, OUTLINES, dataset, NOW, schemas } from './helpers.js';
import { createRouter } from '../../gateway/intake/route.js';
import type { Partner } from '../../gateway/config/model.js';
import type { Feature, MultiPolygon, Polygon } from 'geojson';

const valid = (file: string): Buffer => readFileSync(join(ROOT, 'test', 'fixtures', 'datasets', 'valid', file));

describe('valid exports route to the communes of their records', () => {
  it('faits-4001 (CSV ;, Lambert-93): observatoire all, ludres and nancy theirs, laxou nothing (not granted)', async () => {
    const res = await check('faits-4001', valid('faits-4001.csv'));
    expect(res.errors).toEqual([]);
    expect(res.ok).toBe(true);
    expect(res.perRecipient).toEqual({ observatoire: 3, ludres: 1, nancy: 1 });
    expect(res.unroutable).toBe(0);
    expect(res.flagged).toEqual([]);
    // Outbox records: JSON types, provenance, WGS84 converted from Lambert-93 and inside Ludres.
    const first = res.delivered[0]?.record;
    expect(first).toMatchObject({ id_fait: 'PN-2026-0001', index_4001: 27, tentative: 0, x: 933958, y: 6840417, _source: { partner: 'police-nationale', upload_id: '01test', line: 2 } });
    const [lon, lat] = first?._wgs84 ?? [0, 0];
    expect(communes.communeAt(lon, lat)).toBe('54328');
    expect(Math.abs(lon - 6.17512)).toBeLessThan(1e-4);
    expect(res.delivered[1]?.record).not.toHaveProperty('heure_faits'); // empty cell omitted
    expect(res.delivered[2]?.record).not.toHaveProperty('_wgs84'); // no coordinates
  });

  it('main-courante-pm (NDJSON) from the Ludres municipal police: Ludres only', async () => {
    const res = await check('main-courante-pm', valid('main-courante-pm.ndjson'));
    expect(res.ok).toBe(true);
    expect(res.perRecipient).toEqual({ observatoire: 2, ludres: 2 });
    expect(res.delivered[0]?.record._wgs84).toEqual([6.17512, 48.6216]);
  });

  it('main-courante-pm reaches laxou, whose convention grants it', async () => {
    const config = grandNancyConfig();
    const pm: Partner = { kind: 'partner', id: 'police-municipale-laxou', name: 'PM Laxou', sshKeys: [], territory: ['54304'], pgpKeys: [] };
    (config.partners as Map<string, Partner>).set(pm.id, pm);
    const conv = config.conventions[0];
    const withLaxou = { ...config, conventions: conv ? [{ ...conv, senders: [...conv.senders, { party: pm.id, datasets: ['main-courante-pm'] }] }] : [] };
    const line = JSON.stringify({ id: 'L1', horodatage: '2026-03-14T22:10:00+01:00', categorie: 'rixe', code_insee: '54304', suite: 'aucune' });
    const res = await check('main-courante-pm', line + '\n', { config: withLaxou, partnerId: pm.id });
    expect(res.ok).toBe(true);
    expect(res.perRecipient).toEqual({ observatoire: 1, laxou: 1 });
  });

  it('incivilites-bailleur (CSV ;, decimal commas): laxou gets nothing', async () => {
    const res = await check('incivilites-bailleur', valid('incivilites-bailleur.csv'));
    expect(res.ok).toBe(true);
    expect(res.perRecipient).toEqual({ observatoire: 3, ludres: 1, nancy: 1 });
    expect(res.delivered[1]?.record).toMatchObject({ lon: 6.11799, lat: 48.68421, _wgs84: [6.11799, 48.68421] });
  });

  it('interventions-sdis (JSON document): records without code_insee routed by their coordinates, outside the métropole unroutable', async () => {
    const res = await check('interventions-sdis', valid('interventions-sdis.json'));
    expect(res.errors).toEqual([]);
    expect(res.ok).toBe(true);
    expect(res.perRecipient).toEqual({ observatoire: 3, ludres: 1, laxou: 1, nancy: 1 });
    expect(res.unroutable).toBe(2);
    expect(res.accepted).toBe(5);
    expect(res.delivered.map((d) => [d.record.numero, d.recipients])).toEqual([
      ['2026-000101', ['observatoire', 'ludres']],
      ['2026-000102', ['observatoire', 'laxou']],
      ['2026-000103', ['observatoire', 'nancy']],
    ]);
    expect(res.delivered[0]?.record).not.toHaveProperty('code_insee'); // delivered as sent
  });

  it('incidents-transport (CSV ,, columns in another order, quoted newline): laxou gets nothing', async () => {
    const res = await check('incidents-transport', valid('incidents-transport.csv'));
    expect(res.errors).toEqual([]);
    expect(res.perRecipient).toEqual({ observatoire: 3, 'vandoeuvre-les-nancy': 1, nancy: 1, ludres: 1 });
    expect(res.delivered[2]?.record).toMatchObject({ arret: 'Ludres\r\nCentre', _source: { line: 4 } });
  });
});

describe('flagging and territories', () => {
  it('flags coordinates that contradict the declared commune, and delivers as declared', async () => {
    const [lon, lat] = interiorPoint('54328'); // in Ludres, declared Nancy
    const csv = `reference;date_constat;code_insee;residence;nature;lon;lat\nB-1;2026-03-10;54395;Les Tilleuls;tag;${lon};${lat}\n`;
    const res = await check('incivilites-bailleur', csv);
    expect(res.ok).toBe(true);
    expect(res.flagged).toEqual([{ recordNo: 1, line: 2, declared: '54395', found: '54328' }]);
    expect(res.perRecipient).toEqual({ observatoire: 1, nancy: 1 });
  });

  it('an SDIS record declared outside the outlines is not flagged (nothing to compare with)', async () => {
    const res = await check('interventions-sdis', valid('interventions-sdis.json'));
    expect(res.flaggedCount).toBe(0);
  });

  it('an expired convention routes nothing and refuses the dataset', async () => {
    const res = await check('faits-4001', valid('faits-4001.csv'), { config: grandNancyConfig({ validTo: '2026-01-31' }) });
    expect(res.ok).toBe(false);
    expect(res.code).toBe('DATASET_NOT_GRANTED');
    expect(res.delivered).toEqual([]);
    const router = createRouter({ config: grandNancyConfig({ validTo: '2026-01-31' }), dataset: dataset('faits-4001'), partnerId: 'police-nationale', now: NOW, communes });
    expect(router.route({ code_insee: '54328' }, undefined).recipients).toEqual([]);
  });

  it('without a partner (local validate) there is no territory check and no recipient', async () => {
    const res = await check('main-courante-pm', JSON.stringify({ id: 'X', horodatage: '2026-03-14T22:10:00+01:00', categorie: 'rixe', code_insee: '54395', suite: 'aucune' }), { partnerId: undefined });
    expect(res.ok).toBe(true);
    expect(res.perRecipient).toEqual({});
    expect(res.unroutable).toBe(1);
  });

  it('skip_invalid delivers the valid records and lists the others', async () => {
    const csv = 'reference;date_constat;code_insee;residence;nature\nB-1;2026-03-10;54328;R;tag\nB-2;2026-03-10;54328;R;vandalisme\nB-3;2026-03-10;54395;R;tag\n';
    const res = await check('incivilites-bailleur', csv, { policy: 'skip_invalid' });
    expect(res.ok).toBe(true);
    expect(res.accepted).toBe(2);
    expect(res.errors.map((e) => [e.code, e.recordNo, e.line, e.field])).toEqual([['SCHEMA_INVALID', 2, 3, '/nature']]);
    expect(res.delivered.map((d) => d.record.reference)).toEqual(['B-1', 'B-3']);
    const strict = await check('incivilites-bailleur', csv);
    expect(strict.ok).toBe(false);
    expect(strict.delivered.map((d) => d.record.reference)).toEqual(['B-1']); // handed on before the bad record; caller discards
  });

  it('skip_invalid does not excuse a record outside the partner\'s territory', async () => {
    const csv = 'reference;date_constat;code_insee;residence;nature\nB-1;2026-03-10;54328;R;tag\nB-2;2026-03-10;54528;R;tag\n';
    const res = await check('incivilites-bailleur', csv, { policy: 'skip_invalid' });
    expect(res.ok).toBe(false);
    expect(res.code).toBe('OUTSIDE_TERRITORY');
  });

  it('maxErrors bounds the list, not the count', async () => {
    const lines = Array.from({ length: 7 }, (_, i) => `B-${i};2026-03-10;54328;R;vandalisme`).join('\n');
    const res = await check('incivilites-bailleur', `reference;date_constat;code_insee;residence;nature\n${lines}\n`, { limits: { maxRecords: 100, maxErrors: 3 } });
    expect(res.errors.length).toBe(3);
    expect(res.errorCount).toBe(7);
  });

  it('maxRecords stops the file with TOO_MANY_RECORDS', async () => {
    const lines = Array.from({ length: 5 }, (_, i) => `B-${i};2026-03-10;54328;R;tag`).join('\n');
    const res = await check('incivilites-bailleur', `reference;date_constat;code_insee;residence;nature\n${lines}\n`, { limits: { maxRecords: 4, maxErrors: 10 } });
    expect(res.code).toBe('TOO_MANY_RECORDS');
  });
});

describe('repeated ids', () => {
  // Ids in file order: B-3 and B-0 come back, one record is invalid, two go to Nancy.
  const rows = ['B-0;54328;tag', 'B-1;54328;tag', 'B-2;54395;tag', 'B-3;54328;vandalisme', 'B-3;54328;tag', 'B-4;54328;tag', 'B-0;54395;tag', 'B-5;54395;tag', 'B-1;54328;tag'];
  const csv = `reference;date_constat;code_insee;residence;nature\n${rows.map((r) => r.replace(/;(\d+);/, ';2026-03-10;$1;R;')).join('\n')}\n`;
  // Filters of one bit per id: nearly every record is held for the end of the file.
  const held = { duplicateIds: { firstCapacity: 1, bitsPerId: 1 } };

  it('are errors at the record that repeats, whether the record was held or not', async () => {
    for (const over of [{}, held]) {
      const res = await check('incivilites-bailleur', csv, { policy: 'skip_invalid', ...over });
      expect(res.ok).toBe(true);
      expect(res.errors.map((e) => [e.code, e.recordNo, e.line])).toEqual([['SCHEMA_INVALID', 4, 5], ['DUPLICATE_ID', 7, 8], ['DUPLICATE_ID', 9, 10]]);
      expect(res.errors[1]?.field).toBe('/reference');
      // B-3 is not a repeat: its first record was invalid, so it never counted.
      expect(res.accepted).toBe(6);
      expect(res.perRecipient).toEqual({ observatoire: 6, ludres: 4, nancy: 2 });
      expect(res.delivered.map((d) => d.record.reference).sort()).toEqual(['B-0', 'B-1', 'B-2', 'B-3', 'B-4', 'B-5']);
    }
    // Known new at once: in file order.
    expect((await check('incivilites-bailleur', csv, { policy: 'skip_invalid' })).delivered.map((d) => d.record._source.line)).toEqual([2, 3, 4, 6, 7, 9]);
  });

  it('make an all-or-nothing file refused with the first of them, held or not', async () => {
    for (const over of [{}, held]) {
      const res = await check('incivilites-bailleur', csv.replace('vandalisme', 'tag'), over);
      expect(res.ok).toBe(false);
      expect(res.code).toBe('DUPLICATE_ID');
      expect(res.message).toContain('enregistrement 5 ligne 6');
      expect(res.errorCount).toBe(3);
    }
  });

  it('held records keep the error list to the first maxErrors in file order', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `B-${i % 4}`);
    const body = ids.map((id, i) => `${id};2026-03-10;54328;R;${i === 10 ? 'vandalisme' : 'tag'}`).join('\n');
    const res = await check('incivilites-bailleur', `reference;date_constat;code_insee;residence;nature\n${body}\n`, { ...held, limits: { maxRecords: 100, maxErrors: 3 } });
    expect(res.errors.map((e) => [e.code, e.recordNo])).toEqual([['DUPLICATE_ID', 5], ['DUPLICATE_ID', 6], ['DUPLICATE_ID', 7]]);
    expect(res.errorCount).toBe(8);
  });
});

describe('commune outlines', () => {
  it('agree with a naive point-in-polygon on a grid over the métropole', () => {
    let inside = 0;
    for (let lon = 6.05; lon <= 6.3; lon += 0.0071) {
      for (let lat = 48.6; lat <= 48.75; lat += 0.0053) {
        const naive = OUTLINES.features.filter((f) => naiveContains((f as Feature<Polygon | MultiPolygon>).geometry, [lon, lat])).map((f) => String(f.properties?.code));
        const got = communes.communeAt(lon, lat);
        // A point on a shared border may be in two outlines; the lookup must return one of them.
        if (naive.length === 0) expect(got).toBeUndefined();
        else expect(naive).toContain(got);
        if (got) inside++;
      }
    }
    expect(inside).toBeGreaterThan(200);
  });

  it('every commune of the Grand Nancy has an outline', () => {
    expect(communes.codes.size).toBe(20);
    expect(schemas.get('datasets/faits-4001.schema.json').fields).toContain('index_4001');
  });
});

describe('flag rule', () => {
  const router = createRouter({ config: grandNancyConfig(), dataset: dataset('interventions-sdis'), partnerId: 'sdis54', now: NOW, communes });
  it('flags a point inside the métropole declared in a commune outside it, and a point outside declared inside', () => {
    expect(router.route({ code_insee: '54528' }, interiorPoint('54395')).flagged).toBe(true);
    expect(router.route({ code_insee: '54395' }, [5.891, 48.675]).flagged).toBe(true);
    expect(router.route({ code_insee: '54528' }, [5.891, 48.675]).flagged).toBe(false);
    expect(router.route({ code_insee: '54395' }, interiorPoint('54395')).flagged).toBe(false);
  });
  it('routes by coordinates only when the dataset allows code_insee to be absent', () => {
    expect(router.route({}, interiorPoint('54304'))).toMatchObject({ insee: '54304', recipients: ['observatoire', 'laxou'] });
    const pm = createRouter({ config: grandNancyConfig(), dataset: dataset('main-courante-pm'), partnerId: 'police-municipale-ludres', now: NOW, communes });
    expect(pm.route({}, interiorPoint('54328')).recipients).toEqual([]);
  });
});

describe('verdict code', () => {
  it('is OUTSIDE_TERRITORY under skip_invalid even when that error comes after maxErrors others', async () => {
    const bad = Array.from({ length: 4 }, (_, i) => `B-${i};2026-03-10;54328;R;vandalisme`).join('\n');
    const csv = `reference;date_constat;code_insee;residence;nature\n${bad}\nB-9;2026-03-10;54528;R;tag\nB-10;2026-03-10;54328;R;tag\n`;
    const res = await check('incivilites-bailleur', csv, { policy: 'skip_invalid', limits: { maxRecords: 100, maxErrors: 2 } });
    expect(res.ok).toBe(false);
    expect(res.code).toBe('OUTSIDE_TERRITORY');
    expect(res.message).toContain('enregistrement 5 ligne 6');
  });
});
