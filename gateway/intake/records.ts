/**
 * From plaintext bytes to records: decode (UTF-8, or the dataset's declared encoding), enforce
 * the line-length limit on bytes, then hand the text to the dataset's format parser. Streams
 * throughout: memory is bounded by the line limit (CSV, NDJSON) or the record limit (JSON).
 * Whole-file problems throw a GatewayError; record problems travel with the record (`issue`).
 */
import type { Readable } from 'node:stream';
import { GatewayError } from '../errors.js';
import type { Dataset } from '../config/model.js';
import type { CompiledSchema } from './validate.js';
import { parseCsv } from './parse-csv.js';
import { parseNdjson } from './parse-ndjson.js';
import { parseJsonDocument, type Envelope } from './parse-json.js';

export type ByteSource = AsyncIterable<Uint8Array> | Readable;

export interface RawRecord {
  /** Line of the file where the record starts (1-based). */
  readonly line: number;
  /** Position of the record in the file (1-based, header excluded). */
  readonly recordNo: number;
  /** The record, with its JSON types (CSV cells already converted, empty cells omitted). */
  readonly value: Record<string, unknown>;
  /** A problem found while reading this record (e.g. a CSV row with the wrong number of cells). */
  readonly issue?: { readonly code: 'FORMAT_SYNTAX'; readonly field: string; readonly message: string };
}

export interface ReadLimits {
  readonly maxRecords: number;
  /** Largest single record of a JSON document, in characters (default 1 MiB). */
  readonly maxJsonRecordChars?: number;
}

export interface ReadOptions {
  /** The dataset's compiled record schema: CSV columns are checked and typed against it. */
  readonly schema: CompiledSchema;
  /** JSON documents: called with the envelope (everything but the records) when the records start (final=false) and at the end (final=true). */
  readonly onEnvelope?: (envelope: Envelope, final: boolean) => void;
}

/** The records of a plaintext export of `dataset`, in file order. */
export async function* readRecords(dataset: Dataset, source: ByteSource, limits: ReadLimits, options: ReadOptions): AsyncGenerator<RawRecord> {
  for await (const batch of readRecordBatches(dataset, source, limits, options)) yield* batch;
}

/** The same records in batches (one per decoded chunk): what the pipeline uses, per-record async steps being costly. */
export async function* readRecordBatches(dataset: Dataset, source: ByteSource, limits: ReadLimits, options: ReadOptions): AsyncGenerator<RawRecord[]> {
  const f = dataset.format;
  const maxLineBytes = f.kind === 'json' ? undefined : f.maxLineBytes;
  const encoding = f.kind === 'csv' ? f.encoding : 'utf-8';
  const text = decodeText(source, { encoding, maxLineBytes });
  const batches =
    f.kind === 'csv'
      ? parseCsv(text, { delimiter: f.delimiter, schema: options.schema, maxRecordChars: f.maxLineBytes })
      : f.kind === 'ndjson'
        ? parseNdjson(text)
        : parseJsonDocument(text, { recordsPath: f.recordsPath, maxRecordChars: limits.maxJsonRecordChars ?? 1 << 20, onEnvelope: options.onEnvelope });
  for await (const batch of batches) {
    const last = batch[batch.length - 1];
    if (last && last.recordNo > limits.maxRecords) {
      const over = batch.find((r) => r.recordNo > limits.maxRecords) ?? last;
      throw new GatewayError('TOO_MANY_RECORDS', `le fichier dépasse la limite de ${limits.maxRecords} enregistrements`, { line: over.line, limit: limits.maxRecords });
    }
    yield batch;
  }
}

export interface DecodeOptions {
  readonly encoding: 'utf-8' | 'windows-1252';
  /** Longest line allowed, in bytes (without its line break); undefined: no limit. */
  readonly maxLineBytes: number | undefined;
}

/**
 * Decoded text is handed on in pieces of at most this many bytes, whatever the source's chunk
 * size (the decryptor gives up to 1 MiB): the records parsed from one piece are all alive until
 * the piece is checked, and a smaller batch keeps them in the young generation of the garbage
 * collector instead of being copied and promoted (measured with bench/check.ts).
 */
const PIECE = 16 << 10;

/**
 * Bytes → text chunks. Throws FORMAT_ENCODING (with the line) on invalid UTF-8 and
 * FORMAT_LINE_TOO_LONG. A leading BOM is dropped.
 *
 * Before throwing, the text up to the offending byte is handed on, exactly as if the bytes had
 * come one at a time: what the parsers see before the error, hence the records and errors in
 * the receipt, must not depend on where the network cut the upload (or on `passerelle
 * validate` reading the file in other pieces). test/intake/mutants.test.ts holds this to it.
 */
