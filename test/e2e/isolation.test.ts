/**
 * Real clients when an intake thread is held by one upload (the test worker holds its event loop
 * on a file named "bloque…", test/intake/blocking-worker.ts) while another partner's upload
 * shares that thread: after `limits.intakeThreadStallMs` the thread is ended, both uploads start
 * again alone on the isolation thread, and the clients see the outcome of their own file only —
 * OpenSSH `sftp` exits 1 on the held one, lftp exits 0 on the other, whose receipt says accepted
 * and whose records are delivered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assembleIntake } from '../../gateway/intake/assemble.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { newReceipt, outboxCount, receiptNames } from './outcomes.js';
import { partnerSide, type PartnerSide } from './partner.js';
import { lftp, sftpBatch } from '../sftp/harness.js';

const CSV = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'datasets', 'valid', 'faits-4001.csv'));
const PARTNER = 'police-nationale';
const STALL_MS = 3000;

let tg: TestGateway;
let p: PartnerSide;

/** A fresh signed+encrypted export of the valid faits-4001 fixture (new bytes each time: no duplicate). */
function sealedExport(name: string): string {
  const path = join(p.work, name);
  writeFileSync(path, p.gpg(['--recipient', p.gatewayFpr, '--sign', '--encrypt'], CSV));
  return path;
}

beforeAll(async () => {
  tg = await startTestGateway({
    limits: { intakeThreadStallMs: STALL_MS },
    intake: (deps) => assembleIntake({ ...deps, workers: 1, workerModule: new URL('../intake/blocking-worker.ts', import.meta.url) }),
  });
  p = await partnerSide(tg, [PARTNER]);
}, 60_000);

afterAll(async () => {
  await tg?.stop();
});

describe('an intake thread held by one upload, with real clients', () => {
  it('OpenSSH sftp is refused its held file; lftp, whose upload shared the thread, gets it accepted and delivered', async () => {
    // The thread answers first (it is judged on its heartbeats only from then on).
    const warm = await sftpBatch(p.target, PARTNER, [`put ${sealedExport('warm.csv.pgp')} /inbox/faits-4001/warm.csv.pgp`]);
    expect(warm.code, warm.stderr).toBe(0);

    const before = receiptNames(tg.dataDir, PARTNER);
    const outbox = outboxCount(tg.dataDir);
    const started = performance.now();
    const held = sftpBatch(p.target, PARTNER, [`put ${sealedExport('bloque.csv.pgp')} /inbox/faits-4001/bloque.csv.pgp`]);
    // The other upload reaches the thread once it is held.
    await new Promise((r) => setTimeout(r, 1000));
    const shared = await lftp(p.target, PARTNER, [`put ${sealedExport('partage.csv.pgp')} -o /inbox/faits-4001/partage.csv.pgp`]);
    expect(shared.code, shared.stdout + shared.stderr).toBe(0);
    const refused = await held;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Failure');
    // Held on the pool's thread, then alone on the isolation thread.
    expect(performance.now() - started).toBeGreaterThanOrEqual(2 * STALL_MS);

    // The accepted one has its receipt and deliveries; the held one published nothing.
    const receipt = newReceipt(tg.dataDir, PARTNER, before);
    expect(receipt).toMatchObject({ status: 'accepted', file: { name: 'partage.csv.pgp' } });
    expect(outboxCount(tg.dataDir)).toBeGreaterThan(outbox);
    const failed = tg.gateway.state.uploadsInState('failed').filter((u) => u.clientName === 'bloque.csv.pgp');
    expect(failed).toHaveLength(1);
  }, 60_000);
});
