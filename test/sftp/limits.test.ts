/**
 * Per-session limits: a flood of handles or of requests in flight ends the offending
 * session (its connection), audited, while another session keeps working.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Verdict } from '../../gateway/intake/contract.js';
import { COMMUNE, DS, PARTNER, p, publish, sftpBatch, ssh2Sftp, startGateway, type Gateway } from './harness.js';

let gw: Gateway;
beforeEach(async () => {
  gw = await startGateway({ maxOpenHandles: 8, maxInflightRequests: 8, maxReadLength: 4096 });
});
afterEach(async () => {
  await gw.close();
});

async function bystanderStillServed(): Promise<void> {
  const r = await sftpBatch(gw, COMMUNE, [`ls /outbox/${DS}`]);
  expect(r.code).toBe(0);
}

describe('limits', () => {
  it('a handle flood ends only the offending session', async () => {
    publish(gw, COMMUNE, DS, 'f.pgp', 'x');
    const other = await ssh2Sftp(gw, COMMUNE);
    const { sftp, closed } = await ssh2Sftp(gw, COMMUNE);
    let opened = 0;
    for (let i = 0; i < 20; i++) {
      const r = await p.open(sftp, `/outbox/${DS}/f.pgp`, 'r').catch((e: unknown) => e);
      if (!Buffer.isBuffer(r)) break;
      opened++;
    }
    await closed;
    expect(opened).toBe(8);
    expect(gw.audit.ofType('sftp.limit').map((e) => e.details?.['code'])).toContain('LIMIT_HANDLES');
    expect(await p.readdir(other.sftp, `/outbox/${DS}`)).toEqual(['f.pgp']);
    other.client.end();
    await bystanderStillServed();
  });

  it('a flood of requests in flight ends only the offending session', async () => {
    // Verdicts that never come keep CLOSE requests in flight.
    let release: (v: Verdict) => void = () => undefined;
    const pending = new Promise<Verdict>((r) => (release = r));
    gw.intake.decide = () => pending;
    const { sftp, closed } = await ssh2Sftp(gw, PARTNER);
    const handles: Buffer[] = [];
    for (let i = 0; i < 8; i++) {
      const h = await p.open(sftp, `/inbox/${DS}/f${i}.pgp`, 'w');
      await p.write(sftp, h, Buffer.from('x'), 0);
      handles.push(h);
    }
    const closes = handles.map((h) => p.close(sftp, h).catch((e: unknown) => e));
    for (let i = 0; i < 4; i++) void p.stat(sftp, '/').catch(() => undefined);
    await closed;
    expect(gw.audit.ofType('sftp.limit').map((e) => e.details?.['code'])).toContain('LIMIT_REQUESTS');
    release({ status: 'accepted', message: 'ok' });
    await Promise.all(closes);
    await bystanderStillServed();
  });

  it('READ lengths are clamped to maxReadLength', async () => {
    publish(gw, COMMUNE, DS, 'big.pgp', Buffer.alloc(100_000, 7));
    const { sftp, client } = await ssh2Sftp(gw, COMMUNE);
    // ssh2's client learnt the limit from limits@openssh.com and splits its reads itself…
    expect((sftp as unknown as { _maxReadLen: number })._maxReadLen).toBe(4096);
    // …so make it send one oversized READ anyway: the gateway answers with at most 4096 bytes.
    (sftp as unknown as { _maxReadLen: number })._maxReadLen = 65536;
    const h = await p.open(sftp, `/outbox/${DS}/big.pgp`, 'r');
    const got = await p.read(sftp, h, 30_000, 0);
    expect(got.length).toBe(4096);
    await p.close(sftp, h);
    client.end();
  });
});
