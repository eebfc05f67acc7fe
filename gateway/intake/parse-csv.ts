/**
 * CSV (RFC 4180 quoting) → records. The header row is required; its columns may come in any
 * order but must all belong to the contract, and every required column must be there. Cells are
 * converted to the schema's JSON types (see normalize.ts).
 */
import { once } from 'node:events';
import { parse, type CsvError } from 'csv-parse';
import { GatewayError } from '../errors.js';
import type { CompiledSchema } from './validate.js';
import type { RawRecord } from './records.js';
import { typeCsvCells } from './normalize.js';

export interface CsvOptions {
  readonly delimiter: string;
  readonly schema: CompiledSchema;
  readonly maxRecordChars: number;
}

interface CsvItem {
  record: string[];
  info: { lines: number; empty_lines: number };
}

const OTHER_DELIMITERS = [';', ',', '\t', '|'];

export async function* parseCsv(text: AsyncIterable<string>, opts: CsvOptions): AsyncGenerator<RawRecord> {
  const parser = parse({
    delimiter: opts.delimiter,
    info: true,
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: opts.maxRecordChars,
  });
  // Feed the parser from the decoded text; a decoding error becomes the parser's error.
  const stop = new AbortController();
  const feeding = (async () => {
    for await (const chunk of text) if (!parser.write(chunk)) await once(parser, 'drain', { signal: stop.signal });
    parser.end();
  })().catch((e: unknown) => parser.destroy(e as Error));

  let columns: string[] | undefined;
  let recordNo = 0;
  let prevEnd = 0;
  let prevEmpty = 0;
  try {
    for await (const item of parser as AsyncIterable<CsvItem>) {
      const line = prevEnd + 1 + (item.info.empty_lines - prevEmpty);
      prevEnd = item.info.lines;
      prevEmpty = item.info.empty_lines;
      if (columns === undefined) {
        columns = checkHeader(item.record, opts);
        continue;
      }
      recordNo++;
      if (item.record.length !== columns.length) {
        yield {
          line,
          recordNo,
          value: {},
          issue: { code: 'FORMAT_SYNTAX', field: '', message: `${item.record.length} cellules au lieu de ${columns.length} (en-tête)` },
        };
        continue;
      }
      yield { line, recordNo, value: typeCsvCells(columns, item.record, opts.schema.types) };
    }
  } catch (e) {
    throw csvError(e);
  } finally {
    // The consumer may stop early (limit reached, whole-file error): release the feeder too.
    stop.abort();
    parser.destroy();
    await feeding;
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
  const unknown = header.filter((c) => !known.has(c));
  const missing = opts.schema.required.filter((c) => !header.includes(c));
  const dup = header.filter((c, i) => header.indexOf(c) !== i);
  const parts: string[] = [];
  if (unknown.length) parts.push(`colonnes non prévues par le contrat : ${unknown.join(', ')}`);
  if (missing.length) parts.push(`colonnes obligatoires absentes : ${missing.join(', ')}`);
  if (dup.length) parts.push(`colonnes en double : ${dup.join(', ')}`);
  if (parts.length) {
    throw new GatewayError('FORMAT_HEADER', `en-tête invalide (séparateur « ${d} ») — ${parts.join(' ; ')}`, { line: 1, unknown, missing, duplicate: dup });
  }
  return header;
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
