/**
 * Workarounds for ssh2 1.17's server-side SFTP (node_modules/ssh2/lib/protocol/SFTP.js).
 * Each one has a test with a stock client that fails without it (test/sftp/interop.test.ts).
 *
 * 1. When the client sends EOF on the channel (OpenSSH `sftp` at `bye`, after the last
 *    request), ssh2 emits 'end' on the SFTP object but never closes the channel: the client
 *    waits for the channel close forever and `sftp -b` hangs.
 * 2. ssh2 never sends an `exit-status` request for the subsystem channel; OpenSSH 9 `scp`
 *    (which speaks SFTP) then exits with status 1 after a successful copy.
 * 3. READDIR: ssh2 leaves the end of a listing to the application; the gateway answers the
 *    READDIR after the last NAME batch with an EOF status (see session.ts), otherwise
 *    clients loop or fail their `ls`.
 * 4. limits@openssh.com (performance), below.
 * 5. Flow control: ssh2 parses SFTP packets as they arrive and always reopens the channel
 *    window, so a server cannot make a client wait, below.
 */
import type { SFTPWrapper } from 'ssh2';

/** The parts of ssh2's internal SFTP object the fix needs; not in its public types. */
interface Ssh2SftpInternals {
  readonly incoming: { state: string };
  readonly outgoing: { id: number; state: string };
  readonly _protocol: { exitStatus(chan: number, status: number): void; channelEOF(chan: number): void };
  end(): void;
}

/** True when the client half-closed the channel cleanly (EOF), as opposed to a dropped connection. */
export function clientSentEof(sftp: SFTPWrapper): boolean {
  return (sftp as unknown as Ssh2SftpInternals).incoming.state === 'eof';
}

/** Fixes 1 and 2: exit-status 0, EOF, then CHANNEL_CLOSE, like OpenSSH's sftp-server. */
export function closeChannelCleanly(sftp: SFTPWrapper, exitCode = 0): void {
  const s = sftp as unknown as Ssh2SftpInternals;
  if (s.outgoing.state !== 'open') return;
  s._protocol.exitStatus(s.outgoing.id, exitCode);
  s._protocol.channelEOF(s.outgoing.id);
  s.outgoing.state = 'eof';
  s.end();
}

const LIMITS_EXT = 'limits@openssh.com';
const SFTP_VERSION = 2;
const SFTP_DATA = 103;
const SFTP_EXTENDED_REPLY = 201;

