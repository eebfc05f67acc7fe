/**
 * Throughput of the intake's data side: `checkExport` (decode → parse → validate → rules →
 * route → normalize) on valid exports of the three formats (CSV twice: one record in eight quoted,
 * and none), against the known floor of the job,
 * `JSON.parse` + the compiled ajv validator over NDJSON lines (performance.md: ≈ 1 M records/s).
 * Runs are interleaved (baseline, CSV, NDJSON, JSON, baseline, …); each ratio is the median of
 * the per-run ratios, so load from other processes hits every figure alike: read the ratios, not
 * the rates. Rates per CPU second are given too (steadier on a loaded machine).
 *
 * Run alone with `npx tsx bench/check.ts`, or profile a tsx-free build:
 * `npx tsc -p tsconfig.build.json && node --cpu-prof dist/bench/check.js`.
 * Environment: BENCH_CHECK_RECORDS (default 300 000 per export), BENCH_CHECK_RUNS (default 5),
 * BENCH_CHECK_FORMATS (comma list among csv,csv-plain,ndjson,json; default all), BENCH_CHECK_CHUNK (bytes per
 * source chunk, default 256 KiB), BENCH_CHECK_SYNC=1 (a synchronous onRecord).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { loadConfig } from '../gateway/config/load.js';
import { projectRoot } from '../gateway/config/project.js';
import type { GatewayConfig } from '../gateway/config/model.js';
import { checkExport } from '../gateway/intake/check.js';
import { loadCommuneOutlines, lambert93ToWgs84, type CommuneIndex } from '../gateway/intake/geo.js';
import { SchemaStore } from '../gateway/intake/validate.js';
import { median, round } from './stats.js';

/** Size of the plaintext chunks handed to checkExport (the decryptor's output is of this order). */
const CHUNK = Number(process.env['BENCH_CHECK_CHUNK'] ?? 256 << 10);
const NOW = new Date();
const SYNC_CALLBACK = process.env['BENCH_CHECK_SYNC'] === '1';

interface Export {
  readonly name: string;
  readonly dataset: string;
  readonly partner: string;
  readonly bytes: Buffer;
  readonly records: number;
}

/** Lambert-93 grid points that fall inside a commune of the demo territory, with that commune. */
function pointsInCommunes(communes: CommuneIndex): { x: number; y: number; lon: number; lat: number; insee: string }[] {
  const out: { x: number; y: number; lon: number; lat: number; insee: string }[] = [];
  for (let x = 925000; x <= 945000; x += 1000) {
    for (let y = 6835000; y <= 6855000; y += 1000) {
      const [lon, lat] = lambert93ToWgs84(x, y);
      const insee = communes.communeAt(lon, lat);
      if (insee !== undefined) out.push({ x, y, lon, lat, insee });
    }
  }
  if (out.length === 0) throw new Error('no grid point falls in the commune outlines');
  return out;
}

