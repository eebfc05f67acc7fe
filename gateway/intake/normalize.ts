/**
 * Normalization, pure: CSV cells to the schema's JSON types, and the outbox record (the dataset's
 * fields, provenance in `_source`, the point in WGS84 as `_wgs84`).
 */
import type { FieldType } from './validate.js';

// A decimal number; a decimal comma is accepted in CSV cells (French spreadsheets write 6,1834).
const NUMBER = /^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

/**
 * One CSV row → a record with proper JSON types: empty cells omitted, numeric cells as numbers.
 * A cell that does not look like a number stays a string so the schema reports it precisely.
 */
export function typeCsvCells(columns: readonly string[], cells: readonly string[], types: ReadonlyMap<string, FieldType>): Record<string, unknown> {
  return csvRecordTyper(columns, types)(cells);
}

/** `typeCsvCells` for one file's header: each column's type is looked up once, not per cell. */
export function csvRecordTyper(columns: readonly string[], types: ReadonlyMap<string, FieldType>): (cells: readonly string[]) => Record<string, unknown> {
  const names = [...columns];
  const kinds = names.map((name) => types.get(name));
  return (cells) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) {
      const cell = cells[i];
      if (cell === undefined || cell === '') continue;
      const name = names[i] as string;
      const t = kinds[i];
      if (t === 'integer' && INTEGER.test(cell)) out[name] = Number(cell);
      else if (t === 'number' && NUMBER.test(cell)) out[name] = Number(cell.replace(',', '.'));
      else out[name] = cell;
    }
    return out;
  };
}

export interface Provenance {
  readonly partner: string;
  readonly upload_id: string;
  readonly line: number;
}

export type OutboxRecord = Record<string, unknown> & { _source: Provenance; _wgs84?: [number, number] };

/**
 * The record as delivered to recipients. Takes ownership of `value` (freshly parsed, used by
 * nothing else) and adds the provenance to it in place: copying every record would double the
 * garbage of the hot path.
 */
export function toOutboxRecord(value: Record<string, unknown>, source: Provenance, wgs84: readonly [number, number] | undefined): OutboxRecord {
  const out = value as OutboxRecord;
  out._source = source;
  if (wgs84) out._wgs84 = [wgs84[0], wgs84[1]];
  return out;
}
