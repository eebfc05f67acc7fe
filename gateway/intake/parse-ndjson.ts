/**
 * NDJSON → records: one JSON value per line, blank lines ignored. The line-length limit is
 * enforced on bytes before decoding (records.ts), so a carried partial line stays bounded.
 */
import type { RawRecord } from './records.js';

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
    try {
      // attacker-controlled text: a syntax error becomes a coded record problem, never a raw throw
      return { line, recordNo, value: JSON.parse(body) as Record<string, unknown> };
    } catch {
      return { line, recordNo, value: {}, issue: { code: 'FORMAT_SYNTAX', field: '', message: 'JSON invalide sur cette ligne' } };
    }
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
