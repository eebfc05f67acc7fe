import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { lambert93ToWgs84, recordPoint } from '../../gateway/intake/geo.js';
import { decodeText, decodableLength, readRecords, type RawRecord } from '../../gateway/intake/records.js';
import { recordRules, parisDay } from '../../gateway/intake/rules.js';
import { outboxLineWriter, toOutboxRecord, typeCsvCells } from '../../gateway/intake/normalize.js';
import { isGatewayError } from '../../gateway/errors.js';
import { UploadBytes } from '../../gateway/intake/upload-bytes.js';
import { parseCsv } from '../../gateway/intake/parse-csv.js';
import { repeatedKey } from '../../gateway/intake/parse-ndjson.js';
import { Pacer } from '../../gateway/intake/work.js';
import { dataset, interiorPoint, communes, schemas, NOW } from './helpers.js';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
async function* bytes(...parts: (string | number[])[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === 'string' ? Buffer.from(p) : Uint8Array.from(p);
}

describe('lambert93ToWgs84', () => {
  it('maps the projection origin (700000, 6600000) to (3°E, 46.5°N)', () => {
    expect(lambert93ToWgs84(700000, 6600000)).toEqual([3, 46.5]);
  });
  it('brings a Lambert-93 point of Ludres back inside Ludres', () => {
    const [lon, lat] = lambert93ToWgs84(933958, 6840417);
    expect(communes.communeAt(lon, lat)).toBe('54328');
    expect(recordPoint(dataset('faits-4001'), { x: 933958, y: 6840417 })).toEqual([lon, lat]);
    expect(recordPoint(dataset('faits-4001'), { x: 933958 })).toBeUndefined();
  });
  it('finds the commune of interior points and nothing far away', () => {
    for (const code of ['54328', '54304', '54395', '54547']) {
      const [lon, lat] = interiorPoint(code);
      expect(communes.communeAt(lon, lat)).toBe(code);
    }
    expect(communes.communeAt(2.35, 48.85)).toBeUndefined(); // Paris
  });
});

describe('decodeText', () => {
  it('joins a UTF-8 character split across chunks and drops the BOM', async () => {
    const e = Buffer.from('é');
    const text = await collect(decodeText(bytes([0xef, 0xbb, 0xbf, 0x61, e[0] ?? 0], [e[1] ?? 0, 0x0a]), { encoding: 'utf-8', maxLineBytes: 10 }));
    expect(text.join('')).toBe('aé\n');
  });
  it('refuses Windows-1252 bytes with FORMAT_ENCODING naming the line, unless the dataset declares it', async () => {
    const cp1252 = [0x61, 0x0a, 0x62, 0x0a, 0x52, 0xe9, 0x70, 0x0a]; // "a\nb\nRép\n"
    const err = await collect(decodeText(bytes(cp1252), { encoding: 'utf-8', maxLineBytes: undefined })).catch((e: unknown) => e);
    expect(isGatewayError(err, 'FORMAT_ENCODING')).toBe(true);
    expect((err as Error).message).toContain('ligne 3');
    expect((err as Error).message).toContain('Windows-1252');
    expect((await collect(decodeText(bytes(cp1252), { encoding: 'windows-1252', maxLineBytes: undefined }))).join('')).toBe('a\nb\nRép\n');
  });
  it('refuses a truncated sequence at the end of the file', async () => {
    const err = await collect(decodeText(bytes('ok', [0xc3]), { encoding: 'utf-8', maxLineBytes: undefined })).catch((e: unknown) => e);
    expect(isGatewayError(err, 'FORMAT_ENCODING')).toBe(true);
  });
  it('counts line length in bytes, across chunks, without holding the line', async () => {
    const err = await collect(decodeText(bytes('abc\n', 'éé', 'é'), { encoding: 'utf-8', maxLineBytes: 5 })).catch((e: unknown) => e);
    expect(isGatewayError(err, 'FORMAT_LINE_TOO_LONG')).toBe(true);
    expect((err as { detail: { line: number } }).detail.line).toBe(2);
  });
  it('decodableLength finds the byte where TextDecoder fails', () => {
    const none = new Uint8Array(0);
    expect(decodableLength(none, Buffer.from('abc'), 'utf-8')).toBe(3);
    expect(decodableLength(none, Uint8Array.from([0x61, 0xe9, 0x70]), 'utf-8')).toBe(2); // 0x70 cannot continue é
    expect(decodableLength(none, Uint8Array.from([0x61, 0xc0, 0x80]), 'utf-8')).toBe(1); // overlong: C0 never starts a character
    expect(decodableLength(none, Uint8Array.from([0xed, 0xa0, 0x80]), 'utf-8')).toBe(1); // a surrogate
    expect(decodableLength(Uint8Array.from([0xe2, 0x82]), Uint8Array.from([0xac, 0xff]), 'utf-8')).toBe(1); // € finished, then FF
  });
  it('hands on the text before a bad byte or a line too long, the same in any chunking', async () => {
    const cases: [Buffer, number | undefined, { text: string; code: string; line: number }][] = [
      [Buffer.concat([Buffer.from('ab\ncdé\nef'), Buffer.from([0xc3, 0x0a]), Buffer.from('gh\n')]), undefined, { text: 'ab\ncdé\nef', code: 'FORMAT_ENCODING', line: 3 }],
      [Buffer.from('ab\ncd\néfghij\nk\n'), 5, { text: 'ab\ncd\néfgh', code: 'FORMAT_LINE_TOO_LONG', line: 3 }],
      // A 4-byte character left unfinished across several 1-byte pieces, then a byte that cannot continue it.
      [Buffer.concat([Buffer.from('ab\n'), Buffer.from([0xf0, 0x9f, 0x98]), Buffer.from('A\ncd\n')]), undefined, { text: 'ab\n', code: 'FORMAT_ENCODING', line: 2 }],
    ];
    for (const [file, maxLineBytes, expected] of cases) {
      const outcomes = await Promise.all(
        [1, 2, 3, 5, file.length].map(async (size) => {
          const pieces: string[] = [];
          const parts = Array.from({ length: Math.ceil(file.length / size) }, (_, k) => [...file.subarray(k * size, (k + 1) * size)]);
          const err = await (async () => {
            for await (const t of decodeText(bytes(...parts), { encoding: 'utf-8', maxLineBytes })) pieces.push(t);
          })().catch((e: unknown) => e);
          return { text: pieces.join(''), code: (err as { code?: string }).code, line: (err as { detail?: { line?: number } }).detail?.line };
        }),
      );
      expect(outcomes[0]).toEqual(expected);
      for (const o of outcomes) expect(o).toEqual(outcomes[0]);
    }
  });
});

describe('readRecords', () => {
  const read = (id: string, src: AsyncIterable<Uint8Array> | Readable): Promise<RawRecord[]> =>
    collect(readRecords(dataset(id), src, { maxRecords: 100 }, { schema: schemas.get(dataset(id).schema) }));

  it('a space between a closing quote and the delimiter reads the same wherever the pieces are cut', async () => {
    const file = 'reference;date_constat;code_insee;residence;nature\nB-1;2026-03-10;54328;"Les Tilleuls" ;tag\n';
    const cut = file.indexOf('" ;') + 2; // between the space and the delimiter
    const whole = await read('incivilites-bailleur', bytes(file));
    expect(whole.map((r) => r.value.residence)).toEqual(['Les Tilleuls']);
    expect(await read('incivilites-bailleur', bytes(file.slice(0, cut), file.slice(cut)))).toEqual(whole);
  });

  it('reads a Node Readable and gives line and record numbers (NDJSON, blank lines skipped)', async () => {
    const recs = await read('main-courante-pm', Readable.from([Buffer.from('{"id":"a"}\n\n{"id":"b"}\n')]));
    expect(recs.map((r) => [r.recordNo, r.line, r.value.id])).toEqual([[1, 1, 'a'], [2, 3, 'b']]);
  });
  it('types CSV cells from the schema and gives the start line of a multi-line record', async () => {
    const csv = 'id_fait;date_faits;index_4001;code_insee;tentative;adresse;x;y\nA;2026-03-01;27;54328;1;"l1\nl2";933958,5;\n\nB;2026-03-01;7;54328;0;;;\n';
    const recs = await read('faits-4001', bytes(csv));
    expect(recs.map((r) => [r.recordNo, r.line])).toEqual([[1, 2], [2, 5]]);
    expect(recs[0]?.value).toEqual({ id_fait: 'A', date_faits: '2026-03-01', index_4001: 27, code_insee: '54328', tentative: 1, adresse: 'l1\nl2', x: 933958.5 });
  });
  it('streams the records of a JSON document with the line each starts on', async () => {
    const doc = '{"emetteur":"SDIS54",\n "periode":{"debut":"2026-03-01","fin":"2026-03-31"},\n "interventions":[\n  {"numero":"2026-1"},\n  {"numero":\n"2026-2"}]}\n';
    const envelopes: unknown[] = [];
    const recs = await collect(readRecords(dataset('interventions-sdis'), bytes(doc), { maxRecords: 10 }, {
      schema: schemas.get('datasets/interventions-sdis.schema.json'),
      onEnvelope: (env, final) => envelopes.push([final, Object.keys(env)]),
    }));
    expect(recs.map((r) => [r.recordNo, r.line, r.value.numero])).toEqual([[1, 4, '2026-1'], [2, 5, '2026-2']]);
    expect(envelopes).toEqual([[false, ['emetteur', 'periode']], [true, ['emetteur', 'periode']]]);
  });
  it('a member name given twice in a record is refused in NDJSON and in a JSON document (JSON.parse would keep the last)', async () => {
    const nd = await read('main-courante-pm', bytes('{"id":"a","suite":"x"}\n{"id":"b","suite":"x","suite":"y"}\n{"id":"c","n":{"k":1,"k":2}}\n'));
    expect(nd.map((r) => r.issue?.field)).toEqual([undefined, '/suite', undefined]); // nested: a value the closed schema refuses anyway
    expect(nd[1]?.issue?.message).toContain('« suite » apparaît deux fois');
    const doc = '{"emetteur":"SDIS54","interventions":[{"numero":"2026-1"},\n{"numero":"2026-2","nature":"a","nature":"b"},\n{"numero":"2026-3","p":{"x":1,"x":2}}]}';
    const recs = await collect(readRecords(dataset('interventions-sdis'), bytes(doc), { maxRecords: 10 }, { schema: schemas.get(dataset('interventions-sdis').schema) }));
    expect(recs.map((r) => [r.recordNo, r.line, r.issue?.field])).toEqual([[1, 1, undefined], [2, 2, '/nature'], [3, 3, '/x']]);
    const envelope = '{"emetteur":"SDIS54","periode":{"debut":"2026-03-01","debut":"2026-03-02"},"interventions":[]}';
    const err = await collect(readRecords(dataset('interventions-sdis'), bytes(envelope), { maxRecords: 10 }, { schema: schemas.get(dataset('interventions-sdis').schema) })).catch((e: unknown) => e);
    expect(isGatewayError(err, 'FORMAT_SYNTAX') && err.message).toContain('« debut » apparaît deux fois dans « periode »');
  });

  it('repeatedKey: colons and quotes inside strings, nesting, escapes', () => {
    const check = (text: string): string | undefined => repeatedKey(text, JSON.parse(text) as Record<string, unknown>);
    expect(check('{"a":"1:2","b":"x\\":y","c":{"a":1,"b":[{"c":2}]}}')).toBeUndefined();
    expect(check('{"t":"22:10:00","lieu":"rue \\"A\\": 3"}')).toBeUndefined();
    expect(check('{"a":1,"b":2,"a":3}')).toBe('a');
    expect(check('{"a":"x\\":y","a":2}')).toBe('a'); // a quote and colon inside a value, and a repeat
    expect(check('{"a" :1 ,\n "a"\t: 2}')).toBe('a');
    expect(check('{"x:y":1, "x:y" : 2}')).toBe('x:y');
    expect(check('{"\\u0061":1,"a":2}')).toBe('a'); // the same name, escaped
    expect(check('{}')).toBeUndefined();
  });

  it('bounds a single JSON record', async () => {
    const doc = `{"interventions":[{"numero":"${'9'.repeat(2000)}"}]}`;
    const err = await collect(readRecords(dataset('interventions-sdis'), bytes(doc), { maxRecords: 10, maxJsonRecordChars: 1000 }, { schema: schemas.get(dataset('interventions-sdis').schema) })).catch((e: unknown) => e);
    expect(isGatewayError(err, 'FORMAT_LINE_TOO_LONG')).toBe(true);
  });
});

describe('rules', () => {
  const rules = recordRules(dataset('faits-4001'), schemas.get('datasets/faits-4001.schema.json'), NOW);
  it('judges dates by the French calendar day, with 10 minutes of clock skew for date-times', () => {
    expect(parisDay(new Date('2026-06-14T22:30:00Z'))).toBe('2026-06-15'); // 00:30 in Paris
    expect(rules.check({ date_faits: parisDay(NOW) })).toBeUndefined();
    expect(rules.check({ date_faits: '2016-06-15' })).toBeUndefined();
    expect(rules.check({ date_faits: '2016-06-14' })?.message).toContain('10 ans');
    const pm = recordRules(dataset('main-courante-pm'), schemas.get('datasets/main-courante-pm.schema.json'), NOW);
    expect(pm.check({ horodatage: '2026-06-15T12:09:00+02:00' })).toBeUndefined();
    expect(pm.check({ horodatage: '2026-06-15T10:11:00Z' })?.field).toBe('/horodatage');
  });
  it('names swapped coordinates', () => {
    const pm = recordRules(dataset('main-courante-pm'), schemas.get('datasets/main-courante-pm.schema.json'), NOW);
    expect(pm.check({ lon: 48.62, lat: 6.17 })?.message).toContain('inversées');
    expect(pm.check({ lon: 6.17, lat: 48.62 })).toBeUndefined();
  });
  it('typeCsvCells leaves non-numbers as strings for the schema to reject', () => {
    const types = schemas.get('datasets/faits-4001.schema.json').types;
    expect(typeCsvCells(['index_4001', 'x', 'adresse'], ['12a', '1e3', ''], types)).toEqual({ index_4001: '12a', x: 1000 });
  });
});

describe('outboxLineWriter', () => {
  it('writes exactly what JSON.stringify makes of the outbox record, whatever the fields hold', () => {
    const strings = ['', 'a', 'guillemet " et \\ barre', 'ligne\r\nsuite', '\u0000\u001f\u007f', 'é à ç œ', '\u{1F600}', '\ud800 seul', '</script>', '\u2028\u2029'];
    const values: Record<string, unknown>[] = [{}, { id: 'x' }, { '10': 'index-like', b: 1 }];
    strings.forEach((str, i) => values.push({ reference: `R-${i}`, adresse: str, n: i * 1.5, neg: -i, big: 1e21 + i, small: 1e-7 * i, ok: i % 2 === 0, rien: null }));
    const partners: [string, string][] = [['police-nationale', '01m8abc'], ['p"ar\\t', 'u\nid']];
    for (const [partner, uploadId] of partners) {
      const write = outboxLineWriter(partner, uploadId);
      for (const [k, v] of values.entries()) {
        for (const wgs84 of [undefined, [6.17512, 48.6216] as const, [-0.5, 1e-9] as const]) {
          const expected = JSON.stringify(toOutboxRecord({ ...v }, { partner, upload_id: uploadId, line: k + 2 }, wgs84)) + '\n';
          expect(write({ ...v }, k + 2, wgs84)).toBe(expected);
        }
      }
    }
  });
  it('a record with a field of either reserved name keeps that field\'s place, as toOutboxRecord does', () => {
    const write = outboxLineWriter('p', 'u');
    const v = { a: 1, _source: 'x', b: 2 };
    expect(write({ ...v }, 3, [1, 2])).toBe(JSON.stringify(toOutboxRecord({ ...v }, { partner: 'p', upload_id: 'u', line: 3 }, [1, 2])) + '\n');
  });
});

describe('early stop', () => {
  it('a CSV stopped by the record limit does not wait for the rest of a stalled source', async () => {
    let release: () => void = () => undefined;
    const stalled = new Promise<void>((r) => (release = r));
    async function* src(): AsyncGenerator<Uint8Array> {
      // The parser holds a piece's last row until it sees what follows: four rows, so the third is out.
      yield Buffer.from('reference;date_constat;code_insee;residence;nature\nB-1;2026-03-10;54328;R;tag\nB-2;2026-03-10;54328;R;tag\nB-3;2026-03-10;54328;R;tag\nB-4;2026-03-10;54328;R;tag\n');
      await stalled; // the upload has not sent more yet
      yield Buffer.from('B-9;2026-03-10;54328;R;tag\n');
    }
    const err = await collect(readRecords(dataset('incivilites-bailleur'), src(), { maxRecords: 2 }, { schema: schemas.get(dataset('incivilites-bailleur').schema) })).catch((e: unknown) => e);
    expect(isGatewayError(err, 'TOO_MANY_RECORDS')).toBe(true);
    release();
  }, 10_000);
});

describe('Pacer', () => {
  const settledSoon = async (p: Promise<void> | undefined): Promise<boolean> => {
    if (p === undefined) return true;
    let done = false;
    void p.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 10));
    return done;
  };

  it('lets bytes through up to its limit, then waits until the work has taken them down to half', async () => {
    const pacer = new Pacer(1000);
    expect(pacer.add(600)).toBeUndefined();
    expect(pacer.add(400)).toBeUndefined();
    const first = pacer.add(1);
    const second = pacer.add(1);
    expect(first).toBeDefined();
    expect(await settledSoon(first)).toBe(false);
    pacer.take(500); // 502 outstanding: above half
    expect(await settledSoon(first)).toBe(false);
    pacer.take(2); // 500: half
    expect(await settledSoon(first)).toBe(true);
    expect(await settledSoon(second)).toBe(true);
    expect(pacer.pending).toBe(500);
  });

  it('once closed (the work ended or stopped streaming), never holds anything again', async () => {
    const pacer = new Pacer(10);
    const held = pacer.add(100);
    pacer.close();
    expect(await settledSoon(held)).toBe(true);
    expect(pacer.add(1000)).toBeUndefined();
  });
});

