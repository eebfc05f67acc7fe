/**
 * The contract rules JSON Schema cannot express (datasets.md, "Common rules"): coordinate pairs,
 * the date window, the coordinate boxes, unique ids and the SDIS envelope period. Pure: the
 * clock is a parameter. Run after the record matched its schema, so types are known.
 */
import type { Dataset } from '../config/model.js';
import type { CompiledSchema, RecordIssue } from './validate.js';

export const CLOCK_SKEW_MS = 10 * 60 * 1000;
export const MAX_AGE_YEARS = 10;

const BOX = {
  'EPSG:4326': { x: [-5.5, 10], y: [41, 51.5], xName: 'lon', yName: 'lat' },
  'EPSG:2154': { x: [100000, 1300000], y: [6000000, 7200000], xName: 'x', yName: 'y' },
} as const;

export interface RecordRules {
  /** The first rule the (schema-valid) record breaks, or undefined. */
  check(value: Readonly<Record<string, unknown>>): RecordIssue | undefined;
}

/** Builds the rules of `dataset` for a file checked at `now`. */
export function recordRules(dataset: Dataset, schema: CompiledSchema, now: Date): RecordRules {
  const dates = [...schema.formats].filter(([, f]) => f === 'date').map(([k]) => k);
  const dateTimes = [...schema.formats].filter(([, f]) => f === 'date-time').map(([k]) => k);
  const latestDay = parisDay(new Date(now.getTime() + CLOCK_SKEW_MS));
  const today = parisDay(now);
  const earliestDay = `${String(Number(today.slice(0, 4)) - MAX_AGE_YEARS).padStart(4, '0')}${today.slice(4)}`;
  const latest = now.getTime() + CLOCK_SKEW_MS;
  const earliest = Date.parse(`${earliestDay}T00:00:00Z`);
  // A date-time written on day D (any offset: ajv allows at most ±23:59) lies within
  // [D-1 00:00Z, D+2 00:00Z). When that whole span is inside [earliest, latest] the record passes
  // without Date.parse: the check is two string comparisons on the schema-valid "AAAA-MM-JJT…".
  // `safeFrom <= s` ⇔ D ≥ safeFrom; `s < safeUntil` ⇔ D < safeUntil (s begins with D).
  const safeFrom = utcDay(earliest + 2 * DAY_MS);
  const safeUntil = utcDay(latest - 2 * DAY_MS);
  const coords = dataset.coordinates;
  const box = coords ? BOX[coords.crs] : undefined;
  const xField = coords?.xField ?? '';
  const yField = coords?.yField ?? '';

  return {
    check(v) {
      for (let i = 0; i < dates.length; i++) {
        const k = dates[i] as string;
        const d = v[k];
        if (typeof d !== 'string') continue;
        if (d > latestDay) return { field: `/${k}`, message: `« ${k} » est dans le futur` };
        if (d < earliestDay) return { field: `/${k}`, message: `« ${k} » a plus de ${MAX_AGE_YEARS} ans` };
      }
      for (let i = 0; i < dateTimes.length; i++) {
        const k = dateTimes[i] as string;
        const d = v[k];
        if (typeof d !== 'string' || (d >= safeFrom && d < safeUntil)) continue;
        const t = Date.parse(d);
        if (t > latest) return { field: `/${k}`, message: `« ${k} » est dans le futur (au-delà de 10 minutes de décalage d'horloge)` };
        if (t < earliest) return { field: `/${k}`, message: `« ${k} » a plus de ${MAX_AGE_YEARS} ans` };
      }
      if (box) {
        const x = v[xField];
        const y = v[yField];
        if ((x === undefined) !== (y === undefined)) {
          const [has, lacks] = x === undefined ? [yField, xField] : [xField, yField];
          return { field: `/${lacks}`, message: `« ${has} » sans « ${lacks} » : les deux coordonnées vont ensemble (ou aucune)` };
        }
        if (typeof x === 'number' && typeof y === 'number' && !(inRange(x, box.x) && inRange(y, box.y))) return boxIssue(xField, yField, x, y, box);
      }
      return undefined;
    },
  };
}

const DAY_MS = 86_400_000;

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function inRange(n: number, [lo, hi]: readonly [number, number]): boolean {
  return n >= lo && n <= hi;
}

/** The message for a point outside the box (called only then). */
function boxIssue(
  xField: string,
  yField: string,
  x: number,
  y: number,
  box: (typeof BOX)[keyof typeof BOX],
): RecordIssue | undefined {
  const inX = (n: number): boolean => inRange(n, box.x);
  const inY = (n: number): boolean => inRange(n, box.y);
  if (inX(x) && inY(y)) return undefined;
  const field = inX(x) ? `/${yField}` : `/${xField}`;
  const where = `${box.xName} ∈ [${box.x.join(', ')}], ${box.yName} ∈ [${box.y.join(', ')}]`;
  if (inX(y) && inY(x)) return { field, message: `« ${xField} » et « ${yField} » semblent inversées (attendu : ${where})` };
  return { field, message: `coordonnées hors de la France métropolitaine (attendu : ${where} ; mauvais système de coordonnées ?)` };
}

