/**
 * The intake paces the upload (work.ts, Pacer; ssh2-fixes.ts, fix 5): a stock client sending a
 * large sealed export much faster than the record work can take it is slowed down to that pace,
 * so every byte goes through the pipeline while it arrives and none has to be read back from
 * staging after the commit (which is what made the verdict come many seconds after the last
 * byte). The gateway's "upload decided" log line says how many bytes were read back.
 *
 * Without the pacing, OpenSSH's sftp (64 WRITEs of 255 KiB in flight) gets 32 MiB in within a
 * second while the intake has taken a few: the 16 MiB queue bound is passed and most of the
 * file is read back. The pacing is SSH flow control (the channel window stays closed), not held
 * WRITE replies: those let OpenSSH's 16 MiB in flight through, and made PuTTY's psftp, whose
 * small WRITEs then piled up, pass the session's request limit and get disconnected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { writeExport } from '../../bench/intake.js';
import { createLogger } from '../../gateway/log.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { lftp, psftp, rclone, sftpBatch, type PsftpTarget } from '../sftp/harness.js';
import { partnerSide, type PartnerSide } from './partner.js';

const PARTNER = 'police-nationale';
const EXPORT_BYTES = 32 << 20;

interface Decided { status: string; bytes: number; readBackBytes?: number; verdictMs: number }

let tg: TestGateway;
let gw: PsftpTarget;
let work: string;
let gatewayFpr: string;
let gpg: PartnerSide['gpg'];
const decided: Decided[] = [];

async function sealedExport(name: string): Promise<{ file: string; records: number }> {
  const plain = join(work, `${name}.csv`);
  const records = await writeExport(plain, EXPORT_BYTES, name);
  const file = `${plain}.pgp`;
  gpg(['-z', '0', '--recipient', gatewayFpr, '--sign', '--encrypt', '--output', file, plain]);
  rmSync(plain);
  return { file, records };
}

function newestReceipt(): Record<string, unknown> {
  const dir = join(tg.dataDir, 'receipts', PARTNER);
  const last = readdirSync(dir).filter((n) => n.endsWith('.json')).sort().at(-1)!;
  return JSON.parse(readFileSync(join(dir, last), 'utf8')) as Record<string, unknown>;
}

beforeAll(async () => {
  // The operational log, parsed: the "upload decided" lines are what this test reads.
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.includes('"upload decided"')) continue;
        decided.push(JSON.parse(line) as Decided);
      }
      done();
    },
  });
  tg = await startTestGateway({ intakeWorkers: 1, log: createLogger({ level: 'info', destination: sink }) });
  ({ target: gw, work, gatewayFpr, gpg } = await partnerSide(tg, [PARTNER]));
});

afterAll(async () => {
  await tg?.stop();
});

describe('the intake paces a fast upload', () => {
  it.each([
    ['OpenSSH sftp', (file: string) => sftpBatch(gw, PARTNER, [`put ${file} /inbox/faits-4001/paced-sftp.csv.pgp`], undefined, 120_000)],
    ['lftp', (file: string) => lftp(gw, PARTNER, [`put ${file} -o /inbox/faits-4001/paced-lftp.csv.pgp`], 120_000)],
    ['rclone', (file: string) => rclone(gw, PARTNER, ['copyto', file, 'gw:/inbox/faits-4001/paced-rclone.csv.pgp'], 120_000)],
    ['PuTTY psftp', (file: string) => psftp(gw, PARTNER, [`put ${file} /inbox/faits-4001/paced-psftp.csv.pgp`])],
  ])('%s: a 32 MiB export streams whole through the intake, nothing read back from staging', async (client, put) => {
    const { file, records } = await sealedExport(client.replace(/\W/g, ''));
    const before = decided.length;
    const r = await put(file);
    expect(r.code, r.stderr).toBe(0);
    const receipt = newestReceipt();
    expect(receipt['status']).toBe('accepted');
    expect(receipt['records']).toMatchObject({ total: records, accepted: records });
    const line = decided.slice(before);
    expect(line).toHaveLength(1);
    expect(line[0]).toMatchObject({ status: 'accepted', bytes: readFileSync(file).length, readBackBytes: 0 });
  });

  it('a temporary name (WinSCP .filepart) streams too, and its RENAME commits it under the final name', async () => {
    const { file, records } = await sealedExport('filepart');
    const before = decided.length;
    const r = await sftpBatch(gw, PARTNER, [
      `put ${file} /inbox/faits-4001/paced.csv.pgp.filepart`,
      'rename /inbox/faits-4001/paced.csv.pgp.filepart /inbox/faits-4001/paced.csv.pgp',
    ], undefined, 120_000);
    expect(r.code, r.stderr).toBe(0);
    const receipt = newestReceipt();
    expect(receipt).toMatchObject({ status: 'accepted', file: { name: 'paced.csv.pgp', bytes: readFileSync(file).length }, records: { total: records } });
    expect(tg.gateway.state.getUpload(String(receipt['upload_id']))?.clientName).toBe('paced.csv.pgp');
    expect(decided.slice(before)).toMatchObject([{ status: 'accepted', readBackBytes: 0 }]);
  });

  it('a RENAME later than renameWaitMs after the CLOSE still commits, from staging, under a new upload id', async () => {
    const late = await startTestGateway({ intakeWorkers: 1, limits: { renameWaitMs: 200 } });
    try {
      const lateGw: PsftpTarget = { ...gw, port: late.port, knownHosts: late.knownHosts, fingerprint: late.fingerprint };
      const plain = join(work, 'late.csv');
      await writeExport(plain, 512 * 1024, 'late');
      gpg(['-z', '0', '--recipient', gatewayFpr, '--sign', '--encrypt', '--output', `${plain}.pgp`, plain]);
      const put = await sftpBatch(lateGw, PARTNER, [`put ${plain}.pgp /inbox/faits-4001/late.csv.pgp.filepart`]);
      expect(put.code, put.stderr).toBe(0);
      const firstId = late.gateway.state.recentUploads(5).find((u) => u.clientName === 'late.csv.pgp.filepart')?.id;
      expect(firstId).toBeDefined();
      // Past the wait, the pipeline that followed the bytes is released: its id ends failed.
      for (let i = 0; i < 100 && late.gateway.state.getUpload(firstId!)?.state === 'receiving'; i++) await new Promise((r) => setTimeout(r, 20));
      expect(late.gateway.state.getUpload(firstId!)).toMatchObject({ state: 'failed', code: 'UPLOAD_INCOMPLETE' });
      const mv = await sftpBatch(lateGw, PARTNER, ['rename /inbox/faits-4001/late.csv.pgp.filepart /inbox/faits-4001/late.csv.pgp']);
      expect(mv.code, mv.stderr).toBe(0);
      const accepted = late.gateway.state.recentUploads(5).find((u) => u.state === 'accepted');
      expect(accepted).toMatchObject({ clientName: 'late.csv.pgp' });
      expect(accepted?.id).not.toBe(firstId);
    } finally {
      await late.stop();
    }
  });
});
