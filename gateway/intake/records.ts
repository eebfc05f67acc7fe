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

/** Bytes → text chunks. Throws FORMAT_ENCODING (with the line) on invalid UTF-8 and FORMAT_LINE_TOO_LONG. A leading BOM is dropped. */
export async function* decodeText(source: ByteSource, opts: DecodeOptions): AsyncGenerator<string> {
  const decoder = new TextDecoder(opts.encoding, { fatal: true });
  const max = opts.maxLineBytes;
  let line = 1;
  let lineBytes = 0;
  let prev: Buffer | undefined; // the previous piece: it may end inside a character
  for await (const raw of source as AsyncIterable<Uint8Array | string>) {
    const whole = typeof raw === 'string' ? Buffer.from(raw) : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let at = 0; at < whole.length; at += PIECE) {
      const buf = whole.length <= PIECE ? whole : whole.subarray(at, at + PIECE);
      const startLine = line;
      // Count lines on the bytes: exact byte lengths, and the line of any later error.
      for (let pos = 0; ; ) {
        const nl = buf.indexOf(10, pos);
        lineBytes += (nl < 0 ? buf.length : nl) - pos;
        if (max !== undefined && lineBytes > max) throw lineTooLong(line, max);
        if (nl < 0) break;
        line++;
        lineBytes = 0;
        pos = nl + 1;
      }
      let text: string;
      try {
        text = decoder.decode(buf, { stream: true });
      } catch (e) {
        throw encodingError(startLine + countNewlines(buf, invalidAt(prev, buf)), opts.encoding, e);
      }
      prev = buf;
      if (text !== '') yield text;
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

/** Offset in `buf` of its first invalid byte, reading on from a character `prev` may have begun. */
function invalidAt(prev: Buffer | undefined, buf: Buffer): number {
  if (!prev) return firstInvalidUtf8(buf);
  let from = Math.max(0, prev.length - 3);
  while (from < prev.length && ((prev[from] ?? 0) & 0xc0) === 0x80) from++;
  const tail = prev.subarray(from);
  return Math.max(0, firstInvalidUtf8(Buffer.concat([tail, buf])) - tail.length);
}

/** Offset of the first byte that cannot start or continue a valid UTF-8 sequence (buf.length if none). Only used to locate an error. */
export function firstInvalidUtf8(buf: Uint8Array): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i] ?? 0;
    const n = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) {
      if (i + k >= buf.length) return buf.length; // truncated at the chunk's end: the next chunk may complete it
      if (((buf[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    }
    i += n + 1;
  }
  return buf.length;
}
