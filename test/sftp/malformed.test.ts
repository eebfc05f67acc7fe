/**
 * Malformed SFTP packets, written raw into an authenticated partner's sftp channel (security.md,
 * invariants 1 and 6: bad input gets a precise error and changes nothing else). Packet framing,
 * lengths that overflow 32 bits, truncated strings and attributes, requests before INIT, unknown
 * and forged handles, offsets past the file limit and past 2^53, extensions the gateway does not
 * serve. Each case ends in a status for its request or in the end of that one session; after all
 * of them the gateway still serves, no file outside staging appeared or changed, and staging
 * holds no file larger than what was sent.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, type ClientChannel } from 'ssh2';
import { DS, PARTNER, COMMUNE, p, publish, snapshot, ssh2Sftp, startGateway, type Gateway } from './harness.js';

const STATUS = { OK: 0, EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, OP_UNSUPPORTED: 8 } as const;
const FXP = { INIT: 1, OPEN: 3, CLOSE: 4, READ: 5, WRITE: 6, FSTAT: 8, SETSTAT: 9, OPENDIR: 11, READDIR: 12, RENAME: 18, EXTENDED: 200 } as const;
const MAX_FILE = 1 << 20;

let gw: Gateway;
let before: Map<string, string>;
beforeAll(async () => {
  gw = await startGateway({ maxFileBytes: MAX_FILE });
  publish(gw, COMMUNE, DS, 'delivered.ndjson.pgp', 'ludres data');
  before = outsideStaging();
});
afterAll(async () => {
  await gw.close();
});

function outsideStaging(): Map<string, string> {
  const all = snapshot(gw.layout.root);
  const staging = gw.layout.staging.slice(gw.layout.root.length);
  return new Map([...all].filter(([k]) => !k.startsWith(staging)));
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const u64 = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const str = (s: string | Buffer): Buffer => {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return Buffer.concat([u32(b.length), b]);
};
const packet = (type: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat([Buffer.from([type]), ...parts]);
  return Buffer.concat([u32(body.length), body]);
};
const INIT = packet(FXP.INIT, u32(3));
/** OPEN for writing (WRITE | CREAT | TRUNC), no attributes. */
const openWrite = (id: number, path: string): Buffer => packet(FXP.OPEN, u32(id), str(path), u32(0x1a), u32(0));
const write = (id: number, handle: Buffer, offset: bigint, data: Buffer): Buffer => packet(FXP.WRITE, u32(id), str(handle), u64(offset), str(data));

interface Reply {
  readonly type: number;
  readonly id: number;
  readonly code?: number;
  readonly message?: string;
  readonly handle?: Buffer;
}

/** A raw sftp channel: what is written goes as is; replies are parsed by request id. */
class RawSftp {
  private buf = Buffer.alloc(0);
  private readonly replies = new Map<number, Reply>();
  private readonly waiting = new Map<number, (r: Reply) => void>();
  readonly closed: Promise<'closed'>;

  private constructor(
    private readonly client: Client,
    private readonly ch: ClientChannel,
  ) {
    this.closed = new Promise((r) => {
      ch.on('close', () => r('closed'));
      client.on('close', () => r('closed'));
    });
    ch.on('data', (d: Buffer) => this.parse(d));
  }

  static async open(): Promise<RawSftp> {
    const client = new Client();
    await new Promise<void>((resolve, reject) => {
      client.on('ready', () => resolve());
      client.on('error', reject);
      client.connect({ host: '127.0.0.1', port: gw.port, username: PARTNER, privateKey: readFileSync(gw.keys[PARTNER]!.privateKey) });
    });
    client.on('error', () => undefined);
    const ch = await new Promise<ClientChannel>((resolve, reject) => client.subsys('sftp', (err, s) => (err ? reject(err) : resolve(s))));
    return new RawSftp(client, ch);
  }

  send(...bufs: Buffer[]): void {
    this.ch.write(Buffer.concat(bufs));
  }

  /** The reply to request `id` (VERSION is id 0), or 'closed' if the session ends first. */
  reply(id: number): Promise<Reply | 'closed'> {
    const r = this.replies.get(id);
    if (r) return Promise.resolve(r);
    return Promise.race([new Promise<Reply>((res) => this.waiting.set(id, res)), this.closed]);
  }

  /** 'closed' if the session ends within `ms`, else 'open'. */
  async endsWithin(ms: number): Promise<'closed' | 'open'> {
    return Promise.race([this.closed, new Promise<'open'>((r) => setTimeout(() => r('open'), ms))]);
  }

