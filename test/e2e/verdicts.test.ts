/**
 * End to end, real clients against the whole gateway (demo configuration, real intake in a
 * worker thread): a partner's sealed export goes in over SFTP, its verdict is the answer to the
 * committing request, the receipt explains it, and a commune fetches and decrypts its share.
 * Each client's real reaction to a rejection is asserted (issue #4): OpenSSH sftp -b and scp
 * exit 1; lftp exits 1 and prints the reason; rclone prints the reason and exits 1; PuTTY psftp
 * prints only "error while closing: failure" and ends its batch with exit 2 (the issue's
 * prototype measured exit 0; PuTTY 0.78's batch mode stops on the failed close), so the receipt
 * is what tells the partner why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { newReceipt, outboxCount, receiptNames } from './outcomes.js';
import { partnerSide, type PartnerSide } from './partner.js';
import { lftp, psftp, rclone, run, scp, sftpBatch, type PsftpTarget } from '../sftp/harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const KEYS = join(ROOT, 'keys-example');
const CSV = readFileSync(join(ROOT, 'test', 'fixtures', 'datasets', 'valid', 'faits-4001.csv'));

let tg: TestGateway;
/** The shape the client helpers of test/sftp/harness.ts need. */
let gw: PsftpTarget;
let work: string;
let gatewayFpr: string;
let gpg: PartnerSide['gpg'];