describe('UploadBytes', () => {
  it('reports each chunk the consumer takes, refuses pushes past its bound, then reads the rest from the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'upload-bytes-'));
    try {
      const content = Buffer.from('abcdefghijklmnopqrstuvwxyz');
      const path = join(dir, 'staging');
      writeFileSync(path, content);
      const taken: number[] = [];
      const ub = new UploadBytes(10, 1000, (n) => taken.push(n));
      expect(ub.push(content.subarray(0, 4))).toBe(true);
      expect(ub.push(content.subarray(4, 8))).toBe(true);
      expect(ub.push(content.subarray(8, 12))).toBe(false); // 12 > 10 queued: streaming stops
      expect(ub.push(content.subarray(12, 14))).toBe(false);
      ub.finish(path, content.length);
      const out = Buffer.concat(await collect(ub));
      expect(out.equals(content)).toBe(true);
      expect(taken).toEqual([4, 4]);
      expect(ub.readBack).toBe(content.length - 8);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CSV parsing (papaparse core, fed piece by piece)', () => {
  const schema = schemas.get('datasets/faits-4001.schema.json');
  const HEADER = 'id_fait;date_faits;index_4001;code_insee;tentative;adresse;x;y';
  /** The text cut into pieces of `size` characters, as decodeText hands it on. */
  async function* pieces(text: string, size: number): AsyncGenerator<string> {
    for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
  }
  const parse = async (text: string, size: number, maxRecordChars = 1000): Promise<RawRecord[]> =>
    (await collect(parseCsv(pieces(text, size), { delimiter: ';', schema, maxRecordChars }))).flat();
  const failure = (text: string, size: number, maxRecordChars = 1000): Promise<unknown> => parse(text, size, maxRecordChars).catch((e: unknown) => e);

  const tricky = [
    HEADER,
    'A;2026-03-01;27;54328;1;"12 rue ""des"" Lilas; bât B";;',
    'B;2026-03-01;27;54328;0;"sur deux\nlignes";933958;6840417',
    '',
    'C;2026-03-01;27;54328;0;"";;',
    'D;2026-03-01;27;54328;0;rue d"Ars;;',
  ];
  const expected = [
    [2, 'A', '12 rue "des" Lilas; bât B'],
    [3, 'B', 'sur deux\nlignes'],
    [6, 'C', undefined],
    // A quote inside an unquoted cell is a character (papaparse, like most readers).
    [7, 'D', 'rue d"Ars'],
  ];

  it('gives the same records and lines whatever the pieces (LF and CRLF, quotes split anywhere)', async () => {
    for (const eol of ['\n', '\r\n']) {
      const text = tricky.join(eol).replace('deux\nlignes', `deux${eol}lignes`) + eol;
      for (const size of [1, 2, 3, 7, 64, 997, 1 << 20]) {
        const recs = await parse(text, size);
        const want = expected.map(([line, id, adresse]) => [line, id, adresse === 'sur deux\nlignes' ? `sur deux${eol}lignes` : adresse]);
        expect(recs.map((r) => [r.line, r.value['id_fait'], r.value['adresse']]), `eol ${JSON.stringify(eol)}, pieces of ${size}`).toEqual(want);
        expect(recs.every((r) => !r.issue)).toBe(true);
      }
    }
  });

  it('an unclosed quote is FORMAT_SYNTAX at the line where its record starts, after the rows before it', async () => {
    const text = `${HEADER}\nA;2026-03-01;27;54328;1;;;\nB;2026-03-01;27;54328;1;"jamais fermé;;\nC;2026-03-01;27;54328;1;;;\n`;
    for (const size of [5, 1 << 20]) {
      const seen: RawRecord[] = [];
      const err = await (async () => {
        for await (const batch of parseCsv(pieces(text, size), { delimiter: ';', schema, maxRecordChars: 1000 })) seen.push(...batch);
      })().catch((e: unknown) => e);
      expect(isGatewayError(err, 'FORMAT_SYNTAX')).toBe(true);
      expect((err as { detail?: { line?: number } }).detail?.line).toBe(3);
      expect(seen.map((r) => r.value['id_fait'])).toEqual(['A']);
    }
  });

  it('text after a closing quote is FORMAT_SYNTAX', async () => {
    const err = await failure(`${HEADER}\nA;2026-03-01;27;54328;1;"rue"x;;\n`, 1 << 20);
    expect(isGatewayError(err, 'FORMAT_SYNTAX')).toBe(true);
    expect((err as { detail?: { line?: number } }).detail?.line).toBe(2);
  });

  it('a record over the limit is FORMAT_LINE_TOO_LONG, whether it arrives whole or in pieces', async () => {
    const long = `${HEADER}\nA;2026-03-01;27;54328;1;"${'ligne\n'.repeat(300)}";;\n`;
    for (const size of [100, 1 << 20]) {
      const err = await failure(long, size, 1000);
      expect(isGatewayError(err, 'FORMAT_LINE_TOO_LONG'), `pieces of ${size}`).toBe(true);
      expect((err as { detail?: { line?: number } }).detail?.line).toBe(2);
    }
    // An unclosed quote near the start is stopped at the limit, not parsed to the end.
    const open = `${HEADER}\nA;2026-03-01;27;54328;1;"${'x;'.repeat(5000)}`;
    expect(isGatewayError(await failure(open, 256, 1000), 'FORMAT_LINE_TOO_LONG')).toBe(true);
  });
});