function makeExports(n: number, communes: CommuneIndex): Export[] {
  const pts = pointsInCommunes(communes);
  const ludres = pts.filter((p) => p.insee === '54328');
  const day = new Date(NOW.getTime() - 5 * 86_400_000).toISOString().slice(0, 10);
  const month = day.slice(0, 7);

  // faits-4001: CSV, ";", every column; half the records with coordinates, one address in 8
  // quoted (csv), or none (csv-plain: what most exporters write when no cell needs quotes).
  const header = 'id_fait;date_faits;heure_faits;index_4001;code_insee;adresse;x;y;tentative\n';
  const csv: string[] = [header];
  const plain: string[] = [header];
  for (let i = 0; i < n; i++) {
    const p = pts[i % pts.length] ?? pts[0];
    const addr = i % 2 === 0 ? `${i % 97} rue Saint-Dizier` : '';
    const xy = i % 2 === 0 ? `${p?.x};${p?.y}` : ';';
    const row = (a: string): string => `PN-${i};${day};21:30;${(i % 90) + 1};${p?.insee};${a};${xy};${i % 2}\n`;
    csv.push(row(i % 8 === 0 ? `"${i % 97} rue de la Paix; bât. ""B"""` : addr));
    plain.push(row(addr));
  }

  // main-courante-pm: NDJSON from Ludres' municipal police, every record in Ludres with a point.
  const cats = ['tapage', 'degradation', 'stationnement_genant', 'rixe', 'ivresse_publique', 'depot_sauvage'];
  const nd: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = ludres[i % ludres.length] ?? ludres[0];
    nd.push(`${JSON.stringify({ id: `PM-${i}`, horodatage: `${day}T22:10:00+01:00`, categorie: cats[i % cats.length], code_insee: '54328', lieu: 'rue de Nancy', lon: p?.lon, lat: p?.lat, suite: 'aucune' })}\n`);
  }

  // interventions-sdis: one JSON document, records without code_insee (found from the point).
  const natures = ['feu_vehicule', 'feu_poubelle', 'feu_vegetation', 'feu_batiment'];
  const js: string[] = [`{"emetteur": "SDIS54", "periode": {"debut": "${month}-01", "fin": "${day}"},\n "interventions": [\n`];
  for (let i = 0; i < n; i++) {
    const p = pts[i % pts.length] ?? pts[0];
    js.push(`  ${JSON.stringify({ numero: `2026-${i}`, date_heure_alerte: `${day}T08:00:00+01:00`, nature: natures[i % natures.length], lon: p?.lon, lat: p?.lat })}${i + 1 < n ? ',' : ''}\n`);
  }
  js.push(' ]\n}\n');

  return [
    { name: 'csv', dataset: 'faits-4001', partner: 'police-nationale', bytes: Buffer.from(csv.join('')), records: n },
    { name: 'csv-plain', dataset: 'faits-4001', partner: 'police-nationale', bytes: Buffer.from(plain.join('')), records: n },
    { name: 'ndjson', dataset: 'main-courante-pm', partner: 'police-municipale-ludres', bytes: Buffer.from(nd.join('')), records: n },
    { name: 'json', dataset: 'interventions-sdis', partner: 'sdis54', bytes: Buffer.from(js.join('')), records: n },
  ];
}

async function* chunks(buf: Buffer): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += CHUNK) yield buf.subarray(i, i + CHUNK);
}

/** checkExport as the pipeline calls it: long-lived tools, each delivered record serialized once. */
async function runCheck(config: GatewayConfig, schemas: SchemaStore, communes: CommuneIndex, e: Export): Promise<Rates> {
  const dataset = config.datasets.get(e.dataset);
  if (!dataset) throw new Error(`no dataset ${e.dataset}`);
  let out = 0;
  const t = start();
  const res = await checkExport({
    config, dataset, partnerId: e.partner, uploadId: '01benchcheck', source: chunks(e.bytes), now: NOW,
    limits: { maxRecords: 10_000_000, maxErrors: 100 }, schemas, communes,
    // async like process.ts's onRecord, whose cost (a promise per record) is part of the path;
    // BENCH_CHECK_SYNC=1 measures a callback that returns a promise only when it must wait.
    onRecord: SYNC_CALLBACK
      ? (recipients, line) => {
        out += line.length * recipients.length;
      }
      : async (recipients, line) => {
        out += line.length * recipients.length;
      },
  });
  const took = await t();
  if (!res.ok || res.accepted !== e.records || out === 0) throw new Error(`${e.name}: ${res.message}`);
  return rates(e.records, took);
}

/** The floor: split the NDJSON into lines, JSON.parse and validate each with the compiled schema. */
async function runBaseline(schemas: SchemaStore, e: Export): Promise<Rates> {
  const schema = schemas.get('datasets/main-courante-pm.schema.json');
  const t = start();
  let ok = 0;
  const text = e.bytes.toString('utf8');
  for (let pos = 0, nl = text.indexOf('\n'); nl >= 0; pos = nl + 1, nl = text.indexOf('\n', pos)) {
    if (schema.check(JSON.parse(text.slice(pos, nl))) === undefined) ok++;
  }
  const took = await t();
  if (ok !== e.records) throw new Error(`baseline: ${ok} valid of ${e.records}`);
  return rates(e.records, took);
}

