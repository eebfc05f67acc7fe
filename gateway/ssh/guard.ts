import type { Limits } from '../config/model.js';

/**
 * Admission control in front of the SSH protocol (security.md invariant 6): pre-authentication
 * connection caps, total and per source address, and the ban list fed by authentication
 * failures. Pure bookkeeping with an injected clock; the server calls it at accept, at
 * authentication and at close.
 *
 * Caps count connections that have not authenticated yet: those are the ones an anonymous
 * client can hold open. Authenticated connections leave the pre-auth counts (communes behind
 * one NAT address must not lock each other out).
 */
export type AdmitRefusal = 'banned' | 'too_many_connections' | 'too_many_from_source';

export type GuardLimits = Pick<
  Limits,
  'maxConnections' | 'maxConnectionsPerSource' | 'banAfterFailures' | 'banWindowMs' | 'banDurationMs'
>;

/** Memory bound: at most this many addresses with failures or bans are remembered. */
export const MAX_TRACKED_SOURCES = 10_000;

export class ConnectionGuard {
  private preAuthTotal = 0;
  private readonly preAuthBySource = new Map<string, number>();
  private readonly failures = new Map<string, number[]>();
  private readonly bans = new Map<string, number>();

  constructor(
    private readonly limits: () => GuardLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Decides at accept; on success the connection counts as pre-auth until `leavePreAuth`. */
  admit(source: string): AdmitRefusal | undefined {
    if (this.bannedUntil(source) !== undefined) return 'banned';
    const l = this.limits();
    if (this.preAuthTotal >= l.maxConnections) return 'too_many_connections';
    const n = this.preAuthBySource.get(source) ?? 0;
    if (n >= l.maxConnectionsPerSource) return 'too_many_from_source';
    this.preAuthTotal += 1;
    this.preAuthBySource.set(source, n + 1);
    return undefined;
  }

  /** Called once per admitted connection: at authentication success or at close, whichever comes first. */
  leavePreAuth(source: string): void {
    this.preAuthTotal = Math.max(0, this.preAuthTotal - 1);
    const n = (this.preAuthBySource.get(source) ?? 1) - 1;
    if (n <= 0) this.preAuthBySource.delete(source);
    else this.preAuthBySource.set(source, n);
  }

  /** Expiry time of the ban on `source`, or undefined if not banned. */
  bannedUntil(source: string): number | undefined {
    const until = this.bans.get(source);
    if (until === undefined) return undefined;
    if (until > this.now()) return until;
    this.bans.delete(source);
    return undefined;
  }

  /**
   * Records one authentication failure from `source`; returns the ban's expiry when this
   * failure starts a ban.
   */
  recordFailure(source: string): number | undefined {
    const l = this.limits();
    const t = this.now();
    const recent = (this.failures.get(source) ?? []).filter((x) => x > t - l.banWindowMs);
    recent.push(t);
    this.failures.delete(source); // re-insert: Map order is then least-recently-failed first
    if (recent.length >= l.banAfterFailures) {
      const until = t + l.banDurationMs;
      this.bans.delete(source);
      this.bans.set(source, until);
      trim(this.bans);
      return until;
    }
    this.failures.set(source, recent.slice(-l.banAfterFailures));
    trim(this.failures);
    return undefined;
  }

  /** Pre-auth connection counts, for logs and tests. */
  stats(): { preAuth: number; sources: number; banned: number } {
    return { preAuth: this.preAuthTotal, sources: this.preAuthBySource.size, banned: this.bans.size };
  }
}

function trim<V>(m: Map<string, V>): void {
  while (m.size > MAX_TRACKED_SOURCES) {
    const first = m.keys().next();
    if (first.done) return;
    m.delete(first.value);
  }
}

/** The address part of a socket's peer, IPv4-mapped IPv6 folded to IPv4 so both count as one source. */
export function sourceAddress(remoteAddress: string | undefined): string {
  if (!remoteAddress) return 'unknown';
  return remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress;
}
