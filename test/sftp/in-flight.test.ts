/**
 * The in-flight limit of downloads (gateway/sftp/in-flight.ts), on simulated time: where it holds,
 * when it lets the whole window through, and that it never keeps a client waiting for good.
 */
import { describe, expect, it } from 'vitest';
import { InFlightLimit, LIMITED_WINDOW_MAX, SHORT_PATH_MS, STALL_MS } from '../../gateway/sftp/in-flight.js';

const WINDOW = 2 * 1024 * 1024;
const PACKET = 32 * 1024;

/** A channel sending packets while the limit and the window allow; the window as the gateway sees it. */
class Channel {
  window = WINDOW;
  constructor(readonly limit: InFlightLimit) {}
  /** Sends as many packets as allowed at `now`; how many went. */
  sendAll(now: number): number {
    let n = 0;
    while (this.window >= PACKET && this.limit.allows(this.window, PACKET, now)) {
      this.window -= PACKET;
      this.limit.sent(this.window, now);
      n++;
    }
    return n;
  }
  adjust(amount: number, now: number): void {
    this.window += amount;
    this.limit.adjustment(amount, now);
  }
}

describe('in-flight limit', () => {
  it('holds a download to half the window plus a packet on a short path', () => {
    const c = new Channel(new InFlightLimit(WINDOW, PACKET));
    expect(c.limit.floor).toBe(WINDOW / 2 + PACKET);
    expect(c.sendAll(0)).toBe((WINDOW / 2 + PACKET) / PACKET);
    expect(c.limit.inFlight(c.window)).toBe(WINDOW / 2 + PACKET);
    // Window given back 0.5 ms later: a short path, the limit holds; what was given back goes again.
    c.adjust(4 * PACKET, 0.5);
    expect(c.sendAll(0.5)).toBe(4);
    expect(c.limit.inFlight(c.window)).toBe(WINDOW / 2 + PACKET);
  });

  it('lets the whole window through once the shortest round trip shows a long path, and holds again when a short one comes', () => {
    const c = new Channel(new InFlightLimit(WINDOW, PACKET));
    c.sendAll(0);
    c.adjust(4 * PACKET, 20);
    expect(c.sendAll(20)).toBe(WINDOW / PACKET - (WINDOW / 2 + PACKET) / PACKET + 4);
    expect(c.window).toBe(0);
    // Window back up to a packet that left at 20 ms, 0.5 ms later: the path is short after all.
    c.adjust(30 * PACKET, 20.5);
    expect(c.sendAll(20.5)).toBe(0);
    expect(c.limit.inFlight(c.window)).toBeGreaterThan(c.limit.floor);
  });

  it('takes each round trip from the last byte the adjustment covers', () => {
    const c = new Channel(new InFlightLimit(WINDOW, PACKET));
    c.sendAll(0); // packets 1..33 leave at 0
    c.adjust(PACKET, 10); // covers packet 1 (sent at 0): 10 ms, a long path
    expect(c.sendAll(10)).toBeGreaterThan(1);
    c.adjust(2 * PACKET, 10.1); // covers packets up to 3, sent at 0: 10.1 ms, still long
    expect(c.sendAll(10.1)).toBe(2);
    c.adjust(c.limit.inFlight(c.window), 10.2); // covers everything, the last sent at 10.1: 0.1 ms
    c.sendAll(10.2);
    expect(c.limit.inFlight(c.window)).toBeLessThanOrEqual(c.limit.floor);
  });

  it(`a path whose shortest round trip is just under ${SHORT_PATH_MS} ms is short, at it long`, () => {
    for (const [rtt, held] of [
      [SHORT_PATH_MS - 0.01, true],
      [SHORT_PATH_MS, false],
    ] as const) {
      const c = new Channel(new InFlightLimit(WINDOW, PACKET));
      c.sendAll(0);
      c.adjust(PACKET, rtt);
      c.sendAll(rtt);
      expect(c.window > 0).toBe(held);
    }
  });

  it(`drops the limit for the channel after ${STALL_MS} ms held back with no window given back`, () => {
    const c = new Channel(new InFlightLimit(WINDOW, PACKET));
    expect(c.limit.checkStall(0)).toBeUndefined(); // not held
    c.sendAll(0);
    c.adjust(PACKET, 0.5); // a short path
    expect(c.sendAll(0.5)).toBe(1);
    expect(c.limit.checkStall(100)).toBe(0.5 + STALL_MS - 100);
    // Window given back late still counts as progress; the shortest round trip stays short.
    c.adjust(PACKET, 150);
    expect(c.sendAll(150)).toBe(1);
    expect(c.limit.checkStall(300)).toBe(150 + STALL_MS - 300);
    expect(c.limit.checkStall(150 + STALL_MS)).toBe(true);
    const rest = c.window / PACKET;
    expect(rest).toBeGreaterThan(0);
    expect(c.sendAll(400)).toBe(rest);
    expect(c.limit.checkStall(1000)).toBeUndefined();
    // Dropped for good: a short round trip no longer brings it back.
    c.adjust(c.limit.inFlight(c.window), 400.1);
    expect(c.sendAll(400.1)).toBe(WINDOW / PACKET);
  });

  it('a client whose window is large (PuTTY offers 2 GiB) is not limited', () => {
    const limit = new InFlightLimit(LIMITED_WINDOW_MAX + 1, PACKET);
    let window = LIMITED_WINDOW_MAX + 1;
    let refused = 0;
    while (window >= PACKET) {
      if (!limit.allows(window, PACKET, 0)) refused++;
      window -= PACKET;
      limit.sent(window, 0);
    }
    expect(refused).toBe(0);
    expect(limit.checkStall(1e9)).toBeUndefined();
  });

  it('more window given back than was sent (a client growing its window) counts as nothing in flight', () => {
    const c = new Channel(new InFlightLimit(WINDOW, PACKET));
    c.adjust(WINDOW, 0);
    expect(c.limit.inFlight(c.window)).toBe(-WINDOW);
    expect(c.sendAll(0)).toBe((WINDOW + WINDOW / 2 + PACKET) / PACKET);
  });
});
