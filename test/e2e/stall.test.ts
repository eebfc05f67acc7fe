/**
 * An upload openpgp.js stalls on (test/fixtures/pgp-stall/README.md), armored as GnuPG's
 * `--armor` makes them, sent over SFTP with real clients. Armored uploads used to go through
 * openpgp.js, and this one needed the stall watch (`limits.decryptStallMs`) to get a verdict; the
 * armor is now taken off natively, and the native engine refuses the file on its integrity check
 * (test/pgp/stall.test.ts keeps the stall watch's own tests). The receipt says PGP_CORRUPT,
 * nothing is published, and the intake thread goes on to take the next upload.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { newReceipt, outboxCount, receiptNames } from './outcomes.js';
import { partnerSide, type PartnerSide } from './partner.js';
import { lftp, sftpBatch } from '../sftp/harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CSV = readFileSync(join(ROOT, 'test', 'fixtures', 'datasets', 'valid', 'faits-4001.csv'));
const STALLS = readFileSync(join(ROOT, 'test', 'fixtures', 'pgp-stall', 'stalls-openpgp-demo-gateway.pgp'));
const PARTNER = 'police-nationale';

let tg: TestGateway;
let p: PartnerSide;

beforeAll(async () => {
  tg = await startTestGateway({ intakeWorkers: 1, limits: { decryptStallMs: 500 } });
  p = await partnerSide(tg, [PARTNER]);
  writeFileSync(join(p.work, 'stalls.csv.asc'), openpgp.armor(openpgp.enums.armor.message, new Uint8Array(STALLS)));
});

afterAll(async () => {
  await tg?.stop();
});

describe('an armored upload the OpenPGP library stalls on, read natively', () => {
  it('lftp: refused (exit 1, the code printed), the receipt says PGP_CORRUPT, nothing published', async () => {
    const before = receiptNames(tg.dataDir, PARTNER);
    const outbox = outboxCount(tg.dataDir);
    const r = await lftp(p.target, PARTNER, [`put ${join(p.work, 'stalls.csv.asc')} -o /inbox/faits-4001/stalls.csv.asc`]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('PGP_CORRUPT');
    const receipt = newReceipt(tg.dataDir, PARTNER, before);
    expect(receipt).toMatchObject({ status: 'rejected', code: 'PGP_CORRUPT', deliveries: [] });
    // The integrity check gave this verdict, not the stall watch.
    expect(String(receipt['message'])).toContain('MDC');
    expect(String(receipt['message'])).not.toContain("le déchiffrement s'est arrêté sans conclure");
    expect(outboxCount(tg.dataDir)).toBe(outbox);
  });

  it('OpenSSH sftp: the same again, then a good armored export is accepted by the same intake thread', async () => {
    let before = receiptNames(tg.dataDir, PARTNER);
    const bad = await sftpBatch(p.target, PARTNER, [`put ${join(p.work, 'stalls.csv.asc')} /inbox/faits-4001/stalls-2.csv.asc`]);
    expect(bad.code).toBe(1);
    expect(newReceipt(tg.dataDir, PARTNER, before)['code']).toBe('PGP_CORRUPT');

    writeFileSync(join(p.work, 'good.csv.asc'), p.gpg(['--armor', '--recipient', p.gatewayFpr, '--sign', '--encrypt'], CSV));
    before = receiptNames(tg.dataDir, PARTNER);
    const outbox = outboxCount(tg.dataDir);
    const good = await sftpBatch(p.target, PARTNER, [`put ${join(p.work, 'good.csv.asc')} /inbox/faits-4001/good.csv.asc`]);
    expect(good.code, good.stderr).toBe(0);
    expect(newReceipt(tg.dataDir, PARTNER, before)['status']).toBe('accepted');
    expect(outboxCount(tg.dataDir)).toBeGreaterThan(outbox);
  });
});
