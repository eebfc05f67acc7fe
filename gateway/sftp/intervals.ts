/**
 * A set of half-open byte ranges [start, end), kept sorted and merged. Tells whether an
 * upload has holes and whether a download read every byte, whatever the request order.
 */
export class IntervalSet {
  private ranges: [number, number][] = [];

  add(start: number, end: number): void {
    if (end <= start) return;
    const out: [number, number][] = [];
    let s = start;
    let e = end;
    let placed = false;
    for (const r of this.ranges) {
      if (r[1] < s) out.push(r);
      else if (r[0] > e) {
        if (!placed) out.push([s, e]);
        placed = true;
        out.push(r);
      } else {
        s = Math.min(s, r[0]);
        e = Math.max(e, r[1]);
      }
    }
    if (!placed) out.push([s, e]);
    this.ranges = out;
  }

  /** Length of the prefix [0, n) fully covered. */
  contiguousFromZero(): number {
    const first = this.ranges[0];
    return first && first[0] === 0 ? first[1] : 0;
  }

  /** One past the last covered byte. */
  end(): number {
    return this.ranges.at(-1)?.[1] ?? 0;
  }

  covers(start: number, end: number): boolean {
    return this.ranges.some((r) => r[0] <= start && end <= r[1]);
  }

  get count(): number {
    return this.ranges.length;
  }
}