function sha256Of(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function fpr(party: string): string {
  const p = tg.gateway.config.current().partners.get(party);
  return p!.pgpKeys[0]!.fingerprint;
}

function seal(signer: string, plain: Buffer | string, name: string): string {
  const out = join(work, name);
  writeFileSync(out, gpg(['--local-user', fpr(signer), '--recipient', gatewayFpr, '--sign', '--encrypt'], plain));
  return out;
}




beforeAll(async () => {
  tg = await startTestGateway({ intakeWorkers: 1 });
  ({ target: gw, work, gatewayFpr, gpg } = await partnerSide(tg, ['police-nationale', 'bailleur-social', 'ludres']));
});

afterAll(async () => {
  await tg?.stop();
});

describe('a sealed export, end to end with real clients', () => {
  it('OpenSSH sftp -b: accepted (exit 0), receipt readable over SFTP, the commune decrypts its records', async () => {
    const file = seal('police-nationale', CSV, 'ok.csv.pgp');
    const before = receiptNames(tg.dataDir, 'police-nationale');
    const put = await sftpBatch(gw, 'police-nationale', [`put ${file} /inbox/faits-4001/export-2026-03.csv.pgp`]);
    expect(put.code, put.stderr).toBe(0);
    const receipt = newReceipt(tg.dataDir, 'police-nationale', before);
    expect(receipt['status']).toBe('accepted');
    // The receipt names the file as received: the digest the SFTP layer computed at the commit.
    expect(receipt['file']).toEqual({ name: 'export-2026-03.csv.pgp', sha256: sha256Of(file), bytes: readFileSync(file).length });
    const id = String(receipt['upload_id']);

    // The partner reads its receipt and the signature back over SFTP and verifies it with gpg.
    const get = await sftpBatch(gw, 'police-nationale', [`get /receipts/${id}.json ${work}/r.json`, `get /receipts/${id}.json.asc ${work}/r.json.asc`]);
    expect(get.code, get.stderr).toBe(0);
    expect(() => gpg(['--verify', `${work}/r.json.asc`, `${work}/r.json`])).not.toThrow();

    // Ludres lists its outbox, downloads its delivery and decrypts it with its own key.
    const ls = await sftpBatch(gw, 'ludres', ['ls -1 /outbox/faits-4001']);
    expect(ls.code, ls.stderr).toBe(0);
    const name = ls.stdout.split('\n').map((l) => l.trim().split('/').pop() ?? '').find((n) => n.includes(id) && n.endsWith('.ndjson.pgp'));
    expect(name).toBeDefined();
    const dl = await sftpBatch(gw, 'ludres', [`get /outbox/faits-4001/${name} ${work}/ludres.pgp`]);
    expect(dl.code, dl.stderr).toBe(0);
    const records = gpg(['--decrypt', `${work}/ludres.pgp`]).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const expected = CSV.toString('utf8').trim().split('\n').slice(1).filter((l) => l.split(';')[4] === '54328').map((l) => l.split(';')[0]);
    expect(records.map((r) => r['id_fait']).sort()).toEqual(expected.sort());
    // Non-ASCII text comes out byte-exact (the lines are UTF-8 encoded straight into the batches).
    expect(records.find((r) => r['id_fait'] === 'PN-2026-0001')?.['adresse']).toBe('12 rue de la République');
    // The complete download is recorded: state and audit.
    expect(tg.gateway.state.deliveriesOf(id).find((d) => d.recipient === 'ludres')?.state).toBe('downloaded');
    const downloads = await tg.gateway.auditLog!.query({ type: 'delivery.downloaded', uploadId: id });
    expect(downloads.map((r) => r.entry.refs?.['recipient'])).toContain('ludres');
  });

  it('OpenSSH sftp -b: a file signed by another partner exits 1, publishes nothing, and the receipt says why', async () => {
    const file = seal('bailleur-social', CSV, 'foreign.csv.pgp');
    const before = receiptNames(tg.dataDir, 'police-nationale');
    const outbox = outboxCount(tg.dataDir);
    const put = await sftpBatch(gw, 'police-nationale', [`put ${file} /inbox/faits-4001/foreign.csv.pgp`]);
    expect(put.code).toBe(1);
    expect(outboxCount(tg.dataDir)).toBe(outbox);
    expect(newReceipt(tg.dataDir, 'police-nationale', before)).toMatchObject({ status: 'rejected', code: 'PGP_UNKNOWN_SIGNER', file: { sha256: sha256Of(file), bytes: readFileSync(file).length } });
  });

  it('OpenSSH scp: a rejected file exits 1', async () => {
    const file = seal('bailleur-social', CSV, 'scp.csv.pgp');
    const before = receiptNames(tg.dataDir, 'police-nationale');
    const r = await scp(gw, 'police-nationale', file, ':/inbox/faits-4001/scp.csv.pgp');
    expect(r.code).toBe(1);
    expect(newReceipt(tg.dataDir, 'police-nationale', before)['code']).toBe('PGP_UNKNOWN_SIGNER');
  });

  it('lftp: a rejected file exits 1 and prints the reason code', async () => {
    const file = seal('bailleur-social', CSV, 'lftp.csv.pgp');
    const r = await lftp(gw, 'police-nationale', [`put ${file} -o /inbox/faits-4001/lftp.csv.pgp`]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('PGP_UNKNOWN_SIGNER');
  });

  it('rclone: a rejected file prints the reason and exits 1', async () => {
    const file = seal('bailleur-social', CSV, 'rclone.csv.pgp');
    const r = await rclone(gw, 'police-nationale', ['copyto', file, 'gw:/inbox/faits-4001/rclone.csv.pgp'], 60_000);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('PGP_UNKNOWN_SIGNER');
  });

  it('PuTTY psftp -b: prints only "error while closing: failure", stops the batch (exit 2); the receipt is what tells the partner why', async () => {
    const file = seal('bailleur-social', CSV, 'psftp.csv.pgp');
    const before = receiptNames(tg.dataDir, 'police-nationale');
    const r = await psftp(gw, 'police-nationale', [`put ${file} /inbox/faits-4001/psftp.csv.pgp`]);
    expect(r.stdout).toContain('error while closing: failure');
    expect(r.stdout + r.stderr).not.toContain('PGP_UNKNOWN_SIGNER');
    expect(r.code, JSON.stringify(r)).toBe(2);
    expect(newReceipt(tg.dataDir, 'police-nationale', before)).toMatchObject({ status: 'rejected', code: 'PGP_UNKNOWN_SIGNER' });
  });

  it('a byte-identical file already accepted is answered OK, with a duplicate receipt and no new delivery', async () => {
    const file = seal('police-nationale', CSV, 'dup.csv.pgp');
    const first = await sftpBatch(gw, 'police-nationale', [`put ${file} /inbox/faits-4001/dup1.csv.pgp`]);
    expect(first.code, first.stderr).toBe(0);
    const outbox = outboxCount(tg.dataDir);
    const before = receiptNames(tg.dataDir, 'police-nationale');
    const again = await sftpBatch(gw, 'police-nationale', [`put ${file} /inbox/faits-4001/dup2.csv.pgp`]);
    expect(again.code, again.stderr).toBe(0);
    expect(newReceipt(tg.dataDir, 'police-nationale', before)).toMatchObject({ status: 'duplicate', code: 'DUPLICATE_FILE' });
    expect(outboxCount(tg.dataDir)).toBe(outbox);
  });

  it('a temporary name renamed onto a final name is the commit point (WinSCP-style .filepart)', async () => {
    const file = seal('police-nationale', CSV.toString('utf8').replace('PN-2026-0001', 'PN-2026-9001'), 'part.csv.pgp');
    const before = receiptNames(tg.dataDir, 'police-nationale');
    const r = await sftpBatch(gw, 'police-nationale', [`put ${file} /inbox/faits-4001/x.csv.pgp.filepart`, 'rename /inbox/faits-4001/x.csv.pgp.filepart /inbox/faits-4001/x.csv.pgp']);
    expect(r.code, r.stderr).toBe(0);
    expect(newReceipt(tg.dataDir, 'police-nationale', before)['status']).toBe('accepted');
  });

  it('nothing received stays in staging once its verdict is given', () => {
    expect(readdirSync(join(tg.dataDir, 'staging'))).toEqual([]);
    expect(readdirSync(join(tg.dataDir, 'pending'))).toEqual([]);
  });

  it('the audit trail records the chain and verifies', async () => {
    const log = tg.gateway.auditLog!;
    const uploads = await log.query({ type: 'upload.*', limit: 1000 });
    expect(uploads.some((r) => r.entry.type === 'upload.accepted')).toBe(true);
    expect(uploads.some((r) => r.entry.type === 'upload.rejected')).toBe(true);
    const cli = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'gateway', 'cli', 'main.ts'), 'audit', 'verify', '--data', tg.dataDir, '--key', join(KEYS, 'gateway', 'checkpoint.pub')]);
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
  });
});
