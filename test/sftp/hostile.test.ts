/**
 * The hostile path corpus (test/vectors/paths/hostile.txt) sent through a running gateway:
 * with the ssh2 client (exact bytes, every operation) and with OpenSSH sftp -b. Nothing
 * escapes: no file appears, changes or disappears outside staging, no other party's file is
 * read or touched, and the refusal codes are the ones the corpus expects.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMUNE, DS, OTHER_COMMUNE, OTHER_PARTNER, PARTNER, p, publish, sftpBatch, snapshot, ssh2Sftp, startGateway, writeReceipt, type Gateway } from './harness.js';

const STATUS: Record<string, number> = { PATH_NOT_FOUND: 2, PATH_INVALID: 3, PERMISSION_DENIED: 3 };

const corpus = readFileSync(fileURLToPath(new URL('../vectors/paths/hostile.txt', import.meta.url)), 'utf8')
  .split('\n')
  .filter((l) => l !== '' && !l.startsWith('#'))
  .map((l) => {
    const [expect, json] = l.split('\t');
    return { expect: expect ?? '', path: JSON.parse(json ?? '""') as string };
  });

let gw: Gateway;
let before: Map<string, string>;
beforeAll(async () => {
  gw = await startGateway();
  // Other parties' files, which no hostile path may read or touch.
  publish(gw, OTHER_COMMUNE, DS, 'nancy-only.ndjson.pgp', 'secret of nancy');
  publish(gw, COMMUNE, DS, 'ludres-own.ndjson.pgp', 'ludres data');
  writeReceipt(gw, OTHER_PARTNER, '01jdzzzzzzzzzzzzzzzzzzzzzz.json', '{"other":true}');
  writeReceipt(gw, PARTNER, '01jdyyyyyyyyyyyyyyyyyyyyyy.json', '{"mine":true}');
  before = snapshot(gw.layout.root);
});
afterAll(async () => {
  await gw.close();
});

async function outcome(promise: Promise<unknown>): Promise<number | 'ok'> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

describe('hostile paths through the ssh2 client', () => {
  it('as a partner: every write is refused with the expected status; nothing else succeeds outside its tree', async () => {
    const { sftp, client } = await ssh2Sftp(gw, PARTNER);
    try {
      for (const { path, expect: code } of corpus) {
        expect(await outcome(p.open(sftp, path, 'w')), path).toBe(STATUS[code]);
        expect(await outcome(p.open(sftp, path, 'r')), path).not.toBe('ok');
        expect(await outcome(p.unlink(sftp, path)), path).not.toBe('ok');
        expect(await outcome(p.mkdir(sftp, path)), path).not.toBe('ok');
        expect(await outcome(p.symlink(sftp, '/etc/passwd', path)), path).not.toBe('ok');
        expect(await outcome(p.rename(sftp, path, `/inbox/${DS}/renamed.pgp`)), path).not.toBe('ok');
        const st = await outcome(p.stat(sftp, path));
        if (st === 'ok') expect(['/inbox/faits-4001', '/inbox', '/'].includes((await p.realpath(sftp, path)).replace(/\/$/, '') || '/'), path).toBe(true);
      }
    } finally {
      client.end();
    }
    expect(gw.intake.opened).toHaveLength(0);
    expect(snapshot(gw.layout.root)).toEqual(before);
  });

  it('as a commune: nothing readable or writable but its own outbox', async () => {
    const { sftp, client } = await ssh2Sftp(gw, COMMUNE);
    try {
      for (const { path } of corpus) {
        expect(await outcome(p.open(sftp, path, 'w')), path).not.toBe('ok');
        expect(await outcome(p.open(sftp, path, 'r')), path).not.toBe('ok');
        expect(await outcome(p.unlink(sftp, path)), path).not.toBe('ok');
      }
      // The other commune's delivery, by every spelling.
      for (const path of [`/outbox/${DS}/../../outbox/${DS}/nancy-only.ndjson.pgp`, `/outbox/nancy/${DS}/nancy-only.ndjson.pgp`, `/../nancy/${DS}/nancy-only.ndjson.pgp`, `/outbox/${DS}/nancy-only.ndjson.pgp`]) {
        expect(await outcome(p.open(sftp, path, 'r')), path).not.toBe('ok');
      }
    } finally {
      client.end();
    }
    expect(snapshot(gw.layout.root)).toEqual(before);
  });
});

describe('hostile paths through OpenSSH sftp -b', () => {
  // Lines sftp's batch parser can carry verbatim inside double quotes.
  // eslint-disable-next-line no-control-regex
  const printable = corpus.filter(({ path }) => !/["\\\u0000-\u001f\u007f-\u009f]/.test(path));

  it('carries most of the corpus', () => {
    expect(printable.length).toBeGreaterThanOrEqual(50);
  });

  it('puts, gets and removes are all refused, nothing lands anywhere', async () => {
    const local = join(gw.dir, 'hostile.bin');
    writeFileSync(local, 'payload');
    const out = join(gw.dir, 'hostile.out');
    for (const party of [PARTNER, COMMUNE]) {
      const lines = printable.flatMap(({ path }) => [`-put ${local} "${path}"`, `-get "${path}" ${out}`, `-rm "${path}"`, `-rename "${path}" "/inbox/${DS}/r.pgp"`]);
      const r = await sftpBatch(gw, party, lines, undefined, 60_000);
      expect(r.timedOut).toBe(false);
      expect(r.code).toBe(0); // each line may fail ("-"), the session itself must survive
      expect(r.stdout.split('\n').filter((l) => l.startsWith('sftp> ')).length).toBe(lines.length);
    }
    // Paths that normalize to the partner's own dataset directory ("/inbox/faits-4001/.",
    // "///inbox///faits-4001///"…) are a directory to sftp, which then uploads under the
    // local name: a legitimate upload into the partner's own inbox, nothing else.
    for (const c of gw.intake.opened) expect(c).toMatchObject({ partnerId: PARTNER, datasetId: DS, clientName: 'hostile.bin' });
    const outsideStaging = (m: Map<string, string>): Map<string, string> => new Map([...m].filter(([k]) => !k.startsWith('/staging/')));
    expect(outsideStaging(snapshot(gw.layout.root))).toEqual(outsideStaging(before));
    for (const f of gw.intake.finished) expect(readFileSync(f.stagingPath, 'utf8')).toBe('payload');
    expect(() => readFileSync(out)).toThrow();
  });
});