/** VERSION 3 with one extension: `limits@openssh.com` "1". */
function versionWithLimits(): Buffer {
  const name = Buffer.from(LIMITS_EXT);
  const body = Buffer.concat([Buffer.from([SFTP_VERSION, 0, 0, 0, 3]), u32(name.length), name, u32(1), Buffer.from('1')]);
  return Buffer.concat([u32(body.length), body]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

export interface OpenSshLimits {
  readonly maxPacketLength: number;
  readonly maxReadLength: number;
  readonly maxWriteLength: number;
  readonly maxOpenHandles: number;
}

/** Where the SFTP payload of a 41-byte DATA reply carrying 28 bytes starts (after len, type, id, string length). */
const LIMITS_REPLY_DATA_BYTES = 28;

/**
 * Fix 4 (performance): advertise `limits@openssh.com`, as OpenSSH's sftp-server does. Without
 * it OpenSSH's sftp uses 32 KiB requests; with it, up to ~255 KiB, eight times fewer requests
 * and replies for the same bytes. ssh2 sends a fixed VERSION packet and has no way to send an
 * EXTENDED_REPLY, so both are rewritten on their way out of this channel: the VERSION gets
 * the extension (the channel window is charged for the extra bytes), and the reply to the
 * limits request, sent by `reply()` as a DATA packet of the same length, gets its type and
 * contents (four uint64) in place.
 */
export function advertiseOpenSshLimits(sftp: SFTPWrapper, limits: OpenSshLimits): { reply(reqid: number): void; restore(): void } {
  const s = sftp as unknown as Ssh2SftpInternals & { outgoing: { window: number } };
  const proto = s._protocol as Ssh2SftpInternals['_protocol'] & { channelData(chan: number, data: Buffer | string): void };
  const chanId = s.outgoing.id;
  const original = proto.channelData;
  const version = versionWithLimits();
  let versionSent = false;
  let pendingReply: number | undefined;
  const wrapper = function (this: unknown, chan: number, data: Buffer | string): void {
    if (chan === chanId && Buffer.isBuffer(data)) {
      if (!versionSent && data.length === 9 && data[4] === SFTP_VERSION) {
        versionSent = true;
        s.outgoing.window -= version.length - data.length;
        return original.call(this, chan, version);
      }
      if (pendingReply !== undefined && data.length === 13 + LIMITS_REPLY_DATA_BYTES && data[4] === SFTP_DATA && data.readUInt32BE(5) === pendingReply) {
        pendingReply = undefined;
        const out = Buffer.from(data);
        out[4] = SFTP_EXTENDED_REPLY;
        out.writeBigUInt64BE(BigInt(limits.maxPacketLength), 9);
        out.writeBigUInt64BE(BigInt(limits.maxReadLength), 17);
        out.writeBigUInt64BE(BigInt(limits.maxWriteLength), 25);
        out.writeBigUInt64BE(BigInt(limits.maxOpenHandles), 33);
        return original.call(this, chan, out);
      }
    }
    return original.call(this, chan, data);
  };
  proto.channelData = wrapper;
  return {
    reply(reqid: number): void {
      pendingReply = reqid;
      sftp.data(reqid, Buffer.alloc(LIMITS_REPLY_DATA_BYTES));
    },
    restore(): void {
      if (proto.channelData === wrapper) proto.channelData = original;
    },
  };
}

export const OPENSSH_LIMITS_EXTENSION = LIMITS_EXT;

/** ssh2 1.17's channel window (lib/Channel.js MAX_WINDOW): what it grants a channel when it reopens it. */
const SSH2_CHANNEL_WINDOW = 2 * 1024 * 1024;

interface Ssh2FlowInternals {
  readonly incoming: { window: number; state: string };
  readonly outgoing: { id: number; state: string };
  readonly _protocol: { channelWindowAdjust(chan: number, amount: number): void };
  _waitChanDrain?: boolean;
  push(data: Buffer): boolean | undefined;
}

/**
 * Fix 5: lets the session stop reading a client while the intake is behind. Holding WRITE
 * replies instead would not do: OpenSSH's sftp has 64 WRITEs of 255 KiB in flight (16 MiB on
 * their way in), and PuTTY's small WRITEs pile up past the session's request limit. ssh2 skips
 * its window adjustment when the channel's `push` returns false (its own backpressure path,
 * unused for SFTP); while a hold is pending this wrapper returns false, and once every hold
 * has settled it reopens the window itself. The client can then send at most one window
 * (2 MiB) more.
 */
export function channelFlow(sftp: SFTPWrapper): { hold(until: Promise<unknown>): void; restore(): void } {
  const s = sftp as unknown as Ssh2FlowInternals;
  const original = s.push;
  /** Pending holds: the same wait is often handed over once per WRITE. */
  const holds = new Set<Promise<unknown>>();
  let starved = false;
  const wrapper = function (this: unknown, data: Buffer): boolean | undefined {
    original.call(this, data);
    if (holds.size === 0) return undefined;
    starved = true;
    return false;
  };
  s.push = wrapper;
  const reopen = (): void => {
    if (holds.size > 0 || !starved) return;
    starved = false;
    s._waitChanDrain = false;
    if (s.outgoing.state !== 'open' || s.incoming.state !== 'open') return;
    const amount = SSH2_CHANNEL_WINDOW - s.incoming.window;
    if (amount <= 0) return;
    s.incoming.window += amount;
    s._protocol.channelWindowAdjust(s.outgoing.id, amount);
  };
  return {
    hold(until: Promise<unknown>): void {
      if (holds.has(until)) return;
      holds.add(until);
      const settle = (): void => {
        holds.delete(until);
        reopen();
      };
      until.then(settle, settle);
    },
    restore(): void {
      if (s.push === wrapper) s.push = original;
    },
  };
}
