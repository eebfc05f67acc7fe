/**
 * The interop matrix: each stock client, in batch mode, against the running gateway —
 * uploads as a partner, downloads as a commune, and the denials — exit codes and the files
 * on disk checked.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COMMUNE,
  DS,
  PARTNER,
  lftp,
  psftp,
  publish,
  rclone,
  scp,
  sftpBatch,
  sha256,
  snapshot,
  startGateway,
  type Gateway,
  type RunResult,
} from './harness.js';

interface ClientDriver {
  readonly name: string;
  put(gw: Gateway, party: string, local: string, remote: string): Promise<RunResult>;
  get(gw: Gateway, party: string, remote: string, local: string): Promise<RunResult>;
}

const GCM = ['-o', 'Ciphers=aes256-gcm@openssh.com'];

const CLIENTS: ClientDriver[] = [
  {
    name: 'OpenSSH sftp',
    put: (gw, party, local, remote) => sftpBatch(gw, party, [`put ${local} ${remote}`]),
    get: (gw, party, remote, local) => sftpBatch(gw, party, [`get ${remote} ${local}`]),
  },
  {
    // OpenSSH picks chacha20-poly1305; this one makes the gateway frame its packets for AES-GCM
    // (gateway/ssh/ssh2-padding.ts replaces ssh2's padding there).
    name: 'OpenSSH sftp, aes256-gcm',
    put: (gw, party, local, remote) => sftpBatch(gw, party, [`put ${local} ${remote}`], undefined, undefined, GCM),
    get: (gw, party, remote, local) => sftpBatch(gw, party, [`get ${remote} ${local}`], undefined, undefined, GCM),
  },
  {
    name: 'OpenSSH scp',
    put: (gw, party, local, remote) => scp(gw, party, local, `:${remote}`),
    get: (gw, party, remote, local) => scp(gw, party, `:${remote}`, local),
  },
  {
    name: 'lftp',
    put: (gw, party, local, remote) => lftp(gw, party, [`put ${local} -o ${remote}`]),
    get: (gw, party, remote, local) => lftp(gw, party, [`get ${remote} -o ${local}`]),
  },
  {
    name: 'rclone',
    put: (gw, party, local, remote) => rclone(gw, party, ['copyto', local, `gw:${remote}`]),
    get: (gw, party, remote, local) => rclone(gw, party, ['copyto', `gw:${remote}`, local]),
  },
  {
    name: 'PuTTY psftp',
    put: (gw, party, local, remote) => psftp(gw, party, [`put ${local} ${remote}`]),
    get: (gw, party, remote, local) => psftp(gw, party, [`get ${remote} ${local}`]),
  },
];

let gw: Gateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw.close();
});

describe.each(CLIENTS)('$name', (client) => {
  const slug = client.name.replace(/\W+/g, '-').toLowerCase();

  it('uploads as a partner: exit 0, staging byte-exact, handed to intake once, audited with its SHA-256', async () => {
    const content = randomBytes(1536 * 1024 + 7);
    const local = join(gw.dir, `${slug}-up.bin`);
    writeFileSync(local, content);
    const name = `${slug}-export.csv.pgp`;
    const r = await client.put(gw, PARTNER, local, `/inbox/${DS}/${name}`);
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(0);
    const done = gw.intake.finished.filter((f) => f.ctx.clientName === name);
    expect(done).toHaveLength(1);
    const f = done[0]!;
    expect(f.ctx).toMatchObject({ partnerId: PARTNER, datasetId: DS });
    expect(f.size).toBe(content.length);
    expect(readFileSync(f.stagingPath).equals(content)).toBe(true);
    expect(f.stagingPath.startsWith(gw.layout.staging)).toBe(true);
    const ev = gw.audit.ofType('sftp.upload.committed').find((e) => e.refs?.['uploadId'] === f.ctx.uploadId);
    expect(ev?.refs?.['sha256']).toBe(sha256(content));
    expect(ev?.details?.['bytes']).toBe(content.length);
  });

  it('downloads as a commune: exit 0, byte-exact, a complete download audited', async () => {
    const content = randomBytes(1024 * 1024 + 3);
    const name = `${slug}-d.ndjson.pgp`;
    publish(gw, COMMUNE, DS, name, content);
    const local = join(gw.dir, `${slug}-down.bin`);
    const r = await client.get(gw, COMMUNE, `/outbox/${DS}/${name}`, local);
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(0);
    expect(readFileSync(local).equals(content)).toBe(true);
    // Some clients (lftp) quit without waiting for their CLOSE: the event may follow the exit.
    const ev = await gw.audit.waitFor((e) => e.type === 'delivery.downloaded' && e.refs?.['file'] === name, 10_000);
    expect(ev.details).toMatchObject({ complete: true, bytes: content.length });
    expect(ev.actor).toMatchObject({ id: COMMUNE, kind: 'recipient' });
  });

  it('exits non-zero when the intake rejects the file', async () => {
    const local = join(gw.dir, `${slug}-rej.bin`);
    writeFileSync(local, 'not pgp\n');
    gw.intake.decide = () => ({ status: 'rejected', code: 'PGP_NOT_ENCRYPTED', message: "le fichier n'est pas chiffré pour la passerelle" });
    try {
      const r = await client.put(gw, PARTNER, local, `/inbox/${DS}/${slug}-rejected.pgp`);
      expect(r.timedOut).toBe(false);
      expect(r.code).not.toBe(0);
    } finally {
      gw.intake.decide = () => ({ status: 'accepted', message: 'ok' });
    }
  });

  describe('denials (non-zero exit, nothing written)', () => {
    it('a partner cannot read its inbox back', async () => {
      const local = join(gw.dir, `${slug}-again.bin`);
      writeFileSync(local, 'x');
      expect((await client.put(gw, PARTNER, local, `/inbox/${DS}/${slug}-readback.pgp`)).code).toBe(0);
      const out = join(gw.dir, `${slug}-readback.out`);
      const r = await client.get(gw, PARTNER, `/inbox/${DS}/${slug}-readback.pgp`, out);
      expect(r.timedOut).toBe(false);
      expect(r.code).not.toBe(0);
      expect(existsSync(out) ? readFileSync(out).length : 0).toBe(0);
    });

    it('a commune cannot write, anywhere', async () => {
      const local = join(gw.dir, `${slug}-w.bin`);
      writeFileSync(local, 'x');
      const before = snapshot(gw.layout.root);
      for (const remote of [`/outbox/${DS}/${slug}.pgp`, `/${slug}.pgp`, `/inbox/${DS}/${slug}.pgp`]) {
        const r = await client.put(gw, COMMUNE, local, remote);
        expect(r.timedOut, remote).toBe(false);
        expect(r.code, remote).not.toBe(0);
      }
      expect(snapshot(gw.layout.root)).toEqual(before);
    });

    it('no one reaches outside its tree', async () => {
      const local = join(gw.dir, `${slug}-o.bin`);
      writeFileSync(local, 'x');
      const before = snapshot(gw.layout.root);
      const out = join(gw.dir, `${slug}-passwd`);
      for (const party of [PARTNER, COMMUNE]) {
        expect((await client.get(gw, party, '/etc/passwd', out)).code).not.toBe(0);
        expect((await client.get(gw, party, '/../../../etc/passwd', out)).code).not.toBe(0);
        expect((await client.put(gw, party, local, '/staging/x.pgp')).code).not.toBe(0);
      }
      expect(existsSync(out)).toBe(false);
      expect((await client.get(gw, PARTNER, `/outbox/${DS}/${slug}-d.ndjson.pgp`, out)).code).not.toBe(0);
      expect(snapshot(gw.layout.root)).toEqual(before);
    });
  });
});