  end(): void {
    this.client.end();
  }

  private parse(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readUInt32BE(0)) {
      const body = this.buf.subarray(4, 4 + this.buf.readUInt32BE(0));
      this.buf = this.buf.subarray(4 + body.length);
      const type = body[0]!;
      const id = type === 2 ? 0 : body.readUInt32BE(1);
      let r: Reply = { type, id };
      if (type === 101) r = { ...r, code: body.readUInt32BE(5), message: body.subarray(13, 13 + body.readUInt32BE(9)).toString() };
      if (type === 102) r = { ...r, handle: Buffer.from(body.subarray(9, 9 + body.readUInt32BE(5))) };
      this.replies.set(id, r);
      this.waiting.get(id)?.(r);
    }
  }
}

/** A session past INIT. */
async function session(): Promise<RawSftp> {
  const s = await RawSftp.open();
  s.send(INIT);
  expect((await s.reply(0)) as Reply).toMatchObject({ type: 2 });
  return s;
}

async function handleFor(s: RawSftp, id: number, path: string): Promise<Buffer> {
  s.send(openWrite(id, path));
  const r = await s.reply(id);
  expect(r).toMatchObject({ type: 102 });
  return (r as Reply).handle!;
}

/** Framing errors: nothing to answer, the session ends (and only it). */
const fatal: { name: string; bytes: Buffer }[] = [
  { name: 'a packet of length 0', bytes: u32(0) },
  { name: 'a length of 2^31 (negative as a signed 32-bit integer)', bytes: Buffer.concat([u32(0x80000000), Buffer.from([FXP.OPEN, 0, 0, 0, 1])]) },
  { name: 'a length of 2^32 - 1', bytes: Buffer.concat([u32(0xffffffff), Buffer.from([FXP.OPEN, 0, 0, 0, 1])]) },
  { name: 'a second INIT', bytes: INIT },
  { name: 'OPEN whose name is longer than its packet', bytes: packet(FXP.OPEN, u32(5), u32(1000), Buffer.from('abc')) },
  { name: 'OPEN whose name length is 2^32 - 1', bytes: packet(FXP.OPEN, u32(5), u32(0xffffffff), Buffer.from('abc')) },
  { name: 'OPEN without its flags', bytes: packet(FXP.OPEN, u32(5), str(`/inbox/${DS}/b.pgp`)) },
  { name: 'OPEN with every attribute flag and no attributes', bytes: packet(FXP.OPEN, u32(5), str(`/inbox/${DS}/c.pgp`), u32(0x1a), u32(0xffffffff)) },
  { name: 'SETSTAT with every attribute flag and no attributes', bytes: packet(FXP.SETSTAT, u32(5), str(`/inbox/${DS}`), u32(0xffffffff)) },
  { name: 'RENAME without its target', bytes: packet(FXP.RENAME, u32(5), str(`/inbox/${DS}/a.part`)) },
  { name: 'WRITE whose data length passes its packet', bytes: packet(FXP.WRITE, u32(5), str('abcd'), u64(0n), u32(1 << 20), Buffer.from('xy')) },
  { name: 'a handle over 256 bytes (SFTP v3 limit)', bytes: packet(FXP.FSTAT, u32(5), str(Buffer.alloc(257, 1))) },
  { name: '4 KiB of noise', bytes: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 255)) },
];

describe('malformed SFTP packets end only their own session', () => {
  for (const c of fatal) {
    it(c.name, async () => {
      const s = await session();
      const bystander = await ssh2Sftp(gw, PARTNER);
      s.send(c.bytes);
      expect(await s.endsWithin(5000)).toBe('closed');
      // The other session of the same partner goes on.
      expect(await p.readdir(bystander.sftp, '/inbox')).toContain(DS);
      bystander.client.end();
    });
  }

  it('a request before INIT ends the session unanswered', async () => {
    const s = await RawSftp.open();
    s.send(openWrite(1, `/inbox/${DS}/early.pgp`));
    expect(await s.reply(1)).toBe('closed');
  });
});

