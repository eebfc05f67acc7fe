/**
 * OpenSSH sftp in batch mode: listings, rename commits, removal, receipts, resuming an
 * interrupted upload with `reput`, and the ssh2 defects the adapter works around.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeChannelCleanly } from '../../gateway/sftp/ssh2-fixes.js';
import {
  COMMUNE,
  DS,
  OTHER_COMMUNE,
  OTHER_DS,
  OTHER_PARTNER,
  PARTNER,
  p,
  lftp,
  publish,
  rclone,
  run,
  scp,
  sftpBatch,
  sha256,
  sshOptions,
  ssh2Sftp,
  startGateway,
  writeReceipt,
  type Gateway,
} from './harness.js';

let gw: Gateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw.close();
});

function local(name: string, content: Buffer | string): string {
  const path = join(gw.dir, name);
  writeFileSync(path, content);
  return path;
}

describe('ssh2 server defects worked around (each test fails without its fix)', () => {
  it('sftp -b returns at bye: the gateway closes the channel after the client EOF', async () => {
    const r = await sftpBatch(gw, PARTNER, ['pwd', 'bye'], undefined, 15_000);
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Remote working directory: /');
  });

  it('OpenSSH 9 scp exits 0: an exit-status is sent for the subsystem channel', async () => {
    const r = await scp(gw, PARTNER, local('scp-exit.pgp', 'x'), `:/inbox/${DS}/scp-exit.pgp`);
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(0);
  });

  it('ls ends: READDIR answers EOF after the last batch, listings are complete', async () => {
    for (let i = 0; i < 150; i++) publish(gw, OTHER_COMMUNE, DS, `many-${String(i).padStart(3, '0')}.pgp`, 'x');
    const r = await sftpBatch(gw, OTHER_COMMUNE, ['ls /', 'ls /outbox', `ls -1 /outbox/${DS}`], undefined, 15_000);
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(0);
    const names = r.stdout.split('\n').filter((l) => /(^|\/)many-\d{3}\.pgp$/.test(l.trim()));
    expect(names).toHaveLength(150);
    expect(r.stdout).toMatch(/\/outbox\s/);
    // rclone (Go pkg/sftp) and lftp keep asking until they get EOF: without it they hang.
    const rc = await rclone(gw, OTHER_COMMUNE, ['lsf', `gw:/outbox/${DS}`], 15_000);
    expect(rc.timedOut).toBe(false);
    expect(rc.code).toBe(0);
    expect(rc.stdout.split('\n').filter((l) => l.startsWith('many-'))).toHaveLength(150);
    const lf = await lftp(gw, OTHER_COMMUNE, [`cls -1 /outbox/${DS}`], 15_000);
    expect(lf.timedOut).toBe(false);
    expect(lf.code).toBe(0);
    expect(lf.stdout.split('\n').filter((l) => /many-\d{3}\.pgp$/.test(l))).toHaveLength(150);
  });

  it('limits@openssh.com is advertised and answered, so OpenSSH uses large requests', async () => {
    const content = randomBytes(3 * 1024 * 1024 + 1);
    const batch = join(gw.dir, 'limits-batch');
    writeFileSync(batch, `put ${local('limits.bin', content)} /inbox/${DS}/limits.pgp\n`);
    const r = await run('sftp', ['-vvv', '-b', batch, '-P', String(gw.port), ...sshOptions(gw, PARTNER), `${PARTNER}@127.0.0.1`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('Server supports extension "limits@openssh.com"');
    expect(r.stderr).toMatch(/Received limits reply T:201/);
    const f = gw.intake.finished.find((x) => x.ctx.clientName === 'limits.pgp')!;
    expect(readFileSync(f.stagingPath).equals(content)).toBe(true);
  });

  it('closeChannelCleanly does nothing on a channel that is not open', () => {
    const calls: string[] = [];
    const fake = {
      incoming: { state: 'closed' },
      outgoing: { id: 1, state: 'closed' },
      _protocol: { exitStatus: () => calls.push('exit'), channelEOF: () => calls.push('eof') },
      end: () => calls.push('end'),
    };
    closeChannelCleanly(fake as never);
    expect(calls).toEqual([]);
  });
});

describe('partner view', () => {
  it('lists only the datasets it may send, and its own receipts', async () => {
    writeReceipt(gw, PARTNER, '01jdaaaaaaaaaaaaaaaaaaaaaa.json', '{"status":"accepted"}');
    writeReceipt(gw, OTHER_PARTNER, '01jdbbbbbbbbbbbbbbbbbbbbbb.json', '{"status":"accepted"}');
    const r = await sftpBatch(gw, PARTNER, ['ls -1 /', 'ls -1 /inbox', 'ls -1 /receipts']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(DS);
    expect(r.stdout).not.toContain(OTHER_DS);
    expect(r.stdout).toContain('01jdaaaaaaaaaaaaaaaaaaaaaa.json');
    expect(r.stdout).not.toContain('01jdbbbbbbbbbbbbbbbbbbbbbb');
    expect((await sftpBatch(gw, PARTNER, [`ls /inbox/${OTHER_DS}`])).code).not.toBe(0);
  });

  it('downloads and deletes its receipts, audited', async () => {
    const path = writeReceipt(gw, PARTNER, '01jdcccccccccccccccccccccc.json', '{"status":"rejected"}');
    const out = join(gw.dir, 'receipt.json');
    const r = await sftpBatch(gw, PARTNER, ['get /receipts/01jdcccccccccccccccccccccc.json ' + out, 'rm /receipts/01jdcccccccccccccccccccccc.json']);
    expect(r.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('{"status":"rejected"}');
    expect(existsSync(path)).toBe(false);
    expect(gw.audit.ofType('receipt.downloaded').some((e) => e.refs?.['file'] === '01jdcccccccccccccccccccccc.json')).toBe(true);
    expect(gw.audit.ofType('receipt.deleted').some((e) => e.refs?.['file'] === '01jdcccccccccccccccccccccc.json')).toBe(true);
  });

  it('commits a temporary name on RENAME, not on CLOSE; its bytes went to the intake while they arrived', async () => {
    const content = randomBytes(200_000);
    const before = gw.intake.finished.length;
    const up = await sftpBatch(gw, PARTNER, [`put ${local('tmp.bin', content)} /inbox/${DS}/lot.pgp.filepart`]);
    expect(up.code).toBe(0);
    expect(gw.intake.finished.length).toBe(before);
    const ls = await sftpBatch(gw, PARTNER, [`ls -1 /inbox/${DS}`]);
    expect(ls.stdout).toContain('lot.pgp.filepart');
    const mv = await sftpBatch(gw, PARTNER, [`rename /inbox/${DS}/lot.pgp.filepart /inbox/${DS}/lot.pgp`]);
    expect(mv.code).toBe(0);
    const f = gw.intake.finished.at(-1)!;
    expect(f.clientName).toBe('lot.pgp');
    expect(f.ctx.clientName).toBe('lot.pgp.filepart');
    expect(f.pushedBytes).toBe(content.length);
    expect(readFileSync(f.stagingPath).equals(content)).toBe(true);
    expect(gw.audit.ofType('sftp.upload.committed').at(-1)?.refs?.['sha256']).toBe(sha256(content));
  });

  it('a rejected RENAME commit exits non-zero', async () => {
    await sftpBatch(gw, PARTNER, [`put ${local('tmp2.bin', 'y')} /inbox/${DS}/.hidden-upload.pgp`]);
    gw.intake.decide = () => ({ status: 'rejected', code: 'SCHEMA_INVALID', message: 'enregistrement 1 invalide' });
    try {
      const r = await sftpBatch(gw, PARTNER, [`rename /inbox/${DS}/.hidden-upload.pgp /inbox/${DS}/final.pgp`]);
      expect(r.code).not.toBe(0);
    } finally {
      gw.intake.decide = () => ({ status: 'accepted', message: 'ok' });
    }
  });

  it('cannot remove or rename a committed upload, nor make directories', async () => {
    await sftpBatch(gw, PARTNER, [`put ${local('c.bin', 'z')} /inbox/${DS}/committed.pgp`]);
    for (const cmd of [`rm /inbox/${DS}/committed.pgp`, `rename /inbox/${DS}/committed.pgp /inbox/${DS}/other.pgp`, `mkdir /inbox/${DS}/sub`, 'mkdir /x', 'rmdir /inbox', `ln -s /etc/passwd /inbox/${DS}/l.pgp`]) {
      const r = await sftpBatch(gw, PARTNER, [cmd]);
      expect(r.code, cmd).not.toBe(0);
    }
  });
});

describe('configuration changes', () => {
  it('a convention that ends takes effect on the next request of a live session', async () => {
    const { sftp, client } = await ssh2Sftp(gw, PARTNER);
    const before = gw.config.current();
    try {
      expect((await p.stat(sftp, `/inbox/${DS}`)).isDirectory()).toBe(true);
      gw.config.set({ ...before, conventions: before.conventions.filter((c) => !c.senders.some((g) => g.party === PARTNER)) });
      await expect(p.stat(sftp, `/inbox/${DS}`)).rejects.toMatchObject({ code: 2 });
      await expect(p.open(sftp, `/inbox/${DS}/late.pgp`, 'w')).rejects.toMatchObject({ code: 2 });
    } finally {
      gw.config.set(before);
      client.end();
    }
  });
});

describe('recipient view', () => {
  it('sees only its own outbox; downloads with correct sizes and times; deletes', async () => {
    const mine = publish(gw, COMMUNE, DS, 'mine.ndjson.pgp', 'abc');
    publish(gw, OTHER_COMMUNE, DS, 'theirs.ndjson.pgp', 'def');
    const r = await sftpBatch(gw, COMMUNE, [`ls -l /outbox/${DS}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/-rw-------\s+1 ludres\s+ludres\s+3 \w{3} [ \d]\d \d\d:\d\d mine\.ndjson\.pgp/);
    expect(r.stdout).not.toContain('theirs');
    const { sftp, client } = await ssh2Sftp(gw, COMMUNE);
    const st = await p.stat(sftp, `/outbox/${DS}/mine.ndjson.pgp`);
    expect(st.size).toBe(3);
    expect(Math.abs(st.mtime * 1000 - Date.now())).toBeLessThan(3_600_000);
    await expect(p.stat(sftp, `/outbox/${DS}/theirs.ndjson.pgp`)).rejects.toMatchObject({ code: 2 }); // NO_SUCH_FILE
    client.end();
    const rm = await sftpBatch(gw, COMMUNE, [`rm /outbox/${DS}/mine.ndjson.pgp`]);
    expect(rm.code).toBe(0);
    expect(existsSync(mine)).toBe(false);
    expect(gw.audit.ofType('delivery.deleted').some((e) => e.refs?.['file'] === 'mine.ndjson.pgp')).toBe(true);
  });

  it('resumes a download (reget) and reports a partial read as not complete', async () => {
    const content = randomBytes(300_000);
    publish(gw, COMMUNE, DS, 'resume.pgp', content);
    const { sftp, client } = await ssh2Sftp(gw, COMMUNE);
    const h = await p.open(sftp, `/outbox/${DS}/resume.pgp`, 'r');
    const first = await p.read(sftp, h, 100_000, 0);
    await p.close(sftp, h);
    client.end();
    const partial = gw.audit.ofType('delivery.downloaded').filter((e) => e.refs?.['file'] === 'resume.pgp');
    expect(partial.at(-1)?.details).toMatchObject({ complete: false, bytesRead: 100_000 });
    const out = join(gw.dir, 'resume.out');
    writeFileSync(out, first);
    const r = await sftpBatch(gw, COMMUNE, [`reget /outbox/${DS}/resume.pgp ${out}`]);
    expect(r.code).toBe(0);
    expect(readFileSync(out).equals(content)).toBe(true);
  });
});

describe('resumable uploads', () => {
  it('a dropped connection never commits; reput continues the partial kept in staging', async () => {
    const content = randomBytes(2 * 1024 * 1024 + 11);
    const half = 1024 * 1024;
    const { sftp, client } = await ssh2Sftp(gw, PARTNER);
    const h = await p.open(sftp, `/inbox/${DS}/big.pgp`, 'w');
    for (let off = 0; off < half; off += 32768) await p.write(sftp, h, content.subarray(off, Math.min(off + 32768, half)), off);
    const finishedBefore = gw.intake.finished.length;
    client.destroy(); // no CLOSE: the connection just drops
    const aborted = await gw.audit.waitFor((e) => e.type === 'sftp.upload.aborted' && e.details?.['clientName'] === 'big.pgp');
    expect(aborted.details).toMatchObject({ bytes: half, resumable: true });
    expect(gw.intake.finished.length).toBe(finishedBefore);
    expect(gw.uploads.get(PARTNER, DS, 'big.pgp')).toMatchObject({ state: 'parked', size: half });

    const r = await sftpBatch(gw, PARTNER, [`reput ${local('big.bin', content)} /inbox/${DS}/big.pgp`]);
    expect(r.code).toBe(0);
    const f = gw.intake.finished.at(-1)!;
    expect(f.ctx.clientName).toBe('big.pgp');
    expect(f.size).toBe(content.length);
    expect(readFileSync(f.stagingPath).equals(content)).toBe(true);
    expect(gw.audit.ofType('sftp.upload.committed').at(-1)?.refs?.['sha256']).toBe(sha256(content));
  });

  it('an OpenSSH sftp killed mid-upload leaves a partial that its reput completes', async () => {
    const content = randomBytes(128 * 1024 * 1024);
    const src = local('killed.bin', content);
    const batch = join(gw.dir, 'killed-batch');
    writeFileSync(batch, `put ${src} /inbox/${DS}/killed.pgp\n`);
    const child = spawn('sftp', ['-b', batch, '-P', String(gw.port), ...sshOptions(gw, PARTNER), `${PARTNER}@127.0.0.1`], { detached: true, stdio: 'ignore' });
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    // Kill the client (and its ssh) once a few MiB have arrived.
    for (let i = 0; i < 600; i++) {
      const e = gw.uploads.get(PARTNER, DS, 'killed.pgp');
      if (e && e.size >= 4 * 1024 * 1024) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    const aborted = await gw.audit.waitFor((e) => e.type === 'sftp.upload.aborted' && e.details?.['clientName'] === 'killed.pgp');
    const partial = aborted.details?.['bytes'] as number;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(content.length);
    expect(gw.intake.finished.some((f) => f.ctx.clientName === 'killed.pgp')).toBe(false);
    const r = await sftpBatch(gw, PARTNER, [`reput ${src} /inbox/${DS}/killed.pgp`], undefined, 120_000);
    expect(r.code).toBe(0);
    const f = gw.intake.finished.find((x) => x.ctx.clientName === 'killed.pgp')!;
    expect(f.size).toBe(content.length);
    expect(readFileSync(f.stagingPath).equals(content)).toBe(true);
  }, 180_000);

  it('parallel uploads from several sessions each land byte-exact under their own upload id', async () => {
    const files = Array.from({ length: 8 }, (_, i) => ({ name: `par-${i}.pgp`, content: randomBytes(2 * 1024 * 1024 + i) }));
    const results = await Promise.all(
      files.map((f, i) => sftpBatch(gw, i % 2 ? OTHER_PARTNER : PARTNER, [`put ${local(f.name, f.content)} /inbox/${i % 2 ? OTHER_DS : DS}/${f.name}`])),
    );
    expect(results.map((r) => r.code)).toEqual(files.map(() => 0));
    const ids = new Set<string>();
    files.forEach((f, i) => {
      const done = gw.intake.finished.find((x) => x.ctx.clientName === f.name)!;
      expect(done.ctx.partnerId).toBe(i % 2 ? OTHER_PARTNER : PARTNER);
      expect(readFileSync(done.stagingPath).equals(f.content)).toBe(true);
      ids.add(done.ctx.uploadId);
    });
    expect(ids.size).toBe(files.length);
  });

  it('a temporary file cut off by a dropped connection cannot be committed by RENAME until resumed', async () => {
    const content = randomBytes(300_000);
    const a = await ssh2Sftp(gw, PARTNER);
    const h = await p.open(a.sftp, `/inbox/${DS}/cut.pgp.filepart`, 'w');
    await p.write(a.sftp, h, content.subarray(0, 100_000), 0);
    a.client.destroy();
    await gw.audit.waitFor((e) => e.type === 'sftp.upload.aborted' && e.details?.['clientName'] === 'cut.pgp.filepart');
    const b = await ssh2Sftp(gw, PARTNER);
    await expect(p.rename(b.sftp, `/inbox/${DS}/cut.pgp.filepart`, `/inbox/${DS}/cut.pgp`)).rejects.toThrow(/UPLOAD_INCOMPLETE/);
    expect(gw.intake.finished.some((f) => f.ctx.clientName === 'cut.pgp')).toBe(false);
    // Resumed (open without truncation, write the rest), closed, then renamed: committed whole.
    const h2 = await p.open(b.sftp, `/inbox/${DS}/cut.pgp.filepart`, 'r+');
    await p.write(b.sftp, h2, content.subarray(100_000), 100_000);
    await p.close(b.sftp, h2);
    await p.rename(b.sftp, `/inbox/${DS}/cut.pgp.filepart`, `/inbox/${DS}/cut.pgp`);
    b.client.end();
    const f = gw.intake.finished.find((x) => x.ctx.clientName === 'cut.pgp')!;
    expect(readFileSync(f.stagingPath).equals(content)).toBe(true);
  });

  it('a CLOSE after a failed WRITE is not a commit', async () => {
    const small = await startGateway({ maxFileBytes: 100_000 });
    try {
      const { sftp, client } = await ssh2Sftp(small, PARTNER);
      const h = await p.open(sftp, `/inbox/${DS}/too-big.pgp`, 'w');
      await p.write(sftp, h, Buffer.alloc(60_000), 0);
      await expect(p.write(sftp, h, Buffer.alloc(60_000), 60_000)).rejects.toThrow(/FILE_TOO_LARGE/);
      await expect(p.close(sftp, h)).rejects.toThrow(/FILE_TOO_LARGE/);
      client.end();
      expect(small.intake.finished).toHaveLength(0);
      expect(small.intake.aborted.map((c) => c.clientName)).toEqual(['too-big.pgp']);
    } finally {
      await small.close();
    }
  });

  it('a partial is deleted from staging after partialUploadKeepMs', async () => {
    const quick = await startGateway({ partialUploadKeepMs: 200 });
    try {
      const { sftp, client } = await ssh2Sftp(quick, PARTNER);
      const h = await p.open(sftp, `/inbox/${DS}/gone.pgp`, 'w');
      await p.write(sftp, h, Buffer.alloc(1000, 1), 0);
      const staged = quick.uploads.get(PARTNER, DS, 'gone.pgp')!.stagingPath;
      client.destroy();
      await quick.audit.waitFor((e) => e.type === 'sftp.upload.aborted');
      expect(existsSync(staged)).toBe(true);
      for (let i = 0; i < 50 && existsSync(staged); i++) await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(staged)).toBe(false);
      expect(quick.uploads.get(PARTNER, DS, 'gone.pgp')).toBeUndefined();
    } finally {
      await quick.close();
    }
  });

  it('writes out of order: committed byte-exact, streaming stopped, SHA-256 from the file', async () => {
    const content = randomBytes(3 * 1024 * 1024);
    const { sftp, client } = await ssh2Sftp(gw, PARTNER);
    const h = await p.open(sftp, `/inbox/${DS}/shuffled.pgp`, 'w');
    const chunks = [];
    for (let off = 0; off < content.length; off += 65536) chunks.push(off);
    chunks.reverse();
    await Promise.all(chunks.map((off) => p.write(sftp, h, content.subarray(off, off + 65536), off)));
    await p.close(sftp, h);
    client.end();
    const f = gw.intake.finished.at(-1)!;
    expect(f.ctx.clientName).toBe('shuffled.pgp');
    expect(readFileSync(f.stagingPath).equals(content)).toBe(true);
    expect(f.pushedBytes).toBeLessThan(content.length);
    expect(gw.audit.ofType('sftp.upload.committed').at(-1)?.refs?.['sha256']).toBe(sha256(content));
  });

  it('in-order writes are streamed to the intake as they arrive', async () => {
    const content = randomBytes(5 * 1024 * 1024 + 5);
    const r = await sftpBatch(gw, PARTNER, [`put ${local('stream.bin', content)} /inbox/${DS}/stream.pgp`]);
    expect(r.code).toBe(0);
    const f = gw.intake.finished.at(-1)!;
    expect(f.pushedBytes).toBe(content.length);
  });

  it('one name is written by one handle at a time; partials are private to their partner', async () => {
    const a = await ssh2Sftp(gw, PARTNER);
    const b = await ssh2Sftp(gw, PARTNER);
    const h = await p.open(a.sftp, `/inbox/${DS}/same.pgp`, 'w');
    await expect(p.open(b.sftp, `/inbox/${DS}/same.pgp`, 'w')).rejects.toMatchObject({ code: 3 });
    await p.write(a.sftp, h, Buffer.from('abc'), 0);
    a.client.destroy();
    await gw.audit.waitFor((e) => e.type === 'sftp.upload.aborted' && e.details?.['clientName'] === 'same.pgp');
    expect(await p.readdir(b.sftp, `/inbox/${DS}`)).toContain('same.pgp');
    b.client.end();
    const other = await ssh2Sftp(gw, OTHER_PARTNER);
    expect(await p.readdir(other.sftp, `/inbox/${OTHER_DS}`)).toEqual([]);
    await expect(p.stat(other.sftp, `/inbox/${DS}/same.pgp`)).rejects.toMatchObject({ code: 2 });
    other.client.end();
  });

  it('a file with a hole is refused as incomplete', async () => {
    const { sftp, client } = await ssh2Sftp(gw, PARTNER);
    const h = await p.open(sftp, `/inbox/${DS}/holes.pgp`, 'w');
    await p.write(sftp, h, Buffer.alloc(100, 1), 0);
    await p.write(sftp, h, Buffer.alloc(100, 2), 1000);
    await expect(p.close(sftp, h)).rejects.toThrow(/UPLOAD_INCOMPLETE/);
    client.end();
    expect(gw.intake.finished.some((f) => f.ctx.clientName === 'holes.pgp')).toBe(false);
  });
});
