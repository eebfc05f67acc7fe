import type { Socket } from 'node:net';
import type { AuthContext, AuthenticationType, ClientInfo, Connection } from 'ssh2';
import type { AuditEvent, AuditSink } from '../audit/events.js';
import type { AnyParty, Limits } from '../config/model.js';
import type { Logger } from '../log.js';
import { decideAuth, type AuthDecision } from './auth.js';
import type { SessionContext, SessionHandler } from './context.js';
import type { ConnectionGuard } from './guard.js';
import type { KeyIndex, RegisteredKey } from './keys.js';

/** An attacker gets this many bytes to finish key exchange and authentication (a login needs a few KiB). */
export const MAX_PREAUTH_BYTES = 256 * 1024;
/** Like OpenSSH's MaxSessions: channels of type session per connection. */
export const MAX_SESSIONS_PER_CONNECTION = 10;
/** After a DISCONNECT is sent, the peer gets this long to close before the socket is destroyed. */
const CLOSE_GRACE_MS = 2_000;
/**
 * Idle detection counts incoming socket chunks larger than this as activity. A reply to our
 * keepalive is one tiny encrypted packet (28–36 bytes with chacha20-poly1305 / AES-GCM); any
 * SFTP request is larger. Chunks are TCP reads, not SSH packets, so this is a heuristic that
 * errs towards "active".
 */
const KEEPALIVE_REPLY_MAX_BYTES = 40;

/** Every refusal names the one method we accept, whatever the reason, so refusals look alike. */
const ONLY_PUBLICKEY: AuthenticationType[] = ['publickey'];

export interface ConnectionDeps {
  readonly limits: () => Limits;
  readonly guard: ConnectionGuard;
  readonly keys: () => KeyIndex;
  readonly dummy: RegisteredKey;
  readonly audit: AuditSink;
  readonly log: Logger;
  readonly onSession: SessionHandler;
  /** Called once when the socket has closed. */
  readonly onClosed: (conn: SshConnection) => void;
}

