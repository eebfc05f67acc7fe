/**
 * Downloads larger than the client's channel window, whose READ replies the gateway reads
 * straight into SSH packets (gateway/sftp/data-replies.ts): byte-exact with each cipher and
 * each stock client, across key re-exchanges, while the client stops reading, and mixed with
 * other replies on the same channel.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Client, SFTPWrapper } from 'ssh2';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelay } from '../helpers/relay.js';
import { COMMUNE, DS, lftp, p, psftp, publish, rclone, sftpBatch, sha256, ssh2Sftp, startGateway, type Gateway } from './harness.js';

let gw: Gateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw.close();
});

/** A delivery of `mib` MiB of random bytes (plus a few, so the last READ is short) in the commune's outbox. */
function delivery(name: string, mib: number): Buffer {
  const content = randomBytes(mib * 1024 * 1024 + 1234);
  publish(gw, COMMUNE, DS, name, content);
  return content;
}

async function completeDownloadAudited(name: string, bytes: number): Promise<void> {
  const ev = await gw.audit.waitFor((e) => e.type === 'delivery.downloaded' && e.refs?.['file'] === name, 10_000);
  expect(ev.details).toMatchObject({ complete: true, bytes });
}

describe('downloads larger than the channel window', () => {
  it.each([['aes128-gcm@openssh.com'], ['aes256-gcm@openssh.com'], ['chacha20-poly1305@openssh.com']])('OpenSSH sftp with %s: byte-exact', async (cipher) => {
    const name = `big-${cipher.split('@')[0]}.ndjson.pgp`;
    const content = delivery(name, 12);
    const local = join(gw.dir, `${name}.got`);
    const r = await sftpBatch(gw, COMMUNE, [`get /outbox/${DS}/${name} ${local}`], undefined, 60_000, ['-o', `Ciphers=${cipher}`]);
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(0);
    expect(sha256(readFileSync(local))).toBe(sha256(content));
    await completeDownloadAudited(name, content.length);
  });

  it.each([
    ['lftp', (local: string, remote: string) => lftp(gw, COMMUNE, [`get ${remote} -o ${local}`], 60_000)],
    ['rclone', (local: string, remote: string) => rclone(gw, COMMUNE, ['copyto', `gw:${remote}`, local], 60_000)],
    ['PuTTY psftp', (local: string, remote: string) => psftp(gw, COMMUNE, [`get ${remote} ${local}`])],
  ] as const)('%s: byte-exact', async (client, get) => {
    const name = `big-${client.replace(/\W+/g, '-').toLowerCase()}.ndjson.pgp`;
    const content = delivery(name, 12);
    const local = join(gw.dir, `${name}.got`);
    const r = await get(local, `/outbox/${DS}/${name}`);
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(0);
    expect(sha256(readFileSync(local))).toBe(sha256(content));
    await completeDownloadAudited(name, content.length);
  });

  it('keys re-exchanged every MiB during the transfer (packets queued by ssh2 meanwhile): byte-exact', async () => {
    const name = 'big-rekey.ndjson.pgp';
    const content = delivery(name, 12);
    const local = join(gw.dir, `${name}.got`);
    const r = await sftpBatch(gw, COMMUNE, [`get /outbox/${DS}/${name} ${local}`], undefined, 60_000, ['-v', '-o', 'Ciphers=aes128-gcm@openssh.com', '-o', 'RekeyLimit=1M']);
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(0);
    expect(sha256(readFileSync(local))).toBe(sha256(content));
    // The first key exchange plus at least one per 1 MiB the client received.
    expect(r.stderr.match(/SSH2_MSG_NEWKEYS received/g)?.length ?? 0).toBeGreaterThan(5);
  });

  it('a connection whose client stops reading gets its bytes intact while another downloads meanwhile', async () => {
    // Eight channels of one connection, each with READs for more than its window, behind a
    // relay that stops passing the gateway's bytes on: the kernel cannot take all of them, so
    // some packet buffers stay with the gateway's socket and must not serve the replies of the
    // other client, which downloads meanwhile.
    const slowName = 'big-stopped.ndjson.pgp';
    const fastName = 'big-meanwhile.ndjson.pgp';
    const slow = delivery(slowName, 4);
    const fast = delivery(fastName, 16);
    const relay = await startRelay(gw.port);
    const { client, sftp: first } = await ssh2Sftp({ ...gw, port: relay.port }, COMMUNE);
    try {
      const channels = [first];
      while (channels.length < 8) channels.push(await new Promise<SFTPWrapper>((res, rej) => client.sftp((e, s) => (e ? rej(e) : res(s)))));
      const handles = await Promise.all(channels.map((sftp) => p.open(sftp, `/outbox/${DS}/${slowName}`, 'r')));
      relay.hold();
      const chunk = 255 * 1024;
      const whole = channels.map(async (sftp, i) => {
        const reads: Promise<Buffer>[] = [];
        for (let off = 0; off < slow.length; off += chunk) reads.push(p.read(sftp, handles[i]!, chunk, off));
        return Buffer.concat(await Promise.all(reads));
      });
      await new Promise((r) => setTimeout(r, 300));
      const fastLocal = join(gw.dir, `${fastName}.got`);
      const r = await sftpBatch(gw, COMMUNE, [`get /outbox/${DS}/${fastName} ${fastLocal}`], undefined, 60_000, ['-o', 'Ciphers=aes128-gcm@openssh.com']);
      expect(r.code).toBe(0);
      expect(sha256(readFileSync(fastLocal))).toBe(sha256(fast));
      relay.release();
      for (const got of await Promise.all(whole)) expect(sha256(got)).toBe(sha256(slow));
    } finally {
      client.end();
      await relay.close();
    }
  });

  it('other replies wait behind a DATA reply the window has cut in the middle, so their bytes never land inside it', async () => {
    const name = 'big-mixed.ndjson.pgp';
    const content = delivery(name, 4);
    const relay = await startRelay(gw.port);
    const { client, sftp } = await ssh2Sftp({ ...gw, port: relay.port }, COMMUNE);
    try {
      const h = await p.open(sftp, `/outbox/${DS}/${name}`, 'r');
      relay.hold();
      // 100 KiB replies (3 full packets and a short one each) do not fill the 2 MiB window
      // exactly: the gateway stops in the middle of one (at its in-flight limit, then at the
      // window's end: in-flight.ts), and answers what follows meanwhile.
      const chunk = 100 * 1024;
      const reads: Promise<Buffer>[] = [];
      for (let off = 0; off < content.length; off += chunk) reads.push(p.read(sftp, h, chunk, off));
      await new Promise((r) => setTimeout(r, 200));
      const others: Promise<unknown>[] = [];
      for (let i = 0; i < 10; i++) others.push(p.stat(sftp, `/outbox/${DS}/${name}`), p.realpath(sftp, `/outbox/${DS}`));
      await new Promise((r) => setTimeout(r, 200));
      relay.release();
      const parts = await Promise.all(reads);
      const answers = await Promise.all(others);
      await p.close(sftp, h);
      expect(sha256(Buffer.concat(parts))).toBe(sha256(content));
      expect(answers.filter((a) => typeof a === 'string')).toEqual(Array(10).fill(`/outbox/${DS}`));
      expect(answers.filter((a) => typeof a !== 'string').map((st) => (st as { size: number }).size)).toEqual(Array(10).fill(content.length));
    } finally {
      client.end();
      await relay.close();
    }
  });
});