export async function* decodeText(source: ByteSource, opts: DecodeOptions): AsyncGenerator<string> {
  const decoder = new TextDecoder(opts.encoding, { fatal: true });
  const max = opts.maxLineBytes;
  let line = 1;
  let lineBytes = 0;
  // The last 3 bytes decoded, across pieces however small: they may begin a character.
  let last: Buffer = Buffer.alloc(0);
  for await (const raw of source as AsyncIterable<Uint8Array | string>) {
    const whole = typeof raw === 'string' ? Buffer.from(raw) : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let at = 0; at < whole.length; at += PIECE) {
      const buf = whole.length <= PIECE ? whole : whole.subarray(at, at + PIECE);
      const startLine = line;
      // Count lines on the bytes: exact byte lengths, and the line of any later error. A line
      // over the limit stops the piece at its first byte too many.
      let stop = buf.length;
      let tooLong: GatewayError | undefined;
      for (let pos = 0; ; ) {
        const nl = buf.indexOf(10, pos);
        const end = nl < 0 ? buf.length : nl;
        if (max !== undefined && lineBytes + (end - pos) > max) {
          stop = pos + (max - lineBytes);
          tooLong = lineTooLong(line, max);
          break;
        }
        lineBytes += end - pos;
        if (nl < 0) break;
        line++;
        lineBytes = 0;
        pos = nl + 1;
      }
      const part = stop === buf.length ? buf : buf.subarray(0, stop);
      let text: string;
      try {
        text = decoder.decode(part, { stream: true });
      } catch (e) {
        const held = unfinishedTail(last);
        const ok = decodableLength(held, part, opts.encoding);
        const before = new TextDecoder(opts.encoding).decode(Buffer.concat([held, part.subarray(0, ok)]), { stream: true });
        if (before !== '') yield before;
        throw encodingError(startLine + countNewlines(part, ok), opts.encoding, e);
      }
      last = part.length >= 3 ? part.subarray(part.length - 3) : Buffer.concat([last, part]).subarray(-3);
      if (text !== '') yield text;
      if (tooLong) throw tooLong;
    }
  }
  let rest: string;
  try {
    rest = decoder.decode();
  } catch (e) {
    throw encodingError(line, opts.encoding, e);
  }
  if (rest !== '') yield rest;
}

function lineTooLong(line: number, max: number): GatewayError {
  return new GatewayError('FORMAT_LINE_TOO_LONG', `la ligne ${line} dépasse la longueur maximale de ${max} octets`, { line, limit: max });
}

function encodingError(line: number, encoding: string, cause: unknown): GatewayError {
  const msg =
    encoding === 'utf-8'
      ? `le fichier n'est pas en UTF-8 valide (ligne ${line}) ; s'il a été exporté en Windows-1252 (« ANSI », Excel), réenregistrez-le en UTF-8 — ` +
        `the file is not valid UTF-8 (line ${line}); if it was exported as Windows-1252, save it as UTF-8`
      : `le fichier n'est pas décodable en ${encoding} (ligne ${line})`;
  return new GatewayError('FORMAT_ENCODING', msg, { line, encoding }, { cause });
}

function countNewlines(buf: Buffer, end: number): number {
  let n = 0;
  for (let pos = buf.indexOf(10); pos >= 0 && pos < end; pos = buf.indexOf(10, pos + 1)) n++;
  return n;
}

/** The bytes at the end of `last` that begin a character not finished yet (a streaming decoder holds them). */
function unfinishedTail(last: Buffer): Buffer {
  for (let k = 1; k <= Math.min(3, last.length); k++) {
    const b = last[last.length - k] ?? 0;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const needs = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return needs > k ? last.subarray(last.length - k) : Buffer.alloc(0);
  }
  return Buffer.alloc(0);
}

/**
 * How many bytes of `part` a fresh streaming decoder takes after `tail` without an error: the
 * offset of the byte that makes decoding fail. Only used on the error path; decoding a prefix
 * fails iff it contains that byte, so a binary search finds it with TextDecoder's own rules.
 */
export function decodableLength(tail: Uint8Array, part: Uint8Array, encoding: string): number {
  const fails = (n: number): boolean => {
    const d = new TextDecoder(encoding, { fatal: true });
    try {
      d.decode(tail, { stream: true });
      d.decode(part.subarray(0, n), { stream: true });
      return false;
    } catch {
      return true;
    }
  };
  let lo = 0; // decodes
  let hi = part.length; // fails, unless nothing does
  if (!fails(hi)) return hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (fails(mid)) hi = mid;
    else lo = mid;
  }
  return lo;
}
