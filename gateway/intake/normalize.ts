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

/**
 * The outbox line of each record of one upload: exactly
 * `JSON.stringify(toOutboxRecord(value, source, wgs84)) + '\n'`, made faster. The provenance is
 * the same partner and upload for every record of a file: its text is made once, and only the
 * record's own fields go through JSON.stringify. Building and stringifying a provenance object
 * per record was more than half of the serialization (faits-4001 records: 1.3 µs → 0.6 µs).
 */
export function outboxLineWriter(partner: string, uploadId: string): (value: Record<string, unknown>, line: number, wgs84: readonly [number, number] | undefined) => string {
  const source = `"_source":{"partner":${JSON.stringify(partner)},"upload_id":${JSON.stringify(uploadId)},"line":`;
  return (value, line, wgs84) => {
    // A record carrying either name itself (closed schemas do not let one through) would keep
    // its own key's place: the slow way gives exactly that.
    if ('_source' in value || '_wgs84' in value) return JSON.stringify(toOutboxRecord(value, { partner, upload_id: uploadId, line }, wgs84)) + '\n';
    const fields = JSON.stringify(value);
    const point = wgs84 ? `,"_wgs84":${JSON.stringify([wgs84[0], wgs84[1]])}` : '';
    return `${fields.slice(0, -1)}${fields.length > 2 ? ',' : ''}${source}${line}}${point}}\n`;
  };
}
