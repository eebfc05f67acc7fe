/**
 * How much of a client's channel window a download keeps in flight (sent, not yet given back by
 * a window adjustment).
 *
 * Why not all of it: a client slower than the gateway holds everything the window lets through
 * in its own buffers, and OpenSSH's client pays for that backlog — it compacts and regrows its
 * buffers (memmove, page faults) in proportion to what waits in them. Measured (512 MiB
 * downloads, OpenSSH `sftp`, aes128-gcm, 2-core VM): with the whole 2 MiB window in flight the
 * client spent 1.3-2.0 CPU seconds and the download ran at 250-380 MB/s; with 1 MiB + one packet
 * in flight 0.8-1.1 s and 420-600 MB/s; `sshd` itself, slower to send, 250-500 MB/s.
 *
 * Why not less than half the window plus a packet: clients give window back once half of it is
 * used (ssh2, Go's x/crypto/ssh, PuTTY), some only then; below that they would wait for bytes
 * the gateway waits to send. A client that waits even longer is caught by the stall rule: no
 * adjustment for STALL_MS while held back, and the limit is dropped for the channel.
 *
 * Why only on a short path: a window is there for a path whose round trip is long, where the
 * bytes in flight are what keeps it busy. Each window adjustment gives a round-trip sample, from
 * sending a byte to getting its window back; the limit holds only while the shortest sample is
 * under SHORT_PATH_MS, where half of OpenSSH's 2 MiB window covers 500 MB/s. Measured through a
 * relay adding 10 ms each way, limiting cost a third of the throughput (25 against 37 MB/s) and
 * `sshd` was at 37: with the rule, the gateway uses the whole window there. A rule on the
 * bandwidth-delay product (twice the rate of adjustments times the shortest round trip) did not
 * grow on that path, whose round trips under load were three times the shortest.
 */

/** Held back this long with no window adjustment, the limit is dropped for the channel. */
export const STALL_MS = 200;
/** Shortest round trip (ms) under which a path is short enough for the limit. */
export const SHORT_PATH_MS = 2;
/** Clients offering more than this (PuTTY: 2 GiB) are not limited: half their window is no limit anyway. */
export const LIMITED_WINDOW_MAX = 16 * 1024 * 1024;
/** Send times kept for round-trip samples: at 32 KiB packets, more than a 16 MiB window. */
const SENDS_KEPT = 1024;

export class InFlightLimit {
  /** Most bytes in flight on a short path: half the opening window and a packet. */
  readonly floor: number;
  private adjusted = 0;
  /** Shortest round trip seen; until the first, the path is taken as short. */
  private minRtt: number | undefined;
  private dropped: boolean;
  /** Channel byte positions (end of each packet sent) and when they left; a ring. */
  private readonly sendPos: number[] = [];
  private readonly sendAt: number[] = [];
  private first = 0;
  private heldSince: number | undefined;
  private lastAdjustAt = -Infinity;

  /** `openingWindow`: the window the client offered when the channel opened; `maxPacket`: its largest packet's data. */
  constructor(
    private readonly openingWindow: number,
    maxPacket: number,
  ) {
    this.floor = Math.ceil(openingWindow / 2) + maxPacket;
    this.dropped = openingWindow > LIMITED_WINDOW_MAX;
  }

  /** Bytes sent and not given back, from the window the channel has left. */
  inFlight(window: number): number {
    return this.openingWindow - window;
  }

  /** Whether `bytes` more may go now, the window permitting; when not, the caller is held back from `now`. */
  allows(window: number, bytes: number, now: number): boolean {
    if (this.dropped || (this.minRtt ?? 0) >= SHORT_PATH_MS || this.inFlight(window) + bytes <= this.floor) {
      this.heldSince = undefined;
      return true;
    }
    this.heldSince ??= now;
    return false;
  }

  /** A packet went, leaving `window`. */
  sent(window: number, now: number): void {
    if (this.dropped) return;
    if (this.sendPos.length - this.first >= SENDS_KEPT) this.first++;
    this.sendPos.push(this.openingWindow + this.adjusted - window);
    this.sendAt.push(now);
    if (this.first > SENDS_KEPT) {
      this.sendPos.splice(0, this.first);
      this.sendAt.splice(0, this.first);
      this.first = 0;
    }
  }

  /** The client gave back `amount` bytes of window: what it has taken in so far. */
  adjustment(amount: number, now: number): void {
    this.adjusted += amount;
    this.lastAdjustAt = now;
    if (this.dropped) return;
    let sentAt: number | undefined;
    while (this.first < this.sendPos.length && (this.sendPos[this.first] as number) <= this.adjusted) {
      sentAt = this.sendAt[this.first];
      this.first++;
    }
    if (sentAt === undefined) return;
    const rtt = now - sentAt;
    this.minRtt = Math.min(this.minRtt ?? rtt, rtt);
  }

  /**
   * Held back since at least STALL_MS with no adjustment since: the limit is dropped (true, the
   * caller sends again). Otherwise when to ask again, in ms from `now`, or undefined when not held.
   */
  checkStall(now: number): true | number | undefined {
    if (this.heldSince === undefined || this.dropped) return undefined;
    const since = Math.max(this.heldSince, this.lastAdjustAt);
    if (now - since >= STALL_MS) {
      this.dropped = true;
      this.heldSince = undefined;
      return true;
    }
    return since + STALL_MS - now;
  }
}
