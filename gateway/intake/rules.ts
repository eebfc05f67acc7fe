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
