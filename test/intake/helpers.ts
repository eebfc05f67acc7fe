/**
 * Test support for the intake's data side: the Grand Nancy configuration built as values (the
 * parties and conventions of product.md), interior points of communes found with a deliberately
 * naive point-in-polygon (so the product's turf + bbox lookup is checked against an independent
 * reference), and a one-call `check` on bytes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Feature, FeatureCollection, MultiPolygon, Polygon, Position } from 'geojson';
import type { Convention, Dataset, GatewayConfig, Partner, Recipient } from '../../gateway/config/model.js';
import { DEFAULT_LIMITS } from '../../gateway/config/defaults.js';
import { checkExport, type CheckOptions, type CheckResult } from '../../gateway/intake/check.js';
import { SchemaStore } from '../../gateway/intake/validate.js';
import { communeIndex, type CommuneIndex } from '../../gateway/intake/geo.js';
import type { OutboxRecord } from '../../gateway/intake/normalize.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const NOW = new Date('2026-06-15T10:00:00Z');

export const COMMUNES: Record<string, string> = {
  '54025': 'art-sur-meurthe', '54165': 'dommartemont', '54184': 'essey-les-nancy', '54197': 'fleville-devant-nancy',
  '54257': 'heillecourt', '54265': 'houdemont', '54274': 'jarville-la-malgrange', '54300': 'laneuveville-devant-nancy',
  '54304': 'laxou', '54328': 'ludres', '54339': 'malzeville', '54357': 'maxeville', '54395': 'nancy', '54439': 'pulnoy',
  '54482': 'saint-max', '54495': 'saulxures-les-nancy', '54498': 'seichamps', '54526': 'tomblaine',
  '54547': 'vandoeuvre-les-nancy', '54578': 'villers-les-nancy',
};
export const ALL = ['faits-4001', 'main-courante-pm', 'incivilites-bailleur', 'interventions-sdis', 'incidents-transport'];
const GN = Object.keys(COMMUNES);

const coords4326 = { crs: 'EPSG:4326', xField: 'lon', yField: 'lat' } as const;
const csv = (delimiter: string) => ({ kind: 'csv', delimiter, encoding: 'utf-8', maxLineBytes: 65536 }) as const;

export const DATASETS: Dataset[] = [
  { id: 'faits-4001', title: 'faits', format: csv(';'), schema: 'datasets/faits-4001.schema.json', idField: 'id_fait', inseeOptional: false, coordinates: { crs: 'EPSG:2154', xField: 'x', yField: 'y' } },
  { id: 'main-courante-pm', title: 'pm', format: { kind: 'ndjson', maxLineBytes: 65536 }, schema: 'datasets/main-courante-pm.schema.json', idField: 'id', inseeOptional: false, coordinates: coords4326 },
  { id: 'incivilites-bailleur', title: 'bailleur', format: csv(';'), schema: 'datasets/incivilites-bailleur.schema.json', idField: 'reference', inseeOptional: false, coordinates: coords4326 },
  {
    id: 'interventions-sdis', title: 'sdis',
    format: { kind: 'json', recordsPath: 'interventions', envelopeSchema: 'datasets/interventions-sdis.envelope.schema.json' },
    schema: 'datasets/interventions-sdis.schema.json', idField: 'numero', inseeOptional: true, coordinates: coords4326,
  },
  { id: 'incidents-transport', title: 'transport', format: csv(','), schema: 'datasets/incidents-transport.schema.json', idField: 'id', inseeOptional: false, coordinates: coords4326 },
];

export const PARTNER_OF: Record<string, string> = {
  'faits-4001': 'police-nationale',
  'main-courante-pm': 'police-municipale-ludres',
  'incivilites-bailleur': 'bailleur-social',
  'interventions-sdis': 'sdis54',
  'incidents-transport': 'transport',
};

const partner = (id: string, territory: string[]): Partner => ({ kind: 'partner', id, name: id, sshKeys: [], territory, pgpKeys: [] });
const recipient = (id: string, territory: string[]): Recipient => ({
  kind: 'recipient', id, name: id, sshKeys: [], territory, pgpKey: { file: 'x', fingerprint: 'X' }, outbox: { deleteAllowed: true },
});

function convention(id: string, validTo: string, recipients: { party: string; datasets: string[] }[], validation: Convention['validation'] = 'all_or_nothing'): Convention {
  return {
    id, title: id, legalReference: 'test', signedOn: '2023-12-20', validFrom: '2024-01-01', validTo, purpose: 'test', dataCategories: [],
    retentionDays: 365, validation,
    senders: Object.entries(PARTNER_OF).map(([dataset, party]) => ({ party, datasets: [dataset] })),
    recipients,
  };
}

/** The demo deployment: observatoire (all), one recipient per commune, laxou restricted to two datasets. */
export function grandNancyConfig(opts: { validTo?: string; validation?: Convention['validation'] } = {}): GatewayConfig {
  const recipients = [recipient('observatoire', GN), ...GN.map((code) => recipient(COMMUNES[code] ?? code, [code]))];
  const grants = recipients.map((r) => ({ party: r.id, datasets: r.id === 'laxou' ? ['main-courante-pm', 'interventions-sdis'] : ALL }));
  const partners = [
    partner('police-nationale', GN), partner('police-municipale-ludres', ['54328']), partner('bailleur-social', GN),
    partner('sdis54', ['54']), partner('transport', GN),
  ];
  return {
    file: '/nonexistent/passerelle.json', dir: '/nonexistent',
    settings: { limits: DEFAULT_LIMITS } as GatewayConfig['settings'],
    datasets: new Map(DATASETS.map((d) => [d.id, d])),
    partners: new Map(partners.map((p) => [p.id, p])),
    recipients: new Map(recipients.map((r) => [r.id, r])),
    conventions: [convention('observatoire-securite', opts.validTo ?? '2028-12-31', grants, opts.validation)],
  };
}