describe('well-formed requests the gateway must refuse, one status each, the session going on', () => {
  it('forged, empty and unknown handles', async () => {
    const s = await session();
    s.send(write(2, Buffer.from('zzzz'), 0n, Buffer.from('data')));
    s.send(write(3, Buffer.alloc(0), 0n, Buffer.from('data')));
    s.send(packet(FXP.CLOSE, u32(4), str(Buffer.from([0, 0, 0, 1]))));
    s.send(packet(FXP.READ, u32(5), str('abcd'), u64(0n), u32(0xffffffff)));
    s.send(packet(FXP.FSTAT, u32(6), str(Buffer.alloc(256, 1))));
    for (const id of [2, 3, 4, 5, 6]) expect(await s.reply(id), `request ${id}`).toMatchObject({ type: 101, code: STATUS.NO_SUCH_FILE });
    expect(await s.endsWithin(200)).toBe('open');
    s.end();
  });

  it('an unknown request type and extensions that are not served', async () => {
    const s = await session();
    s.send(packet(99, u32(2), str('x')));
    const ext = ['statvfs@openssh.com', 'hardlink@openssh.com', 'posix-rename@openssh.com', 'copy-data', 'nope@example.com'];
    ext.forEach((name, k) => s.send(packet(FXP.EXTENDED, u32(10 + k), str(name), str(`/inbox/${DS}/x.pgp`), str('/receipts/x'))));
    // ssh2 answers an unknown type itself, or ends the session: either way no effect.
    const unknown = await s.reply(2);
    if (unknown !== 'closed') expect(unknown).toMatchObject({ type: 101 });
    if (unknown !== 'closed') for (let k = 0; k < ext.length; k++) expect(await s.reply(10 + k), ext[k]).toMatchObject({ type: 101, code: STATUS.OP_UNSUPPORTED });
    s.end();
  });

  it('WRITE offsets past the file limit, past 2^53 and at 2^64 - 1 are refused and leave no large file', async () => {
    const offsets = [BigInt(MAX_FILE) - 1n, 2n ** 53n + 2n, 2n ** 63n, 2n ** 64n - 1n];
    for (const [k, offset] of offsets.entries()) {
      const s = await session();
      const h = await handleFor(s, 1, `/inbox/${DS}/far-${k}.pgp`);
      s.send(write(2, h, offset, Buffer.from('xy')));
      expect(await s.reply(2), String(offset)).toMatchObject({ type: 101, code: STATUS.FAILURE });
      s.send(packet(FXP.CLOSE, u32(3), str(h)));
      // The upload failed: CLOSE does not commit it.
      expect(await s.reply(3), String(offset)).toMatchObject({ type: 101 });
      expect(((await s.reply(3)) as Reply).code).not.toBe(STATUS.OK);
      s.end();
    }
    expect(gw.intake.finished.filter((f) => f.clientName.startsWith('far-'))).toEqual([]);
  });

  it('a handle closed twice, read through a write handle, listed through a file handle', async () => {
    const s = await session();
    const h = await handleFor(s, 1, `/inbox/${DS}/twice.pgp`);
    s.send(packet(FXP.READ, u32(2), str(h), u64(0n), u32(16)));
    s.send(packet(FXP.READDIR, u32(3), str(h)));
    expect(await s.reply(2)).toMatchObject({ type: 101, code: STATUS.PERMISSION_DENIED });
    expect(await s.reply(3)).toMatchObject({ type: 101 });
    expect(((await s.reply(3)) as Reply).code).not.toBe(STATUS.OK);
    s.send(packet(FXP.CLOSE, u32(4), str(h)));
    await s.reply(4);
    s.send(packet(FXP.CLOSE, u32(5), str(h)));
    expect(await s.reply(5)).toMatchObject({ type: 101, code: STATUS.NO_SUCH_FILE });
    s.end();
  });

  it('a request split one byte per channel packet is answered like any other', async () => {
    const s = await session();
    for (const b of packet(FXP.OPENDIR, u32(2), str('/inbox'))) s.send(Buffer.from([b]));
    expect(await s.reply(2)).toMatchObject({ type: 102 });
    s.end();
  });
});

describe('after every malformed session', () => {
  it('the gateway serves, nothing outside staging changed, staging holds nothing large', async () => {
    const { sftp, client } = await ssh2Sftp(gw, PARTNER);
    expect(await p.readdir(sftp, '/inbox')).toContain(DS);
    client.end();
    expect(outsideStaging()).toEqual(before);
    const sizes: number[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else sizes.push(statSync(join(d, e.name)).size);
      }
    };
    walk(gw.layout.staging);
    expect(Math.max(0, ...sizes)).toBeLessThan(1024);
  });
});