/** Printable, bounded rendering of a client-supplied string for logs and audit details. */
export function clientString(s: string, max = 64): string {
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

export function formatSource(address: string, port: number | undefined): string {
  return address.includes(':') ? `[${address}]:${port ?? 0}` : `${address}:${port ?? 0}`;
}

type State = 'preauth' | 'authenticated' | 'closed';

export class SshConnection {
  readonly source: string;
  private state: State = 'preauth';
  private client: Connection | undefined;
  private clientSoftware = '';
  private authenticatedAs: { party: AnyParty; key: RegisteredKey } | undefined;
  private failures = 0;
  private sawNone = false;
  /** Set by close(): requests still arriving from the peer are ignored. */
  private closing = false;
  private sessions = 0;
  private closeReason = 'peer_closed';
  private readonly startedAt = Date.now();
  private lastActivity = Date.now();
  private loginTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly closeCallbacks: Array<() => void> = [];
  private readonly log: Logger;

  constructor(
    readonly id: string,
    private readonly socket: Socket,
    /** Address without port: the unit of caps and bans. */
    readonly address: string,
    /** Key under which the server finds this connection when ssh2 announces it. */
    readonly peer: string,
    private readonly deps: ConnectionDeps,
  ) {
    this.source = formatSource(address, socket.remotePort);
    this.log = deps.log.child({ connId: id, source: this.source });
    this.loginTimer = setTimeout(() => this.close('login_timeout'), deps.limits().handshakeTimeoutMs);
    socket.once('close', () => this.onSocketClose());
  }

  get party(): AnyParty | undefined {
    return this.authenticatedAs?.party;
  }

  get keyBlob(): Buffer | undefined {
    return this.authenticatedAs?.key.blob;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** ssh2 has read the client's identification line and created its connection object. */
  attach(client: Connection, info: ClientInfo): void {
    this.client = client;
    this.clientSoftware = clientString(info.header.versions.software ?? '');
    this.audit({ type: 'ssh.connect', outcome: 'info', details: { client: this.clientSoftware } });
    this.log.debug({ client: this.clientSoftware }, 'ssh connection');

    client.on('error', (err: Error & { level?: string }) => {
      if (err.level === 'handshake') {
        this.closeReason = 'negotiation_failed';
        this.log.warn({ client: this.clientSoftware, err: err.message }, 'ssh negotiation refused');
        this.audit({
          type: 'ssh.negotiation_failed',
          outcome: 'failure',
          details: { reason: clientString(err.message, 200), client: this.clientSoftware },
        });
      } else if (err.level === 'client-timeout') {
        this.closeReason = 'keepalive_timeout'; // ssh2 ends the connection itself after this
        this.log.info('ssh keepalive unanswered');
      } else {
        this.log.debug({ err: err.message, level: err.level }, 'ssh connection error');
      }
    });
    client.on('authentication', (ctx) => {
      this.onAuthentication(ctx).catch((err: unknown) => {
        this.log.error({ err }, 'authentication handler failed');
        this.close('internal_error');
      });
    });
    client.on('session', (accept, reject) => {
      if (this.state !== 'authenticated' || this.closing || this.sessions >= MAX_SESSIONS_PER_CONNECTION) return reject();
      this.sessions += 1;
      const session = accept();
      try {
        this.deps.onSession(session, this.sessionContext());
      } catch (err) {
        // A failing handler ends its own connection, never the process or other clients.
        this.log.error({ err }, 'session handler failed');
        this.close('internal_error');
      }
    });
    // Port forwarding and socket forwarding are never offered (ssh2 would refuse them without
    // a listener too; being explicit keeps it so if ssh2's defaults change).
    client.on('tcpip', (_accept, reject) => reject());
    client.on('openssh.streamlocal', (_accept, reject) => reject());
    client.on('request', (_accept, reject) => reject?.());
  }

  /** Ends the connection: DISCONNECT when the SSH layer is up, then the socket after a grace period. */
  close(reason: string): void {
    if (this.state === 'closed' || this.closing) return;
    this.closing = true;
    this.end(reason);
  }

  private end(reason: string): void {
    if (this.closeReason === 'peer_closed') this.closeReason = reason;
    this.log.info({ reason, party: this.party?.id }, 'closing ssh connection');
    if (this.client) {
      try {
        this.client.end();
      } catch {
        // the socket is already gone; destroy below is enough
      }
      setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
    } else {
      this.socket.destroy();
    }
  }

  /** Immediate end, no DISCONNECT (shutdown after the grace period). */
  destroy(): void {
    this.socket.destroy();
  }

  onConnectionClose(cb: () => void): void {
    if (this.state === 'closed') queueMicrotask(() => this.runCloseCallback(cb));
    else this.closeCallbacks.push(cb);
  }

  private runCloseCallback(cb: () => void): void {
    try {
      cb();
    } catch (err) {
      this.log.error({ err }, 'connection close callback failed');
    }
  }

  private sessionContext(): SessionContext {
    const auth = this.authenticatedAs;
    if (!auth) throw new Error('session before authentication');
    return {
      party: auth.party,
      source: this.source,
      connId: this.id,
      log: this.log.child({ party: auth.party.id }),
      closeConnection: (reason) => this.close(reason),
      onConnectionClose: (cb) => this.onConnectionClose(cb),
      outputFlushed: () => this.socket.writableLength === 0,
    };
  }

  private async onAuthentication(ctx: AuthContext): Promise<void> {
    if (this.closing) return;
    if (this.state !== 'preauth') return ctx.reject(ONLY_PUBLICKEY);
    if (this.socket.bytesRead > MAX_PREAUTH_BYTES) {
      ctx.reject(ONLY_PUBLICKEY);
      return this.close('preauth_bytes_exceeded');
    }
    // Another connection from this address got it banned: its other connections stop too.
    if (this.deps.guard.bannedUntil(this.address) !== undefined) {
      ctx.reject(ONLY_PUBLICKEY);
      return this.close('banned');
    }
    const pk = ctx.method === 'publickey' ? ctx : undefined;
    const decision = decideAuth(
      {
        username: ctx.username,
        method: ctx.method,
        keyAlgo: pk?.key.algo,
        keyData: pk?.key.data,
        signature: pk?.signature,
        signedData: pk?.blob,
        hashAlgo: pk?.hashAlgo,
      },
      this.deps.keys(),
      this.deps.dummy,
    );
    if (decision.verdict === 'pk-ok') return ctx.accept(); // ssh2 answers a probe's accept with PK_OK
    if (decision.verdict === 'accept') return this.onAuthSuccess(ctx, decision);
    // OpenSSH clients open with "none" to learn the methods; only the first is free.
    if (decision.reason === 'method_none' && this.failures === 0 && !this.sawNone) {
      this.sawNone = true;
      return ctx.reject(ONLY_PUBLICKEY);
    }
    await this.onAuthFailure(ctx, decision);
  }

  private async onAuthSuccess(ctx: AuthContext, d: Extract<AuthDecision, { verdict: 'accept' }>): Promise<void> {
    const username = d.party.id;
    try {
      // No audit entry, no effect: the login completes only once its entry is durable.
      await this.deps.audit.append(
        this.event({
          type: 'ssh.auth',
          outcome: 'success',
          actor: { id: username, kind: d.party.kind, source: this.source },
          refs: { key: d.key.fingerprint },
          details: { method: 'publickey', client: this.clientSoftware },
        }),
      );
    } catch (err) {
      this.log.error({ err }, 'audit append failed; refusing login');
      ctx.reject(ONLY_PUBLICKEY);
      return this.close('audit_unavailable');
    }
    if (this.state !== 'preauth') return ctx.reject(ONLY_PUBLICKEY);
    this.state = 'authenticated';
    this.authenticatedAs = { party: d.party, key: d.key };
    clearTimeout(this.loginTimer);
    this.startIdleWatch();
    this.log.info({ party: username, key: d.key.fingerprint }, 'ssh login');
    ctx.accept();
  }

  private async onAuthFailure(ctx: AuthContext, d: Extract<AuthDecision, { verdict: 'reject' }>): Promise<void> {
    this.failures += 1;
    const limits = this.deps.limits();
    const username = clientString(ctx.username);
    const banUntil = this.deps.guard.recordFailure(this.address);
    this.log.info({ username, reason: d.reason, key: d.fingerprint, failures: this.failures }, 'ssh auth failure');
    const events: AuditEvent[] = [
      this.event({
        type: 'ssh.auth',
        outcome: 'failure',
        actor: d.party ? { id: d.party.id, kind: d.party.kind, source: this.source } : undefined,
        refs: d.fingerprint ? { key: d.fingerprint } : undefined,
        details: { method: clientString(ctx.method, 32), username, reason: d.reason, attempt: this.failures, client: this.clientSoftware },
      }),
    ];
    if (banUntil !== undefined) {
      this.log.warn({ address: this.address, until: new Date(banUntil).toISOString() }, 'ssh source banned');
      events.push(
        this.event({
          type: 'ssh.ban',
          outcome: 'info',
          details: { address: this.address, until: new Date(banUntil).toISOString(), failures: limits.banAfterFailures },
        }),
      );
    }
    try {
      await this.deps.audit.appendAll(events);
    } catch (err) {
      this.log.error({ err }, 'audit append failed');
    }
    if (this.state !== 'preauth' || this.closing) return;
    if (banUntil !== undefined || this.failures >= limits.maxAuthAttempts) {
      this.closing = true; // attempts the client sends on seeing the refusal are not processed
      ctx.reject(ONLY_PUBLICKEY);
      this.end(banUntil !== undefined ? 'banned' : 'too_many_auth_failures');
      return;
    }
    ctx.reject(ONLY_PUBLICKEY);
  }

  private startIdleWatch(): void {
    const idleMs = this.deps.limits().idleTimeoutMs;
    this.lastActivity = Date.now();
    this.socket.on('data', (chunk: Buffer) => {
      if (chunk.length > KEEPALIVE_REPLY_MAX_BYTES) this.lastActivity = Date.now();
    });
    const check = (): void => {
      const left = this.lastActivity + idleMs - Date.now();
      if (left <= 0) return this.close('idle_timeout');
      this.idleTimer = setTimeout(check, left);
    };
    this.idleTimer = setTimeout(check, idleMs);
  }

  private onSocketClose(): void {
    this.state = 'closed';
    clearTimeout(this.loginTimer);
    clearTimeout(this.idleTimer);
    this.deps.guard.release(this.address);
    if (this.client) {
      this.audit({
        type: 'ssh.disconnect',
        outcome: 'info',
        details: { reason: this.closeReason, durationMs: Date.now() - this.startedAt, sessions: this.sessions },
      });
    }
    this.log.debug({ reason: this.closeReason }, 'ssh connection closed');
    for (const cb of this.closeCallbacks.splice(0)) this.runCloseCallback(cb);
    this.deps.onClosed(this);
  }

  /** An event about this connection; the actor defaults to the authenticated party or "unknown". */
  event(e: Omit<AuditEvent, 'actor' | 'refs'> & { actor?: AuditEvent['actor']; refs?: Record<string, string> }): AuditEvent {
    const p = this.party;
    const actor = e.actor ?? (p ? { id: p.id, kind: p.kind, source: this.source } : { id: 'unknown', kind: 'unknown' as const, source: this.source });
    return { ...e, actor, refs: { connection: this.id, ...e.refs } };
  }

  /** Fire-and-forget audit for events nothing waits on (connect, disconnect, refusals). */
  audit(e: Omit<AuditEvent, 'actor' | 'refs'> & { actor?: AuditEvent['actor']; refs?: Record<string, string> }): void {
    this.deps.audit.append(this.event(e)).catch((err: unknown) => this.log.error({ err }, 'audit append failed'));
  }
}
