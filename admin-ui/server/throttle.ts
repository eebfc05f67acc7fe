/**
 * Login lock-out, per account and per source address: after `maxFailures` failures within
 * `windowMs`, further attempts are refused without checking the password until `lockMs` has
 * passed. In memory, one instance per app (one node); a restart clears it, which the docs say.
 */
export interface ThrottlePolicy {
  readonly maxFailuresPerAccount: number;
  readonly maxFailuresPerSource: number;
  readonly windowMs: number;
  readonly lockMs: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = { maxFailuresPerAccount: 5, maxFailuresPerSource: 20, windowMs: 15 * 60_000, lockMs: 15 * 60_000 };

interface Counter { failures: number; first: number; lockedUntil: number }

/** Bounded so a flood of distinct names cannot grow memory without limit. */
const MAX_KEYS = 10_000;

export class LoginThrottle {
  private readonly counters = new Map<string, Counter>();
  constructor(private readonly policy: ThrottlePolicy = DEFAULT_THROTTLE) {}

  /** Milliseconds until the account or the source may try again; 0 when allowed. */
  lockedFor(account: string, source: string, now: number): number {
    const a = this.counters.get(`a:${account}`)?.lockedUntil ?? 0;
    const s = this.counters.get(`s:${source}`)?.lockedUntil ?? 0;
    return Math.max(0, Math.max(a, s) - now);
  }

  /** Records a failure; returns true when this failure locked the account or the source. */
  fail(account: string, source: string, now: number): boolean {
    const a = this.bump(`a:${account}`, this.policy.maxFailuresPerAccount, now);
    const s = this.bump(`s:${source}`, this.policy.maxFailuresPerSource, now);
    return a || s;
  }

  succeed(account: string): void {
    this.counters.delete(`a:${account}`);
  }

  private bump(key: string, max: number, now: number): boolean {
    let c = this.counters.get(key);
    if (!c || now - c.first > this.policy.windowMs) c = { failures: 0, first: now, lockedUntil: c?.lockedUntil ?? 0 };
    c.failures += 1;
    const locks = c.failures >= max && c.lockedUntil <= now;
    if (locks) c.lockedUntil = now + this.policy.lockMs;
    if (this.counters.size >= MAX_KEYS && !this.counters.has(key)) this.prune(now);
    this.counters.set(key, c);
    return locks;
  }

  private prune(now: number): void {
    for (const [k, c] of this.counters) if (c.lockedUntil <= now && now - c.first > this.policy.windowMs) this.counters.delete(k);
    if (this.counters.size >= MAX_KEYS) {
      const oldest = this.counters.keys().next().value;
      if (oldest !== undefined) this.counters.delete(oldest);
    }
  }
}
