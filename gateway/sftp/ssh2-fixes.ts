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
