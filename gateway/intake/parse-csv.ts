/**
 * CSV (RFC 4180 quoting) → records. The header row is required; its columns may come in any
 * order but must all belong to the contract, and every required column must be there. Cells are
 * converted to the schema's JSON types (see normalize.ts).
 */
import { parse, type CsvError } from 'csv-parse';
import { GatewayError } from '../errors.js';
import type { CompiledSchema } from './validate.js';
import type { RawRecord } from './records.js';
import { csvRecordTyper } from './normalize.js';

export interface CsvOptions {
  readonly delimiter: string;
  readonly schema: CompiledSchema;
  readonly maxRecordChars: number;
}


const OTHER_DELIMITERS = [';', ',', '\t', '|'];

export async function* parseCsv(text: AsyncIterable<string>, opts: CsvOptions): AsyncGenerator<RawRecord[]> {
  const parser = parse({
    delimiter: opts.delimiter,
    // Lines are counted here, not with csv-parse's `info` (a snapshot object per record costs
    // more than the parsing): blank lines come through as [''] and quoted line breaks are
    // counted in the cells.
    relax_column_count: true,
    max_record_size: opts.maxRecordChars,
  });
  // The parser is driven synchronously, one text piece at a time: write() runs csv-parse on the
  // piece at once and read() takes the rows it made, so a piece's rows go on as one batch. (Its
  // async iterator costs several promises per row, more than csv-parse's own work.) A parse
  // error shows synchronously in `errored`; the 'error' event it also emits is awaited by nobody.
  parser.on('error', () => undefined);

  let columns: string[] | undefined;
  let typed: ((cells: readonly string[]) => Record<string, unknown>) | undefined;
  let recordNo = 0;
  let line = 1;
  let batch: RawRecord[] = [];
  const row = (cells: string[]): void => {
    const start = line;
    line += 1 + breaksIn(cells);
    if (cells.length === 1 && cells[0] === '') return; // blank line
    if (columns === undefined || typed === undefined) {
      columns = checkHeader(cells, opts);
      typed = csvRecordTyper(columns, opts.schema.types);
      return;
    }
    recordNo++;
    if (cells.length !== columns.length) {
      batch.push({
        line: start,
        recordNo,
        value: {},
        issue: { code: 'FORMAT_SYNTAX', field: '', message: `${cells.length} cellules au lieu de ${columns.length} (en-tête)` },
      });
      return;
    }
    batch.push({ line: start, recordNo, value: typed(cells) });
  };
  const take = (): RawRecord[] => {
    for (let cells = parser.read() as string[] | null; cells !== null; cells = parser.read() as string[] | null) row(cells);
    const out = batch;
    batch = [];
    return out;
  };

  try {
    for await (const chunk of text) {
      parser.write(chunk);
      const rows = take();
      // The rows before a syntax error are checked first, as when the file arrives in small chunks.
      if (rows.length) yield rows;
      if (parser.errored) throw parser.errored;
    }
    // The last row is only complete at the end of the input; the stream's own iterator waits for
    // the end (csv-parse's flush) and reports a final error (an unclosed quote).
    parser.end();
    for await (const cells of parser as AsyncIterable<string[]>) {
      row(cells);
      if (batch.length >= 256) yield take();
    }
    if (batch.length) yield take();
  } catch (e) {
    throw csvError(e);
  } finally {
    parser.destroy();
  }
  if (columns === undefined) throw new GatewayError('FORMAT_HEADER', 'fichier vide : la ligne d\'en-tête est obligatoire', { line: 1 });
}

/** Returns the header's columns, or throws FORMAT_HEADER naming what is wrong. */
function checkHeader(header: string[], opts: CsvOptions): string[] {
  const known = new Set(opts.schema.fields);
  const d = opts.delimiter === '\t' ? 'tabulation' : opts.delimiter;
  if (header.length === 1) {
    const other = OTHER_DELIMITERS.find((c) => c !== opts.delimiter && (header[0] ?? '').includes(c));
    if (other !== undefined) {
      throw new GatewayError(
        'FORMAT_HEADER',
        `séparateur incorrect : ce jeu de données attend « ${d} », l'en-tête semble utiliser « ${other === '\t' ? 'tabulation' : other} »`,
        { line: 1, expected: opts.delimiter, found: other },
      );
    }
  }
  if (!header.some((c) => known.has(c))) {
    // Probably a data row: say so without echoing its cells (they may be personal data).
    throw new GatewayError('FORMAT_HEADER', `ligne d'en-tête absente : la première ligne ne contient aucune colonne du contrat (séparateur attendu « ${d} »)`, { line: 1 });
  }
  const unknown = header.filter((c) => !known.has(c)).map(shown);
  const missing = opts.schema.required.filter((c) => !header.includes(c));
  const dup = header.filter((c, i) => header.indexOf(c) !== i).map(shown);
  const parts: string[] = [];
  if (unknown.length) parts.push(`colonnes non prévues par le contrat : ${unknown.join(', ')}`);
  if (missing.length) parts.push(`colonnes obligatoires absentes : ${missing.join(', ')}`);
  if (dup.length) parts.push(`colonnes en double : ${dup.join(', ')}`);
  if (parts.length) {
    throw new GatewayError('FORMAT_HEADER', `en-tête invalide (séparateur « ${d} ») — ${parts.join(' ; ')}`, { line: 1, unknown, missing, duplicate: dup });
  }
  return header;
}

/** A header cell as named in a message: bounded, control characters removed. */
function shown(c: string): string {
  const clean = [...c].map((ch) => (ch < ' ' || ch === '\u007f' ? '?' : ch)).join('');
  return clean.length > 40 ? `${clean.slice(0, 40)}…` : clean;
}

/** Line breaks inside quoted cells (a record spanning several lines). */
function breaksIn(cells: readonly string[]): number {
  let n = 0;
  for (const c of cells) for (let i = c.indexOf('\n'); i >= 0; i = c.indexOf('\n', i + 1)) n++;
  return n;
}

function csvError(e: unknown): unknown {
  if (e instanceof GatewayError) return e;
  const err = e as Partial<CsvError> & { lines?: number };
  if (typeof err.code === 'string') {
    const line = err.lines ?? 0;
    if (err.code === 'CSV_MAX_RECORD_SIZE') {
      return new GatewayError('FORMAT_LINE_TOO_LONG', `l'enregistrement qui se termine ligne ${line} dépasse la longueur maximale`, { line }, { cause: e });
    }
    return new GatewayError('FORMAT_SYNTAX', `CSV illisible ligne ${line} (guillemets RFC 4180 : ${err.code})`, { line, csv: err.code }, { cause: e });
  }
  return e;
}
