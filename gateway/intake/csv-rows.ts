/**
 * CSV text → rows of cells, with csv-parse's exact results, faster on the common case.
 *
 * csv-parse examines every byte through its general machinery (about 2.5 µs for a 60-byte row
 * here: more than JSON.parse and ajv together on the same record). Most lines of an export have
 * no quote character, and for a line with no quote and no stray carriage return RFC 4180 leaves
 * nothing to interpret: its cells are the line split on the delimiter, which is what csv-parse
 * returns for it. So such plain lines are split here, and every other record is given whole to
 * one csv-parse parser (same options, record delimiter as found on the first line), which thus
 * starts each of them at a record boundary as it would reading the whole file. A record ends at
 * a line break where the quotes seen since it began are even (a quote inside a quoted cell is
 * doubled; csv-parse refuses any other use of a quote). Its error lines are shifted by the lines
 * it did not see, so they are those it would name had it read the whole file. csv-parse takes
 * over the rest of the file when the first line is not plain, when a record grows past the
 * record limit (its own limit then applies), or at the end of a file that does not end at a
 * record boundary. The file's first plain line fixes the record delimiter, exactly as
 * csv-parse's own discovery would. Measured on a faits-4001 export with one record in eight
 * quoted: 0.30 → 0.37 of the JSON.parse+ajv baseline for the whole check (bench/check.ts).
 * (test/intake/fast-paths.test.ts compares both on generated files, quotes and line ends mixed.)
 */
import { parse, type CsvError } from 'csv-parse';

export interface CsvRowOptions {
  readonly delimiter: string;
  /** csv-parse's max_record_size (a plain line is bounded by the line limit, which is no larger). */
  readonly maxRecordChars: number;
}

type Mode = 'unknown' | '\n' | '\r\n';

/** Lines of empty cells written after a record given to csv-parse: more than its look-ahead. */
const OWN_LINES = 4;

/** Batches of rows (a blank line is ['']). Throws csv-parse's CsvError, `lines` counted from the start of the file. */
export async function* csvRows(text: AsyncIterable<string>, opts: CsvRowOptions): AsyncGenerator<string[][]> {
  let mode: Mode = 'unknown';
  let carry = ''; // the current line, not yet complete
  let pending = ''; // a record that is not plain, until its quotes are closed at a record delimiter
  let quotes = 0; // quotes in `pending`
  let plainLines = 0; // plain lines split here (csv-parse never saw them)
  let parser: ReturnType<typeof parse> | undefined;
  let streaming = false; // csv-parse has taken over the rest of the file
  // csv-parse holds a record's last characters until it sees a few more (up to 3 bytes, for
  // multi-byte trim characters), so a record given to it alone is followed by a few lines of
  // empty cells of our own, whose rows come out right after the record's and are dropped.
  let ownLines = 0; // such empty lines given to csv-parse
  let ownRows = 0; // their empty rows that come out next
  let ownAfter = 0; // and those that come out after the next real row
  // An own line has as many (empty) cells as the first line: csv-parse builds an error object,
  // stack trace included, for every row whose length differs from the first row it read.
  let ownLine = '';
  let out: string[][] = [];

  const csv = (): ReturnType<typeof parse> => {
    if (parser) return parser;
    parser = parse({
      delimiter: opts.delimiter,
      relax_column_count: true,
      max_record_size: opts.maxRecordChars,
      ...(mode === 'unknown' ? {} : { record_delimiter: mode }),
    });
    // Errors are read from `errored` synchronously; the 'error' event is awaited by nobody.
    parser.on('error', () => undefined);
    return parser;
  };
  const take = (row: string[]): void => {
    if (ownRows > 0) {
      ownRows--;
      if (row.every((c) => c === '')) return;
      throw new Error('csvRows: csv-parse did not return the expected empty row'); // a bug here, not a file problem
    }
    out.push(row);
    ownRows = ownAfter;
    ownAfter = 0;
  };
  const write = (s: string): void => {
    const p = csv();
    if (s === '') return;
    p.write(s);
    for (let row = p.read() as string[] | null; row !== null; row = p.read() as string[] | null) take(row);
  };
  /** csv-parse counts lines from where it started; the file's lines are shifted by those it did not see. */
  const shifted = (e: unknown): unknown => {
    const err = e as (CsvError & { lines?: number }) | null | undefined;
    if (err && typeof err.lines === 'number') err.lines += plainLines - ownLines;
    return err;
  };
  const quoted = (record: string): void => {
    ownAfter = OWN_LINES;
    write(record + ownLine.repeat(OWN_LINES));
    if (!parser?.errored) ownLines += OWN_LINES;
  };
  /** Splits the complete lines of `chunk`; returns the text from where csv-parse must take over, if it must. */
  const split = (chunk: string): string | undefined => {
    let pos = 0;
    for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', pos)) {
      const line = carry === '' ? chunk.slice(pos, nl) : carry + chunk.slice(pos, nl);
      carry = '';
      if (mode === 'unknown') mode = line.endsWith('\r') ? '\r\n' : '\n';
      if (pending === '') {
        // Plain: no quote, and no CR but the one of a CRLF ending (in a CRLF file a bare LF is
        // cell content, not a line break).
        const end = mode === '\r\n' ? line.length - 1 : line.length;
        const cr = line.indexOf('\r');
        if (!line.includes('"') && (mode === '\r\n' ? end >= 0 && cr === end : cr < 0)) {
          const cells = (end === line.length ? line : line.slice(0, end)).split(opts.delimiter);
          if (plainLines === 0) ownLine = opts.delimiter.repeat(cells.length - 1) + mode;
          out.push(cells);
          plainLines++;
          pos = nl + 1;
          continue;
        }
        if (plainLines === 0 && !parser) {
          mode = 'unknown'; // the first line: csv-parse finds its own delimiter
          return line + chunk.slice(nl);
        }
      }
      pending += `${line}\n`;
      for (let q = line.indexOf('"'); q >= 0; q = line.indexOf('"', q + 1)) quotes++;
      pos = nl + 1;
      if (quotes % 2 === 0 && (mode === '\n' || line.endsWith('\r'))) {
        const record = pending;
        pending = '';
        quotes = 0;
        quoted(record);
        if (parser?.errored) return undefined;
      } else if (pending.length > opts.maxRecordChars) {
        const rest = pending + chunk.slice(pos);
        pending = '';
        return rest;
      }
    }
    carry += chunk.slice(pos);
    return undefined;
  };

  try {
    for await (const chunk of text) {
      if (streaming) write(chunk);
      else {
        const rest = split(chunk);
        if (rest !== undefined) {
          streaming = true;
          write(rest);
        }
      }
      if (out.length) {
        yield out;
        out = [];
      }
      if (parser?.errored) throw shifted(parser.errored);
    }
  } catch (e) {
    // The rows before an error go on first, as when the file arrives in small chunks.
    if (out.length) yield out;
    throw e;
  }
  // The last line has no line break: split here if plain, else csv-parse reads what is left.
  if (!streaming && (carry !== '' || pending !== '')) {
    if (pending === '' && mode !== 'unknown' && !carry.includes('"') && !carry.includes('\r')) out.push(carry.split(opts.delimiter));
    else write(pending + carry);
  }
  if (parser) {
    const p = parser;
    p.end();
    // csv-parse completes its last row at the end of the input (its flush); its iterator waits for it.
    try {
      for await (const row of p as AsyncIterable<string[]>) take(row);
    } catch (e) {
      if (out.length) yield out;
      throw shifted(e);
    } finally {
      p.destroy();
    }
  }
  if (out.length) yield out;
}