/**
 * Makes ssh2's client give window back only once a quarter of it is left, not at half as it
 * does (as a client could): the window adjustments it makes are held until then.
 */
function lateWindowAdjustments(client: Client, sftp: SFTPWrapper): { held: () => number } {
  type Handler = (p: unknown, recipient: number, data: Buffer) => void;
  const proto = (client as unknown as { _protocol: { channelWindowAdjust(id: number, amount: number): void; _handlers: { CHANNEL_DATA: Handler } } })._protocol;
  const ch = sftp as unknown as { outgoing: { id: number }; incoming: { id: number; window: number } };
  const opening = ch.incoming.window;
  const send = proto.channelWindowAdjust.bind(proto);
  let received = 0;
  let given = 0;
  let pending = 0;
  let held = 0;
  const flush = (): void => {
    if (pending === 0 || opening + given - received > opening / 4) return;
    send(ch.outgoing.id, pending);
    given += pending;
    pending = 0;
  };
  proto.channelWindowAdjust = (id, amount) => {
    if (id !== ch.outgoing.id) return send(id, amount);
    pending += amount;
    held++;
    flush();
  };
  const onData = proto._handlers.CHANNEL_DATA;
  proto._handlers.CHANNEL_DATA = (p, recipient, data) => {
    if (recipient === ch.incoming.id) received += data.length;
    onData(p, recipient, data);
    flush();
  };
  return { held: () => held };
}

describe('how much of the window a download keeps in flight', () => {
  it('a client that gives window back only when a quarter is left gets every byte: the gateway stops holding back', async () => {
    // The gateway keeps half the window and a packet in flight on a short path (in-flight.ts):
    // this client would wait for more forever; after 200 ms with no window back the limit goes.
    const name = 'big-late-window.ndjson.pgp';
    const content = delivery(name, 6);
    const { client, sftp } = await ssh2Sftp(gw, COMMUNE);
    try {
      const late = lateWindowAdjustments(client, sftp);
      const h = await p.open(sftp, `/outbox/${DS}/${name}`, 'r');
      const chunk = 255 * 1024;
      const reads: Promise<Buffer>[] = [];
      for (let off = 0; off < content.length; off += chunk) reads.push(p.read(sftp, h, chunk, off));
      const got = await Promise.race([Promise.all(reads), new Promise<never>((_, rej) => setTimeout(() => rej(new Error('download stalled')), 15_000))]);
      expect(sha256(Buffer.concat(got))).toBe(sha256(content));
      expect(late.held()).toBeGreaterThan(0);
      await p.close(sftp, h);
    } finally {
      client.end();
    }
  });
});
