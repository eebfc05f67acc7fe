/**
 * Audit export formats, pure: one line per entry. CSV cells that a spreadsheet would read as a
 * formula (=, +, -, @, tab, CR) are prefixed with an apostrophe (CSV injection), every cell is
 * quoted.
 */
import type { AuditEntryView } from './data.js';

export type ExportFormat = 'csv' | 'ndjson';

export const CSV_HEADER = ['index', 'time', 'type', 'actor', 'actor_kind', 'source', 'outcome', 'refs', 'details', 'leaf_hash'];

export function csvCell(v: string): string {
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return `"${s.replace(/"/g, '""')}"`;
}

export function csvLine(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

export function entryCsv(e: AuditEntryView): string {
  return csvLine([String(e.index), e.time, e.type, e.actor.id, e.actor.kind, e.actor.source ?? '', e.outcome, JSON.stringify(e.refs), JSON.stringify(e.details), e.leafHash]);
}

export function entryNdjson(e: AuditEntryView): string {
  return `${JSON.stringify(e)}\n`;
}
