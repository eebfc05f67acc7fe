/**
 * Writing packets whose length is not known in advance (RFC 9580 §4.2.1.4): a new-format header,
 * then parts of 2^exp bytes each announced by a partial body length, then the last part with a
 * fixed length (possibly 0). A body that ends before the first part is full is written as one
 * fixed-length packet. The parts are sub-arrays of what was pushed: nothing is copied.
 */
export const MIN_PART_EXP = 9; // RFC 9580: the first partial length is at least 512 bytes
export const MAX_PART_EXP = 30;

/** The new-format fixed body length octets for `n` bytes. */
export function fixedLength(n: number): Uint8Array {
  if (n < 192) return Uint8Array.of(n);
  if (n < 8384) return Uint8Array.of(((n - 192) >> 8) + 192, (n - 192) & 0xff);
  return Uint8Array.of(255, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

export class PartialPacketWriter {
  private parts: Uint8Array[] = [];
  private size = 0;
  private started = false;
  private readonly partSize: number;

  constructor(private readonly tag: number, private readonly exp: number) {
    if (!Number.isInteger(exp) || exp < MIN_PART_EXP || exp > MAX_PART_EXP) throw new RangeError(`partial length exponent out of range: ${exp}`);
    this.partSize = 2 ** exp;
  }

  /** Adds body bytes; appends to `out` the packet bytes now complete (headers and whole parts). */
  push(data: Uint8Array, out: Uint8Array[]): void {
    if (data.length === 0) return;
    this.parts.push(data);
    this.size += data.length;
    while (this.size >= this.partSize) {
      out.push(this.header(Uint8Array.of(224 + this.exp)));
      this.take(this.partSize, out);
    }
  }

  /** Ends the body: appends the last part with its fixed length. */
  end(out: Uint8Array[]): void {
    out.push(this.header(fixedLength(this.size)));
    this.take(this.size, out);
  }

  private header(length: Uint8Array): Uint8Array {
    if (this.started) return length;
    this.started = true;
    const h = new Uint8Array(1 + length.length);
    h[0] = 0xc0 | this.tag;
    h.set(length, 1);
    return h;
  }

  private take(n: number, out: Uint8Array[]): void {
    let left = n;
    while (left > 0) {
      const p = this.parts[0] as Uint8Array;
      if (p.length <= left) {
        this.parts.shift();
        out.push(p);
        left -= p.length;
      } else {
        out.push(p.subarray(0, left));
        this.parts[0] = p.subarray(left);
        left = 0;
      }
    }
    this.size -= n;
  }
}
