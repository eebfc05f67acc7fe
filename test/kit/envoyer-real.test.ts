/**
 * The kit's envoyer.sh against the whole gateway with its real intake pipeline (decrypt,
 * verify, parse, validate, route, publish, signed receipt): what a partner's cron job does on
 * its first day. The demo partner police-nationale, its demo keys, a faits-4001 export.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { projectRoot } from '../../gateway/config/project.js';
import { buildKit } from '../../gateway/kit/kit.js';
import { kitInputFromConfig } from '../../gateway/kit/inputs.js';
import { writeKit } from '../../gateway/kit/write.js';

const run = promisify(execFile);
const root = projectRoot();

/** A date a few days back (the dataset refuses future dates and dates over 10 years old). */
function daysAgo(n: number): string {
  return new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
}

describe('envoyer.sh through the real intake pipeline', () => {
  let tg: TestGateway;
  let kitDir: string;
  let env: NodeJS.ProcessEnv;

  const send = (file: string) =>
    run('bash', [join(kitDir, 'envoyer.sh'), 'faits-4001', file], { env, cwd: tg.dir }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  beforeAll(async () => {
    // The test gateway runs the real intake pipeline (in-thread), as startGateway does by default.
    tg = await startTestGateway();
    const input = await kitInputFromConfig(tg.gateway.config.current(), 'police-nationale', { host: tg.host, port: tg.port });
    kitDir = join(tg.dir, 'kit');
    await writeKit(kitDir, buildKit(input));
    const home = join(tg.dir, 'gnupg');
    await mkdir(home, { mode: 0o700 });
    await run('gpg', ['--homedir', home, '--batch', '--import', join(root, 'keys-example', 'police-nationale', 'pgp.sec.asc')]);
    env = { PATH: process.env.PATH, HOME: tg.dir, GNUPGHOME: home, PASSERELLE_CLE_SSH: await tg.key('police-nationale'), PASSERELLE_RECUS: join(tg.dir, 'recus') };
  }, 60_000);

  afterAll(async () => {
    if (tg) await run('gpgconf', ['--homedir', join(tg.dir, 'gnupg'), '--kill', 'all']).catch(() => undefined);
    await tg?.stop();
  });

  it('a valid export is accepted, delivered to Ludres and the observatory, with a signed receipt', async () => {
    const header = 'id_fait;date_faits;heure_faits;index_4001;code_insee;adresse;x;y;tentative';
    const csv = `${header}\nPN-1;${daysAgo(3)};22:10;27;54328;;;;0\nPN-2;${daysAgo(2)};;7;54395;;;;1\n`;
    const src = join(tg.dir, 'faits.csv');
    await writeFile(src, csv);
    const r = await send(src);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('statut : accepted');
    expect(r.stdout).toContain('signature du reçu par la passerelle : valide');
    expect(r.stdout).not.toContain('attention');
    const receipts = (await readdir(join(tg.dir, 'recus'))).filter((f) => f.endsWith('.json'));
    expect(receipts).toHaveLength(1);
    const receipt = JSON.parse(await readFile(join(tg.dir, 'recus', receipts[0]!), 'utf8')) as { status: string; deliveries: { recipient: string; records: number }[] };
    expect(receipt.status).toBe('accepted');
    const to = Object.fromEntries(receipt.deliveries.map((d) => [d.recipient, d.records]));
    expect(to['ludres']).toBe(1);
    expect(to['nancy']).toBe(1);
    expect(to['observatoire']).toBe(2);
    const ludres = await readdir(join(tg.dataDir, 'outbox', 'ludres', 'faits-4001'));
    expect(ludres.some((f) => f.endsWith('.ndjson.pgp'))).toBe(true);
  }, 120_000);

  it('an export with a wrong header is rejected: non-zero exit, FORMAT_HEADER in the receipt', async () => {
    const src = join(tg.dir, 'faits-faux.csv');
    await writeFile(src, `id;date;commune\nX;${daysAgo(1)};54328\n`);
    const r = await send(src);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('REFUSÉ');
    expect(r.stdout).toContain('statut : rejected (FORMAT_HEADER)');
  }, 120_000);
});