export function dataset(id: string): Dataset {
  const d = DATASETS.find((x) => x.id === id);
  if (!d) throw new Error(id);
  return d;
}

// Shared, read-only test tools (each test file runs in its own fork).
export const OUTLINES = JSON.parse(readFileSync(join(ROOT, 'data', 'grand-nancy-communes.geojson'), 'utf8')) as FeatureCollection;
export const schemas = new SchemaStore(join(ROOT, 'schemas'));
export const communes: CommuneIndex = communeIndex(OUTLINES);

/** Naive even-odd ray casting over every ring: the reference the product's lookup is checked against. */
export function naiveContains(g: Polygon | MultiPolygon, [x, y]: [number, number]): boolean {
  const polys: Position[][][] = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
  let inside = false;
  for (const rings of polys) {
    for (const ring of rings) {
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi = 0, yi = 0] = ring[i] ?? [];
        const [xj = 0, yj = 0] = ring[j] ?? [];
        if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
      }
    }
  }
  return inside;
}

/** A point well inside commune `code` (it and 8 neighbours 300 m away are inside by the naive test). */
export function interiorPoint(code: string): [number, number] {
  const f = OUTLINES.features.find((x) => x.properties?.code === code) as Feature<Polygon | MultiPolygon> | undefined;
  if (!f) throw new Error(`no outline ${code}`);
  const pts = (f.geometry.type === 'Polygon' ? f.geometry.coordinates : f.geometry.coordinates.flat()).flat();
  const xs = pts.map((p) => p[0] ?? 0);
  const ys = pts.map((p) => p[1] ?? 0);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const d = 0.004;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  let best: [number, number] | undefined;
  let bestDist = Infinity;
  for (let x = x0; x <= x1; x += 0.001) {
    for (let y = y0; y <= y1; y += 0.001) {
      const ok = [-d, 0, d].every((dx) => [-d, 0, d].every((dy) => naiveContains(f.geometry, [x + dx, y + dy])));
      const dist = (x - cx) ** 2 + (y - cy) ** 2;
      if (ok && dist < bestDist) {
        best = [Math.round(x * 1e5) / 1e5, Math.round(y * 1e5) / 1e5];
        bestDist = dist;
      }
    }
  }
  if (!best) throw new Error(`no interior point for ${code}`);
  return best;
}

export interface Checked extends CheckResult {
  delivered: { recipients: readonly string[]; record: OutboxRecord }[];
}

/** Runs checkExport on bytes (split in small chunks, to exercise the streaming paths). */
export async function check(datasetId: string, content: string | Uint8Array, over: Partial<CheckOptions> = {}): Promise<Checked> {
  const bytes = typeof content === 'string' ? Buffer.from(content) : Buffer.from(content);
  const delivered: Checked['delivered'] = [];
  const chunk = 7;
  async function* source(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
  }
  const res = await checkExport({
    config: grandNancyConfig(),
    dataset: dataset(datasetId),
    partnerId: PARTNER_OF[datasetId],
    uploadId: '01test',
    source: source(),
    now: NOW,
    limits: { maxRecords: 1000, maxErrors: 100 },
    schemas,
    communes,
    onRecord: (recipients, line) => {
      if (!line.endsWith('}\n')) throw new Error(`not one NDJSON line: ${JSON.stringify(line)}`);
      delivered.push({ recipients, record: JSON.parse(line) as OutboxRecord });
    },
    ...over,
  });
  return { ...res, delivered };
}
