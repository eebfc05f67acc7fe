/**
 * Geography for routing: which commune a WGS84 point falls in (simplified outlines, IGN Admin
 * Express via france-geojson, see data/SOURCES.md), and Lambert-93 → WGS84. Loading is the only
 * I/O; lookups are pure and use a bounding-box prefilter so a record costs one or two polygon
 * tests, not twenty.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import { booleanPointInPolygon } from '@turf/boolean-point-in-polygon';
import proj4 from 'proj4';
import { GatewayError } from '../errors.js';
import { dataDir } from '../config/project.js';
import type { Dataset } from '../config/model.js';

export interface CommuneIndex {
  /** INSEE codes that have an outline. */
  readonly codes: ReadonlySet<string>;
  /** The INSEE code of the commune containing (lon, lat), or undefined if none of the outlines does. */
  communeAt(lon: number, lat: number): string | undefined;
  name(insee: string): string | undefined;
}

interface Outline {
  readonly code: string;
  readonly nom: string;
  readonly geometry: Polygon | MultiPolygon;
  readonly bbox: readonly [number, number, number, number]; // minLon, minLat, maxLon, maxLat
}

/** Builds the index from a GeoJSON FeatureCollection whose features have properties {code, nom}. */
export function communeIndex(fc: FeatureCollection): CommuneIndex {
  const outlines: Outline[] = [];
  for (const f of fc.features) {
    const code = f.properties?.code as unknown;
    const g = f.geometry;
    if (typeof code !== 'string' || (g.type !== 'Polygon' && g.type !== 'MultiPolygon')) {
      throw new GatewayError('CONFIG_INVALID', 'contours des communes : chaque élément doit avoir properties.code et un (Multi)Polygon');
    }
    outlines.push({ code, nom: String(f.properties?.nom ?? code), geometry: g, bbox: bboxOf(g) });
  }
  const byCode = new Map(outlines.map((o) => [o.code, o]));
  return Object.freeze({
    codes: new Set(byCode.keys()),
    name: (insee: string) => byCode.get(insee)?.nom,
    communeAt(lon: number, lat: number): string | undefined {
      for (const o of outlines) {
        const [x0, y0, x1, y1] = o.bbox;
        if (lon < x0 || lon > x1 || lat < y0 || lat > y1) continue;
        if (booleanPointInPolygon([lon, lat], o.geometry)) return o.code;
      }
      return undefined;
    },
  });
}

/** Reads the outlines file (default: the project's data/grand-nancy-communes.geojson). */
export async function loadCommuneOutlines(file: string = join(dataDir(), 'grand-nancy-communes.geojson')): Promise<CommuneIndex> {
  let fc: FeatureCollection;
  try {
    fc = JSON.parse(await readFile(file, 'utf8')) as FeatureCollection;
  } catch (e) {
    throw new GatewayError('CONFIG_UNREADABLE', `contours des communes illisibles : ${file}`, { file }, { cause: e });
  }
  return communeIndex(fc);
}

function bboxOf(g: Polygon | MultiPolygon): [number, number, number, number] {
  const b: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
  const rings = g.type === 'Polygon' ? g.coordinates : g.coordinates.flat();
  for (const ring of rings) {
    for (const [lon = NaN, lat = NaN] of ring) {
      b[0] = Math.min(b[0], lon);
      b[1] = Math.min(b[1], lat);
      b[2] = Math.max(b[2], lon);
      b[3] = Math.max(b[3], lat);
    }
  }
  return b;
}

// EPSG:2154 (RGF93 v1 / Lambert-93); RGF93 and WGS84 coincide at this precision.
const EPSG_2154 = '+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 +y_0=6600000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs +type=crs';
const LAMBERT93 = proj4(EPSG_2154, 'WGS84');

/** Lambert-93 metres → [lon, lat] in degrees, rounded to 1e-6° (about 10 cm). */
export function lambert93ToWgs84(x: number, y: number): [number, number] {
  const [lon = NaN, lat = NaN] = LAMBERT93.forward([x, y]);
  return [round6(lon), round6(lat)];
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

/** The record's point in WGS84 [lon, lat], if the dataset has coordinates and the record both of them. */
export function recordPoint(dataset: Dataset, value: Readonly<Record<string, unknown>>): [number, number] | undefined {
  const c = dataset.coordinates;
  if (!c) return undefined;
  const x = value[c.xField];
  const y = value[c.yField];
  if (typeof x !== 'number' || typeof y !== 'number') return undefined;
  return c.crs === 'EPSG:2154' ? lambert93ToWgs84(x, y) : [x, y];
}
