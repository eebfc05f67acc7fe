import { describe, expect, it } from 'vitest';
import { ConnectionGuard, MAX_TRACKED_SOURCES, sourceAddress, type GuardLimits } from '../../gateway/ssh/guard.js';

const limits: GuardLimits = { maxConnections: 5, maxConnectionsPerSource: 2, banAfterFailures: 3, banWindowMs: 1_000, banDurationMs: 10_000 };

function guardAt(start = 1_000_000): { g: ConnectionGuard; clock: { t: number } } {
  const clock = { t: start };
  return { g: new ConnectionGuard(() => limits, () => clock.t), clock };
}

describe('ConnectionGuard', () => {
  it('caps connections per source and in total, and frees a slot at release', () => {
    const { g } = guardAt();
    expect(g.admit('10.0.0.1')).toBeUndefined();
    expect(g.admit('10.0.0.1')).toBeUndefined();
    expect(g.admit('10.0.0.1')).toBe('too_many_from_source');
    expect(g.admit('10.0.0.2')).toBeUndefined();
    expect(g.admit('10.0.0.2')).toBeUndefined();
    expect(g.admit('10.0.0.3')).toBeUndefined();
    expect(g.admit('10.0.0.4')).toBe('too_many_connections');
    g.release('10.0.0.1');
    expect(g.admit('10.0.0.4')).toBeUndefined();
    expect(g.stats()).toEqual({ connections: 5, sources: 4, banned: 0 });
  });

  it('bans a source after N failures within the window, until the ban expires', () => {
    const { g, clock } = guardAt();
    expect(g.recordFailure('10.0.0.9')).toBeUndefined();
    expect(g.recordFailure('10.0.0.9')).toBeUndefined();
    const until = g.recordFailure('10.0.0.9');
    expect(until).toBe(clock.t + limits.banDurationMs);
    expect(g.admit('10.0.0.9')).toBe('banned');
    expect(g.admit('10.0.0.8')).toBeUndefined();
    clock.t += limits.banDurationMs - 1;
    expect(g.admit('10.0.0.9')).toBe('banned');
    clock.t += 1;
    expect(g.admit('10.0.0.9')).toBeUndefined();
    // After a ban the count starts again from zero.
    expect(g.recordFailure('10.0.0.9')).toBeUndefined();
  });

  it('forgets failures older than the window', () => {
    const { g, clock } = guardAt();
    g.recordFailure('10.0.0.7');
    g.recordFailure('10.0.0.7');
    clock.t += limits.banWindowMs + 1;
    expect(g.recordFailure('10.0.0.7')).toBeUndefined();
    expect(g.recordFailure('10.0.0.7')).toBeUndefined();
    expect(g.recordFailure('10.0.0.7')).toBeDefined();
  });

  it('remembers at most MAX_TRACKED_SOURCES addresses, dropping the oldest', () => {
    const { g } = guardAt();
    for (let i = 0; i < MAX_TRACKED_SOURCES + 10; i++) {
      for (let j = 0; j < 3; j++) g.recordFailure(`s${i}`);
    }
    expect(g.stats().banned).toBe(MAX_TRACKED_SOURCES);
    expect(g.bannedUntil('s0')).toBeUndefined();
    expect(g.bannedUntil(`s${MAX_TRACKED_SOURCES + 9}`)).toBeDefined();
  });

  it('counts IPv4-mapped IPv6 peers as the IPv4 address', () => {
    expect(sourceAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(sourceAddress('2001:db8::1')).toBe('2001:db8::1');
    expect(sourceAddress(undefined)).toBe('unknown');
  });
});
