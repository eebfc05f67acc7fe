import type { Session } from 'ssh2';
import type { AnyParty } from '../config/model.js';
import type { Logger } from '../log.js';

/**
 * What the SSH layer hands to whoever serves a session (the SFTP adapter): the authenticated
 * party and handles on the connection that carries the session.
 */
export interface SessionContext {
  /** The party authenticated on this connection (snapshot of the configuration at login). */
  readonly party: AnyParty;
  /** Peer address "ip:port" ("[v6]:port" for IPv6). */
  readonly source: string;
  /** Gateway-made id of the SSH connection (a ULID), for logs and audit references. */
  readonly connId: string;
  /** Logger bound to connId, source and party. */
  readonly log: Logger;
  /** Ends the whole SSH connection (all its sessions), e.g. after a limit is hit. */
  closeConnection(reason: string): void;
  /** True when the connection's socket has handed every byte written so far to the kernel. */
  outputFlushed(): boolean;
  /** Runs `cb` once when the connection is gone (however it ended); at once if it already is. */
  onConnectionClose(cb: () => void): void;
}

/** Called for each accepted "session" channel; the handler owns it from then on (subsystems, exec, close). */
export type SessionHandler = (session: Session, ctx: SessionContext) => void;