/**
 * Records per second of wall time, and per second of this process's CPU time: on a machine
 * shared with other work the CPU figure is the steadier one (waiting for a core is not counted).
 */
interface Rates {
  readonly wall: number;
  readonly cpu: number;
  /** Share of the wall time spent in garbage collection pauses. */
  readonly gc: number;
}

interface Took {
  wallMs: number;
  cpuMs: number;
  gcMs: number;
}

function start(): () => Promise<Took> {
  const w = performance.now();
  const c = process.cpuUsage();
  let gcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration;
  });
  gc.observe({ entryTypes: ['gc'] });
  return async () => {
    const d = process.cpuUsage(c);
    const wallMs = performance.now() - w;
    await new Promise((res) => setImmediate(res)); // GC entries are queued, not delivered at once
    for (const entry of gc.takeRecords()) gcMs += entry.duration;
    gc.disconnect();
    return { wallMs, cpuMs: (d.user + d.system) / 1000, gcMs };
  };
}

function rates(records: number, took: Took): Rates {
  return { wall: records / (took.wallMs / 1000), cpu: records / (took.cpuMs / 1000), gc: took.gcMs / took.wallMs };
}

export async function benchCheck(log: (line: string) => void = () => undefined): Promise<Record<string, number>> {
  const n = Number(process.env['BENCH_CHECK_RECORDS'] ?? 300_000);
  const runs = Number(process.env['BENCH_CHECK_RUNS'] ?? 5);
  const formats = (process.env['BENCH_CHECK_FORMATS'] ?? 'csv,csv-plain,ndjson,json').split(',');
  const root = projectRoot();
  const config = await loadConfig(join(root, 'config', 'grand-nancy', 'passerelle.json'), { demo: true, now: NOW });
  const schemas = new SchemaStore();
  const communes = await loadCommuneOutlines();
  const all = makeExports(n, communes);
  const exports = all.filter((e) => formats.includes(e.name));
  const baseSource = all.find((e) => e.name === 'ndjson');
  if (!baseSource) throw new Error('no NDJSON export');
  log(`${n} records per export: ${exports.map((e) => `${e.name} ${round(e.bytes.length / 1e6, 1)} MB`).join(', ')}; ${runs} runs`);

  const samples: Record<string, Rates[]> = { baseline: [] };
  for (let k = 0; k < runs; k++) {
    samples.baseline?.push(await runBaseline(schemas, baseSource));
    for (const e of exports) (samples[e.name] ??= []).push(await runCheck(config, schemas, communes, e));
    const show = (r: Rates | undefined): string => `${Math.round(r?.wall ?? 0)}/s (cpu ${Math.round(r?.cpu ?? 0)}/s, gc ${Math.round(100 * (r?.gc ?? 0))}%)`;
    log(`run ${k + 1}: ${Object.entries(samples).map(([name, s]) => `${name} ${show(s[k])}`).join(', ')}`);
  }
  const med = (name: string, key: keyof Rates): number => median((samples[name] ?? []).map((r) => r[key]));
  // Ratios are taken run by run (against the baseline of the same run), then their median: the
  // load on a shared machine drifts between runs more than within one.
  const ratio = (name: string, key: 'wall' | 'cpu'): number =>
    median((samples[name] ?? []).map((r, k) => r[key] / (samples.baseline?.[k]?.[key] ?? NaN)));
  const out: Record<string, number> = {
    'baseline_records_per_s (JSON.parse+ajv, NDJSON)': Math.round(med('baseline', 'wall')),
    'baseline_records_per_cpu_s': Math.round(med('baseline', 'cpu')),
  };
  for (const e of exports) {
    const wall = med(e.name, 'wall');
    out[`${e.name}_records_per_s`] = Math.round(wall);
    out[`${e.name}_MB_per_s`] = round(((e.bytes.length / e.records) * wall) / 1e6, 1);
    out[`${e.name}_ratio_to_baseline`] = round(ratio(e.name, 'wall'), 3);
    out[`${e.name}_ratio_to_baseline_cpu`] = round(ratio(e.name, 'cpu'), 3);
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const res = await benchCheck((line) => console.log(line));
  console.log(JSON.stringify(res, null, 2));
}