/** The local calendar day in France (dates in exports are French local dates). */
export function parisDay(at: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris', year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/**
 * Identifiers seen in one file; `add` returns false for a repeat. Ids are remembered as 64-bit
 * fingerprints (two seeded 32-bit hashes), 8 bytes per slot instead of a retained string, so
 * memory stays flat in file size: 5 M ids take about 60 MB, not 330 MB. The seeds are random per
 * file, so nobody can aim ids at one slot. A false repeat needs two ids with the same 64-bit
 * fingerprint: below one in a million for 5 M records, and resending draws new seeds.
 *
 * The slots are split over 1024 small open-addressing tables picked by the first hash's top
 * bits, each growing by half on its own once 80 % full: one table doubling at 4 M ids held its
 * old 32 MiB and its new 64 MiB at once, and sat at 47 % full after (256 MiB CSV export,
 * standalone gateway: 73 MiB of its peak RSS). Tables stay under glibc's 128 KiB mmap threshold
 * up to the record limit, so none is a large mapping freed mid-file.
 */
export class UniqueIds {
  private static readonly SHARD_BITS = 10;
  /** Per shard, pairs (a, b); (0, 0) is an empty slot. */
  private readonly shards: Uint32Array[];
  private readonly used: Uint32Array;
  private count = 0;
  private readonly seedA: number;
  private readonly seedB: number;

  constructor() {
    const seeds = crypto.getRandomValues(new Uint32Array(2));
    this.seedA = seeds[0] ?? 0;
    this.seedB = seeds[1] ?? 0;
    const n = 1 << UniqueIds.SHARD_BITS;
    this.shards = Array.from({ length: n }, () => new Uint32Array(2 * 8));
    this.used = new Uint32Array(n);
  }

  get size(): number {
    return this.count;
  }

  add(id: unknown): boolean {
    const s = typeof id === 'string' ? id : String(id);
    let a = this.seedA;
    let b = this.seedB;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ c, 0x5bd1e995);
      a ^= a >>> 15;
      b = Math.imul(b ^ c, 0x27d4eb2d);
      b ^= b >>> 13;
    }
    a = fmix32(a ^ s.length);
    b = fmix32(b ^ Math.imul(s.length, 0x9e3779b1)) || 1; // never (0, 0)
    const k = a >>> (32 - UniqueIds.SHARD_BITS);
    let slots = this.shards[k] as Uint32Array;
    const used = this.used[k] ?? 0;
    if ((used + 1) * 5 > (slots.length / 2) * 4) slots = this.grow(k, slots);
    if (!insert(slots, a, b)) return false;
    this.used[k] = used + 1;
    this.count++;
    return true;
  }

  private grow(k: number, old: Uint32Array): Uint32Array {
    const slots = new Uint32Array(2 * Math.ceil((old.length / 2) * 1.5));
    for (let i = 0; i < old.length; i += 2) {
      const a = old[i] ?? 0;
      const b = old[i + 1] ?? 0;
      if (a !== 0 || b !== 0) insert(slots, a, b);
    }
    this.shards[k] = slots;
    return slots;
  }
}

/**
 * Linear probing from a start drawn from `b` (`a`'s top bits chose the table): false if (a, b)
 * is there already. Table sizes are not powers of two, so the start is `b` scaled to the size.
 */
function insert(slots: Uint32Array, a: number, b: number): boolean {
  const n = slots.length / 2;
  const ua = a >>> 0;
  const ub = b >>> 0;
  for (let i = Math.floor((ub * n) / 4294967296); ; i = i + 1 === n ? 0 : i + 1) {
    const sa = slots[2 * i] ?? 0;
    const sb = slots[2 * i + 1] ?? 0;
    if (sa === 0 && sb === 0) {
      slots[2 * i] = ua;
      slots[2 * i + 1] = ub;
      return true;
    }
    if (sa === ua && sb === ub) return false;
  }
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface Period {
  readonly debut: string;
  readonly fin: string;
}

/** The envelope's period if it has a well-formed one (`periode: {debut, fin}` as dates). */
export function periodOf(envelope: Readonly<Record<string, unknown>>): Period | undefined {
  const p = envelope.periode as Record<string, unknown> | undefined;
  const ok = (s: unknown): s is string => typeof s === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(s);
  return p && ok(p.debut) && ok(p.fin) ? { debut: p.debut, fin: p.fin } : undefined;
}

/** Whether a date-time's own calendar day (as written, in its offset) lies inside the period. */
export function inPeriod(period: Period, dateTime: string): boolean {
  const day = dateTime.slice(0, 10);
  return period.debut <= day && day <= period.fin;
}

export function periodIssue(period: Period, field: string): RecordIssue {
  return { field: `/${field}`, message: `« ${field} » hors de la période du document (${period.debut} → ${period.fin})` };
}
