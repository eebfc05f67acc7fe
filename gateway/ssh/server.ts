import { createServer, type Server as NetServer, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { ServerConfig } from 'ssh2';
import type { AuditSink } from '../audit/events.js';
import type { ConfigSource, GatewayConfig } from '../config/model.js';
import { isStorageFull } from '../errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../log.js';
import { serverAlgorithms } from './algorithms.js';
import { dummyKey } from './auth.js';
import { SshConnection } from './connection.js';
import type { SessionHandler } from './context.js';
import { ConnectionGuard, sourceAddress } from './guard.js';
import { parseHostKeys } from './hostkey.js';
import { buildKeyIndex, stillAuthorized, type KeyIndex } from './keys.js';
import { bulkPadding } from './ssh2-padding.js';

export type { SessionContext, SessionHandler } from './context.js';

export interface SshServerOptions {
  readonly config: ConfigSource;
  /** Host private keys (OpenSSH format, ssh-ed25519). */
  readonly hostKeys: readonly Buffer[];
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly audit: AuditSink;
  readonly log: Logger;
  readonly onSession: SessionHandler;
}

export interface RunningSshServer {
  readonly port: number;
  /** Host key fingerprint, "SHA256:…" as OpenSSH prints it. */
  readonly fingerprint: string;
  /** "ssh-ed25519 AAAA…", for known_hosts lines. */
  readonly hostKeyLine: string;
  /** Stops accepting, disconnects every client, resolves when all sockets are closed. */
  close(): Promise<void>;
}

/** Sent after a server shutdown DISCONNECT: the grace clients get before their sockets are destroyed. */
const SHUTDOWN_GRACE_MS = 2_000;
/** ssh2 closes an authenticated connection after this many unanswered keepalives. */
const KEEPALIVE_COUNT_MAX = 3;

/**
 * The pre-authentication banner while the last audit write found the disk full. Every login is
 * refused then (no access without its audit entry) and OpenSSH says only "Permission denied";
 * this says why (sftp and ssh show it unless -q, lftp, PuTTY and WinSCP too). Worded for the
 * one connection that may still see it once room is back: the write that clears it is the
 * login's own.
 */
export const STORAGE_FULL_BANNER =
  'Passerelle : le stockage était plein à la dernière opération ; connexions et dépôts peuvent être refusés. ' +
  "Réessayez plus tard, l'exploitant en est averti.\r\n" +
  'Gateway: storage was full at the last operation; logins and uploads may be refused. Try again later.\r\n';

/**
 * The SSH server: our own net.Server accepts sockets and applies caps and bans before ssh2
 * sees a byte (then `injectSocket`); ssh2 speaks the protocol with an explicit algorithm list;
 * authentication is public-key only (auth.ts); accepted "session" channels go to `onSession`.
 *
 * Memory per pre-auth connection is bounded: ssh2 buffers at most one identification line
 * (8 KiB, no greeting lines from clients) or one packet (35 000 bytes), our state is a few
 * fields and two timers, the login timeout bounds its life and MAX_PREAUTH_BYTES what it may
 * send before authenticating.
 */
export async function startSshServer(opts: SshServerOptions): Promise<RunningSshServer> {
  bulkPadding();
  const hostKeys = parseHostKeys(opts.hostKeys);
  const first = hostKeys[0];
  if (!first) throw new Error('unreachable: parseHostKeys returns at least one key');
  const limits = () => opts.config.current().settings.limits;
  const log = opts.log.child({ module: 'ssh' });

  const onBadKey = (partyId: string, i: number): void => log.warn({ party: partyId, keyIndex: i }, 'unparseable SSH key skipped');
  let index: KeyIndex = buildKeyIndex(opts.config.current(), onBadKey);
  const dummy = dummyKey();
  const guard = new ConnectionGuard(limits);
  const live = new Set<SshConnection>();
  // ssh2 announces a connection by its peer address; sockets are unique per ip|port while open.
  const byPeer = new Map<string, SshConnection>();
  const peerKey = (ip: string | undefined, port: number | undefined): string => `${ip ?? ''}|${port ?? 0}`;

  // ssh2 reads keepalive settings from this object at each new connection, so updating it on a
  // configuration change applies to later connections.
  const sshConfig: ServerConfig = {
    hostKeys: opts.hostKeys.map((b) => Buffer.from(b)),
    algorithms: serverAlgorithms(),
    ident: 'Passerelle',
    keepaliveInterval: limits().keepaliveIntervalMs,
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
  };
  const sshServer = new ssh2.Server(sshConfig);
  sshServer.on('connection', (client, info) => {
    const conn = byPeer.get(peerKey(info.ip, info.port));
    if (!conn || conn.isClosed) {
      client.on('error', () => undefined);
      client.end();
      return;
    }
    conn.attach(client, info);
  });

  // Whether the last audit write found the disk full (a later success clears it).
  let storageFull = false;
  const watched = <T>(p: Promise<T>): Promise<T> =>
    p.then(
      (v) => {
        storageFull = false;
        return v;
      },
      (err: unknown) => {
        if (isStorageFull(err)) storageFull = true;
        throw err;
      },
    );
  const audit: AuditSink = { append: (e) => watched(opts.audit.append(e)), appendAll: (es) => watched(opts.audit.appendAll(es)) };

  const deps = {
    limits,
    guard,
    keys: () => index,
    dummy,
    audit,
    log,
    onSession: opts.onSession,
    onClosed: (c: SshConnection) => {
      live.delete(c);
      byPeer.delete(c.peer);
    },
  };

  let closing = false;
  const netServer: NetServer = createServer((socket: Socket) => {
    socket.on('error', () => undefined); // errors surface as 'close'; ssh2 adds its own listener too
    // SFTP is request/response: with Nagle on, a small reply or window adjust waits for the
    // client's delayed ACK, and an upload stalled to 50 MB/s on some runs (5× slower).
    socket.setNoDelay(true);
    const address = sourceAddress(socket.remoteAddress);
    const refusal = closing ? 'shutting_down' : guard.admit(address);
    if (refusal) {
      log.debug({ address, refusal }, 'connection refused at accept');
      socket.destroy();
      return;
    }
    const conn = new SshConnection(newId(), socket, address, peerKey(socket.remoteAddress, socket.remotePort), deps);
    live.add(conn);
    byPeer.set(conn.peer, conn);
    // ssh2 reads the banner from its config when the connection starts (injectSocket is synchronous).
    sshConfig.banner = storageFull ? STORAGE_FULL_BANNER : '';
    sshServer.injectSocket(socket);
  });

  const unsubscribe = opts.config.onChange((next: GatewayConfig) => {
    index = buildKeyIndex(next, onBadKey);
    sshConfig.keepaliveInterval = next.settings.limits.keepaliveIntervalMs;
    for (const conn of live) {
      const party = conn.party;
      const blob = conn.keyBlob;
      if (!party || !blob || stillAuthorized(index, party, blob)) continue;
      log.warn({ connId: conn.id, party: party.id }, 'party or key removed: closing its connection');
      conn.audit({ type: 'ssh.session_revoked', outcome: 'info', details: { reason: 'key_or_party_removed' } });
      conn.close('revoked');
    }
  });

  await new Promise<void>((resolve, reject) => {
    netServer.once('error', reject);
    netServer.listen(opts.port, opts.host, () => {
      netServer.off('error', reject);
      resolve();
    });
  });
  netServer.on('error', (err) => log.error({ err }, 'ssh listener error'));
  const addr = netServer.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  log.info({ host: opts.host, port, fingerprint: first.fingerprint }, 'ssh server listening');

  let closed: Promise<void> | undefined;
  return {
    port,
    fingerprint: first.fingerprint,
    hostKeyLine: first.publicLine,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        unsubscribe();
        netServer.close(() => resolve());
        for (const conn of live) conn.close('server_shutdown');
        setTimeout(() => {
          for (const conn of live) conn.destroy();
        }, SHUTDOWN_GRACE_MS).unref();
      });
      return closed;
    },
  };
}
