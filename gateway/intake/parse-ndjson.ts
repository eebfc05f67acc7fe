/**
 * NDJSON → records: one JSON value per line, blank lines ignored. The line-length limit is
 * enforced on bytes before decoding (records.ts), so a carried partial line stays bounded.
 */
import type { RawRecord } from './records.js';

/**
 * The first member name that appears twice at the top level of the JSON object `text`, if any.
 * JSON.parse keeps the last value of a repeated name; the partner's system may have meant the
 * first, so such a record is refused, as a CSV header with a repeated column is. Names are
 * decoded (strings skipped, each top-level colon closing a member name) only when the quick
 * count below finds more name-like colons than members.
 */
export function repeatedKey(text: string, value: Record<string, unknown>): string | undefined {
  let members = 0;
  for (const _ in value) members++;
  // Fast check: every member name is a string followed by a colon, so if no more colons than
  // members follow a quote (whitespace aside), no name can be repeated. Colons inside string
  // values rarely follow a quote (times do not): this settles almost every record with
  // native indexOf calls only.
  let quoted = 0;
  for (let i = text.indexOf(':'); i >= 0; i = text.indexOf(':', i + 1)) {
    let b = i - 1;
    while (b > 0 && isSpace(text.charCodeAt(b))) b--;
    if (text.charCodeAt(b) === 0x22) quoted++;
  }
  if (quoted <= members) return undefined;
  // Rare: the names before each top-level colon.
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0, name = ''; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const end = stringEnd(text, i);
      if (depth === 1) name = JSON.parse(text.slice(i, end + 1)) as string;
      i = end;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x3a && depth === 1) {
      if (seen.has(name)) return name;
      seen.add(name);
    }
  }
  return undefined;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** The index of the quote that closes the JSON string opening at `open` (the text parsed: it exists). */
function stringEnd(text: string, open: number): number {
  let q = text.indexOf('"', open + 1);
  for (;;) {
    // Escaped if preceded by an odd number of backslashes.
    let b = q - 1;
    while (text.charCodeAt(b) === 0x5c) b--;
    if ((q - 1 - b) % 2 === 0) return q;
    q = text.indexOf('"', q + 1);
  }
}

/** A record in which a member name appears twice (here and in JSON documents: which value was meant?). */
export function repeatedIssue(name: string): NonNullable<RawRecord['issue']> {
  return { code: 'FORMAT_SYNTAX', field: `/${name}`, message: `le champ « ${name} » apparaît deux fois dans l'enregistrement (lequel est le bon ?)` };
}

/** Yields the records of each decoded chunk as one batch (per-record async steps cost more than the parsing). */
export async function* parseNdjson(text: AsyncIterable<string>): AsyncGenerator<RawRecord[]> {
  let carry = '';
  let line = 0;
  let recordNo = 0;
  const one = (s: string): RawRecord | undefined => {
    line++;
    const body = s.endsWith('\r') ? s.slice(0, -1) : s;
    if (body.trim() === '') return undefined;
    recordNo++;
    let value: Record<string, unknown>;
    try {
      // attacker-controlled text: a syntax error becomes a coded record problem, never a raw throw
      value = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return { line, recordNo, value: {}, issue: { code: 'FORMAT_SYNTAX', field: '', message: 'JSON invalide sur cette ligne' } };
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return { line, recordNo, value };
    const repeated = repeatedKey(body, value);
    if (repeated !== undefined) return { line, recordNo, value: {}, issue: repeatedIssue(repeated) };
    return { line, recordNo, value };
  };
  for await (const chunk of text) {
    const batch: RawRecord[] = [];
    let pos = 0;
    for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', pos)) {
      const r = one(carry === '' ? chunk.slice(pos, nl) : carry + chunk.slice(pos, nl));
      carry = '';
      pos = nl + 1;
      if (r) batch.push(r);
    }
    carry += chunk.slice(pos);
    if (batch.length) yield batch;
  }
  if (carry !== '') {
    const r = one(carry);
    if (r) yield [r];
  }
}
