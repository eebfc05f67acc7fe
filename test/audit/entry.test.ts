import { describe, it, expect } from 'vitest';
import { randomBytes } from 'node:crypto';
import { canonicalBytes, canonicalJson, entryJson, entryLeafHash, makeEntry, parseEntry, purgedEntry } from '../../gateway/audit/entry.js';
import { isGatewayError } from '../../gateway/errors.js';

const t = new Date('2026-11-28T18:00:00.123Z');

describe('canonical entry bytes', () => {
  it('is JCS: sorted keys, no whitespace, UTF-8, absent values omitted', () => {
    const e = makeEntry(7, t, {
      type: 'delivery.downloaded',
      outcome: 'success',
      actor: { kind: 'recipient', id: 'vandoeuvre-lès-nancy', source: '127.0.0.1:2222' },
      details: { z: 1, a: 'é"\n', b: null, c: true, f: 0.5 },
      refs: { uploadId: 'u1', deliveryId: 'd1' },
    });
    expect(canonicalBytes(e).toString('utf8')).toBe(
      '{"actor":{"id":"vandoeuvre-lès-nancy","kind":"recipient","source":"127.0.0.1:2222"},"details":{"a":"é\\"\\n","b":null,"c":true,"f":0.5,"z":1},'
      + '"outcome":"success","refs":{"deliveryId":"d1","uploadId":"u1"},"seq":7,"time":"2026-11-28T18:00:00.123Z","type":"delivery.downloaded"}',
    );
    expect(entryLeafHash(e).toString('hex')).toBe(entryLeafHash(parseEntry(canonicalJson(e))).toString('hex'));
  });

  it('hashes the same entry the same whatever the key order of the event', () => {
    const a = makeEntry(1, t, { type: 'x.y', outcome: 'info', actor: { id: 'g', kind: 'gateway' }, details: { a: 1, b: 2 } });
    const b = makeEntry(1, t, { details: { b: 2, a: 1 }, actor: { kind: 'gateway', id: 'g' }, outcome: 'info', type: 'x.y' });
    expect(entryLeafHash(a).equals(entryLeafHash(b))).toBe(true);
    expect(canonicalJson(a)).toContain('"refs":{}');
  });

  it('purges actor, refs and details and keeps the rest', () => {
    const e = makeEntry(3, t, { type: 'ssh.auth', outcome: 'failure', actor: { id: 'p', kind: 'partner' } });
    expect(canonicalJson(purgedEntry(e))).toBe('{"actor":null,"details":null,"outcome":"failure","refs":null,"seq":3,"time":"2026-11-28T18:00:00.123Z","type":"ssh.auth"}');
  });

  it.each([
    ['unknown field', '{"seq":1,"time":"2026-11-28T18:00:00.123Z","type":"a","actor":null,"outcome":"info","refs":null,"details":null,"x":1}'],
    ['bad time', '{"seq":1,"time":"2026-11-28","type":"a","actor":null,"outcome":"info","refs":null,"details":null}'],
    ['negative seq', '{"seq":-1,"time":"2026-11-28T18:00:00.123Z","type":"a","actor":null,"outcome":"info","refs":null,"details":null}'],
    ['nested detail', '{"seq":1,"time":"2026-11-28T18:00:00.123Z","type":"a","actor":null,"outcome":"info","refs":null,"details":{"a":{}}}'],
    ['bad outcome', '{"seq":1,"time":"2026-11-28T18:00:00.123Z","type":"a","actor":null,"outcome":"ok","refs":null,"details":null}'],
    ['not JSON', '{'],
  ])('refuses entry text with %s', (_n, text) => {
    expect(() => parseEntry(text)).toThrow(expect.objectContaining({ code: 'AUDIT_ENTRY_MISMATCH' }) as Error);
  });

  it('the fast entry serializer agrees with the generic JCS one on random entries', () => {
    const pick = <T>(xs: readonly T[]): T => xs[randomBytes(1)[0]! % xs.length]!;
    const words = ['a', 'Z', 'é', '\u2028', '"', '\\', '\n', '\u0000', 'seq', 'refs', '😀', '\ud800', 'αβ', '10', '-', ''];
    const word = (): string => Array.from({ length: 1 + (randomBytes(1)[0]! % 4) }, () => pick(words)).join('');
    const value = (): string | number | boolean | null => pick([word(), randomBytes(2).readInt16BE() / 7, true, false, null, 1e21, -0, 0.1]);
    for (let i = 0; i < 500; i++) {
      const details = Object.fromEntries(Array.from({ length: randomBytes(1)[0]! % 6 }, () => [word(), value()]));
      const refs = Object.fromEntries(Array.from({ length: randomBytes(1)[0]! % 4 }, () => [word(), word()]));
      const source = pick([undefined, '127.0.0.1:22', word()]);
      const e = makeEntry(i, t, { type: pick(['a', 'ssh.auth', 'x-y.z_1']), outcome: pick(['success', 'failure', 'info'] as const), actor: { id: word(), kind: 'partner', ...(source === undefined ? {} : { source }) }, refs, details });
      expect(entryJson(e)).toBe(canonicalJson(e));
      expect(entryJson(purgedEntry(e))).toBe(canonicalJson(purgedEntry(e)));
    }
  });

  it('refuses events it could not represent canonically', () => {
    const bad = (f: () => unknown): boolean => {
      try {
        f();
        return false;
      } catch (e) {
        return isGatewayError(e, 'AUDIT_ENTRY_MISMATCH');
      }
    };
    expect(bad(() => makeEntry(0, t, { type: 'a', outcome: 'info', actor: { id: 'g', kind: 'gateway' }, details: { n: Number.NaN } }))).toBe(true);
    expect(bad(() => makeEntry(0, t, { type: 'A B', outcome: 'info', actor: { id: 'g', kind: 'gateway' } }))).toBe(true);
  });
});
