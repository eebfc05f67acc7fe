/**
 * CSV (RFC 4180 quoting) → records. The header row is required; its columns may come in any
 * order but must all belong to the contract, and every required column must be there. Cells are
 * converted to the schema's JSON types (see normalize.ts).
 *
 * Parsed by papaparse's parser core, fed one text piece at a time: it turns a piece into rows
 * and says where the unfinished last row starts, which is kept and parsed again with the next
 * piece (what papaparse's own chunked reading does; `Papa.Parser` is exported and typed but not
 * in its guide, so the version is pinned and test/intake covers it). It replaced csv-parse,
 * whose byte-by-byte loop and per-cell conversions were a quarter of the intake thread's time:
 * 5× faster on our exports (a piece without any quote is split on line breaks and delimiters).
 * Its errors (an unclosed quote at the end, text after a closing quote) are turned into
 * FORMAT_SYNTAX; a quote inside an unquoted cell is kept as a character, as most readers do.
 */
import Papa from 'papaparse';
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

/** What `Papa.Parser.parse` returns (its typings say `any`). */
interface PapaResult {
  readonly data: string[][];
  readonly errors: readonly { readonly code: string; readonly row: number }[];
  readonly meta: { readonly cursor: number };
}

/** The line break of the file, from its first one (as CSV readers detect it); undefined until one is seen. */
function lineBreakOf(text: string): '\n' | '\r\n' | '\r' | undefined {
  const i = text.search(/[\r\n]/);
  if (i < 0) return undefined;
  if (text[i] === '\n') return '\n';
  if (i + 1 === text.length) return undefined; // a CR at the end of the piece: wait for the next
  return text[i + 1] === '\n' ? '\r\n' : '\r';
}

export async function* parseCsv(text: AsyncIterable<string>, opts: CsvOptions): AsyncGenerator<RawRecord[]> {
  let parser: Papa.Parser | undefined;
  /** Text not parsed into complete rows yet (the unfinished last row), and how much came before it. */
  let tail = '';
  let base = 0;
  let columns: string[] | undefined;
  let typed: ((cells: readonly string[]) => Record<string, unknown>) | undefined;
  let recordNo = 0;
  let line = 1;
  let batch: RawRecord[] = [];
  /** The error that ends the file, thrown once the rows before it were handed on. */
  let pending: GatewayError | undefined;
  const row = (cells: string[]): void => {
    const start = line;
    const breaks = breaksIn(cells);
    // A row without line breaks is bounded by the line length limit (records.ts); one with
    // quoted line breaks is bounded here.
    if (breaks > 0 && cells.reduce((n, c) => n + c.length + 1, 0) > opts.maxRecordChars) {
      pending = tooLong(start);
      return;
    }
    line += 1 + breaks;
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
  /** Parses `tail` + `piece`; the rows before a syntax error are checked first, then it throws. */
  const feed = (piece: string, last: boolean): RawRecord[] => {
    const input = tail.length > 0 ? tail + piece : piece;
    if (parser === undefined) {
      const newline = lineBreakOf(input) ?? (last ? '\n' : undefined);
      if (newline === undefined) {
        tail = input;
        if (tail.length > opts.maxRecordChars) throw tooLong(line);
        return [];
      }
      parser = new Papa.Parser({ delimiter: opts.delimiter, newline, quoteChar: '"' });
    }
    const r = parser.parse(input, base, !last) as PapaResult;
    // An error in the unfinished last row (held back, parsed again with the next piece) is not
    // one yet: papaparse calls `"a" ,` malformed when the piece ends between the space and the
    // comma. Whether the file is refused must not depend on where the pieces were cut.
    const failure = r.errors.find((e) => last || e.row < r.data.length);
    const rows = failure === undefined ? r.data.length : Math.min(failure.row, r.data.length);
    for (let i = 0; i < rows && !pending; i++) row(r.data[i] as string[]);
    const out = batch;
    batch = [];
    if (pending) return out;
    if (failure !== undefined) {
      const what = failure.code === 'MissingQuotes' ? 'guillemet ouvrant jamais fermé' : 'texte après un guillemet fermant';
      pending = new GatewayError('FORMAT_SYNTAX', `CSV illisible ligne ${line} (guillemets RFC 4180 : ${what})`, { line, csv: failure.code });
      return out;
    }
    tail = input.substring(r.meta.cursor - base);
    base = r.meta.cursor;
    // An unfinished row longer than a record may be: an unclosed quote, or no line breaks at all.
    if (!last && tail.length > opts.maxRecordChars) pending = tooLong(line);
    return out;
  };

  for await (const chunk of text) {
    const rows = feed(chunk, false);
    if (rows.length) yield rows;
    if (pending) throw pending;
  }
  const rows = feed('', true);
  if (rows.length) yield rows;
  if (pending) throw pending;
  if (columns === undefined) throw new GatewayError('FORMAT_HEADER', 'fichier vide : la ligne d\'en-tête est obligatoire', { line: 1 });
}

function tooLong(line: number): GatewayError {
  return new GatewayError('FORMAT_LINE_TOO_LONG', `l'enregistrement qui commence ligne ${line} dépasse la longueur maximale`, { line });
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
