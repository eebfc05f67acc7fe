import type { Limits } from '../config/model.js';

/**
 * Admission control in front of the SSH protocol (security.md invariant 6): connection caps,
 * total and per source address, and the ban list fed by authentication failures. Pure
 * bookkeeping with an injected clock; the server calls it at accept and at close, before ssh2
 * sees a byte.
 *
 * Caps count every live connection, pre-auth and authenticated, as settings.limits documents
 * (gateway/config/defaults.ts); pre-auth ones are further bounded by the login timeout.
 */
export type AdmitRefusal = 'banned' | 'too_many_connections' | 'too_many_from_source';

export type GuardLimits = Pick<
  Limits,
  'maxConnections' | 'maxConnectionsPerSource' | 'banAfterFailures' | 'banWindowMs' | 'banDurationMs'
>;

/** Memory bound: at most this many addresses with failures or bans are remembered. */
export const MAX_TRACKED_SOURCES = 10_000;

export class ConnectionGuard {
  private total = 0;
  private readonly bySource = new Map<string, number>();
  private readonly failures = new Map<string, number[]>();
  private readonly bans = new Map<string, number>();

  constructor(
    private readonly limits: () => GuardLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Decides at accept; an admitted connection counts until `release`. */
  admit(source: string): AdmitRefusal | undefined {
    if (this.bannedUntil(source) !== undefined) return 'banned';
    const l = this.limits();
    if (this.total >= l.maxConnections) return 'too_many_connections';
    const n = this.bySource.get(source) ?? 0;
    if (n >= l.maxConnectionsPerSource) return 'too_many_from_source';
    this.total += 1;
    this.bySource.set(source, n + 1);
    return undefined;
  }

  /** Called once per admitted connection, when its socket has closed. */
  release(source: string): void {
    this.total = Math.max(0, this.total - 1);
    const n = (this.bySource.get(source) ?? 1) - 1;
    if (n <= 0) this.bySource.delete(source);
    else this.bySource.set(source, n);
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

  /** Live connection counts, for logs and tests. */
  stats(): { connections: number; sources: number; banned: number } {
    return { connections: this.total, sources: this.bySource.size, banned: this.bans.size };
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
