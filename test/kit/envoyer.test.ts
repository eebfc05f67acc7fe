/**
 * The kit's envoyer.sh run for real: bash, GnuPG and the OpenSSH sftp client against the
 * gateway (startGateway, demo host key, demo partner key) with the stub intake, whose verdict
 * hook writes and signs a receipt where the publisher puts them: verdicts on demand (accepted,
 * rejected) and a look at exactly what arrived. envoyer-real.test.ts runs it through the real
 * pipeline.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startInProcessGateway, demoIdentity, type InProcessGateway } from '../../bench/gateway.js';
import { loadConfig } from '../../gateway/config/load.js';
import { projectRoot } from '../../gateway/config/project.js';
import { buildKit } from '../../gateway/kit/kit.js';
import { kitInputFromConfig } from '../../gateway/kit/inputs.js';
import { writeKit } from '../../gateway/kit/write.js';
import type { Verdict } from '../../gateway/intake/contract.js';

const run = promisify(execFile);
const root = projectRoot();
const PN_SECRET = join(root, 'keys-example', 'police-nationale', 'pgp.sec.asc');
const PN_PUBLIC = join(root, 'keys-example', 'police-nationale', 'pgp.pub.asc');
const GW_SECRET = join(root, 'keys-example', 'gateway', 'pgp.sec.asc');

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

describe('envoyer.sh against the gateway SFTP server', () => {
  let work: string;
  let gw: InProcessGateway;
  let kitDir: string;
  let env: NodeJS.ProcessEnv;
  let gatewayHome: string;
  let partnerFpr: string;
  const csv = 'id_fait;date_faits;index_4001;code_insee;tentative\nF1;2026-03-14;27;54328;0\n';

  const send = async (file: string): Promise<Ran> =>
    run('bash', [join(kitDir, 'envoyer.sh'), 'faits-4001', file], { env, cwd: work }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  /** What the publisher does for a verdict: receipts/<partner>/<upload-id>.json + detached signature. */
  const receiptFor = async (ctx: { uploadId: string; partnerId: string; clientName: string }, status: string, code?: string) => {
    const dir = join(gw.layout.receipts, ctx.partnerId);
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${ctx.uploadId}.json`);
    const body = { receipt_version: 1, upload_id: ctx.uploadId, partner: ctx.partnerId, file: { name: ctx.clientName }, status, ...(code ? { code } : {}) };
    await writeFile(file, JSON.stringify(body, null, 2) + '\n');
    await run('gpg', ['--homedir', gatewayHome, '--batch', '--yes', '--armor', '--detach-sign', '--output', `${file}.asc`, file]);
    return `${ctx.uploadId}.json`;
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'passerelle-test-envoyer-'));
    gw = await startInProcessGateway(work);
    const config = await loadConfig(join(root, 'config', 'grand-nancy', 'passerelle.json'), { demo: true });
    const input = await kitInputFromConfig(config, 'police-nationale', { host: '127.0.0.1', port: gw.port });
    partnerFpr = input.partnerPgpFingerprints[0]!;
    kitDir = join(work, 'kit');
    await writeKit(kitDir, buildKit(input));
    // The partner's GnuPG home holds its own secret key; the gateway's holds the gateway's.
    const partnerHome = join(work, 'gnupg-partner');
    gatewayHome = join(work, 'gnupg-gateway');
    await mkdir(partnerHome, { mode: 0o700 });
    await mkdir(gatewayHome, { mode: 0o700 });
    await run('gpg', ['--homedir', partnerHome, '--batch', '--import', PN_SECRET]);
    await run('gpg', ['--homedir', gatewayHome, '--batch', '--import', GW_SECRET, PN_PUBLIC]);
    env = {
      PATH: process.env.PATH,
      HOME: work,
      GNUPGHOME: partnerHome,
      PASSERELLE_CLE_SSH: await demoIdentity(root, 'police-nationale', work),
      PASSERELLE_RECUS: join(work, 'recus'),
    };
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await run('gpgconf', ['--homedir', join(work, 'gnupg-partner'), '--kill', 'all']).catch(() => undefined);
    await run('gpgconf', ['--homedir', join(work, 'gnupg-gateway'), '--kill', 'all']).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  });

  it('signs, encrypts to the gateway, uploads with the pinned host key, fetches and checks the receipt', async () => {
    gw.intake.decide = async (ctx): Promise<Verdict> => ({ status: 'accepted', message: 'ok', receiptName: await receiptFor(ctx, 'accepted') });
    const src = join(work, 'faits mars.csv');
    await writeFile(src, csv);
    const r = await send(src);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Dépôt accepté : /inbox/faits-4001/');
    expect(r.stdout).toContain('statut : accepted');
    expect(r.stdout).toContain('signature du reçu par la passerelle : valide');
    expect(r.stdout).not.toContain('attention');

    const done = gw.intake.finished.at(-1)!;
    expect(done.ctx).toMatchObject({ partnerId: 'police-nationale', datasetId: 'faits-4001' });
    expect(done.ctx.clientName).toMatch(/^\d{8}T\d{6}Z-faits_mars\.csv\.gpg$/);
    // What arrived is a message the gateway's key decrypts, signed by the partner's registered key.
    const dec = await run('gpg', ['--homedir', gatewayHome, '--batch', '--status-fd', '1', '--trust-model', 'always', '--output', '-', '--decrypt', done.stagingPath], { encoding: 'buffer' });
    const status = dec.stdout.toString('utf8');
    expect(status).toContain(csv);
    expect(status).toMatch(new RegExp(`VALIDSIG .* ${partnerFpr}\\n`));
    const receipt = JSON.parse(await readFile(join(work, 'recus', `${done.ctx.uploadId}.json`), 'utf8')) as { status: string };
    expect(receipt.status).toBe('accepted');
  }, 60_000);

  it('exits non-zero when the gateway rejects the file, and shows the receipt code', async () => {
    gw.intake.decide = async (ctx): Promise<Verdict> => ({
      status: 'rejected',
      code: 'SCHEMA_INVALID',
      message: 'SCHEMA_INVALID: enregistrement 1',
      receiptName: await receiptFor(ctx, 'rejected', 'SCHEMA_INVALID'),
    });
    const src = join(work, 'faits-avril.csv');
    await writeFile(src, csv);
    const r = await send(src);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('REFUSÉ');
    expect(r.stdout).toContain('statut : rejected (SCHEMA_INVALID)');
    expect(r.stdout).not.toContain('Aucun reçu pour ce dépôt'); // its receipt is there
  }, 60_000);

  it('a failure without a receipt of its own (a full disk, say) is told as such: send again later', async () => {
    gw.intake.decide = (): Verdict => ({ status: 'failed', code: 'STORAGE_FULL', message: 'STORAGE_FULL: espace disque insuffisant' });
    const src = join(work, 'faits-mai.csv');
    await writeFile(src, csv);
    const r = await send(src);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('REFUSÉ');
    expect(r.stdout).toContain('Aucun reçu pour ce dépôt');
    expect(r.stdout).toContain('renvoyer le même fichier plus tard');
  }, 60_000);

  it('refuses to talk to a server whose host key is not the pinned one', async () => {
    gw.intake.decide = () => ({ status: 'accepted', message: 'ok' });
    const before = gw.intake.finished.length;
    const kh = join(kitDir, 'known_hosts');
    const saved = await readFile(kh, 'utf8');
    const other = (await readFile(join(root, 'keys-example', 'police-nationale', 'ssh_ed25519.pub'), 'utf8')).split(' ');
    await writeFile(kh, `[127.0.0.1]:${gw.port} ${other[0]} ${other[1]}\n`);
    try {
      const src = join(work, 'faits-mai.csv');
      await writeFile(src, csv);
      const r = await send(src);
      expect(r.code).not.toBe(0);
      expect(gw.intake.finished.length).toBe(before);
    } finally {
      await writeFile(kh, saved);
    }
  }, 60_000);
});
