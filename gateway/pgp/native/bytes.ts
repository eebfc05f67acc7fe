/**
 * A pull-based byte reader over an async iterator of chunks, and the OpenPGP packet framing
 * (RFC 9580 §4.2: old and new headers, partial body lengths). Large bodies are handed on as
 * sub-arrays of the input chunks, without copying. Bytes consumed while `recording` can be
 * replayed, so a caller that peeked at headers can hand the whole stream to another reader.
 */
import { GatewayError } from '../../errors.js';

export class Truncated extends GatewayError {
  constructor(what: string) {
    super('PGP_CORRUPT', 'le message OpenPGP est tronqué / the OpenPGP message is truncated', { what });
  }
}

export class ByteReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private ended = false;
  private recorded: Uint8Array[] | null = null;

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  /** Starts keeping a copy of every byte consumed from now on (for `replay`). */
  record(): void {
    this.recorded = [];
  }

  stopRecording(): void {
    this.recorded = null;
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.source.next();
    if (r.done === true) { this.ended = true; return false; }
    if (r.value.length > 0) { this.chunks.push(r.value); this.buffered += r.value.length; }
    return true;
  }

  /** True if at least n bytes can be read. */
  async has(n: number): Promise<boolean> {
    while (this.buffered < n) if (!(await this.pull())) return false;
    return true;
  }

  async atEnd(): Promise<boolean> {
    return !(await this.has(1));
  }

  /** Up to `max` bytes (at least one), or null at the end of the input. */
  async chunk(max: number): Promise<Uint8Array | null> {
    if (!(await this.has(1))) return null;
    const first = this.chunks[0] as Uint8Array;
    let out: Uint8Array;
    if (first.length <= max) {
      this.chunks.shift();
      out = first;
    } else {
      out = first.subarray(0, max);
      this.chunks[0] = first.subarray(max);
    }
    this.buffered -= out.length;
    this.recorded?.push(out);
    return out;
  }

  /** Exactly n bytes (copied when they span chunks); Truncated if the input ends first. */
  async exact(n: number, what: string): Promise<Uint8Array> {
    if (!(await this.has(n))) throw new Truncated(what);
    if (n === 0) return new Uint8Array(0);
    const first = this.chunks[0] as Uint8Array;
    if (first.length >= n) return (await this.chunk(n)) as Uint8Array;
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = (await this.chunk(n - off)) as Uint8Array;
      out.set(c, off);
      off += c.length;
    }
    return out;
  }

  async byte(what: string): Promise<number> {
    return (await this.exact(1, what))[0] as number;
  }

  /** The recorded bytes, then everything not yet consumed: the stream as if never read. */
  async *replay(): AsyncGenerator<Uint8Array> {
    for (const c of this.recorded ?? []) yield c;
    this.recorded = null;
    while (this.chunks.length > 0) {
      const c = this.chunks.shift() as Uint8Array;
      this.buffered -= c.length;
      yield c;
    }
    for (;;) {
      const r = await this.source.next();
      if (r.done === true) return;
      yield r.value;
    }
  }
}

export interface PacketHeader {
  tag: number;
  /** Body length; 'partial' = first part of `partLength` bytes; 'rest' = old-format indeterminate. */
  kind: 'fixed' | 'partial' | 'rest';
  length: number;
}

async function newFormatLength(r: ByteReader): Promise<{ kind: 'fixed' | 'partial'; length: number }> {
  const o1 = await r.byte('length');
  if (o1 < 192) return { kind: 'fixed', length: o1 };
  if (o1 < 224) return { kind: 'fixed', length: ((o1 - 192) << 8) + (await r.byte('length')) + 192 };
  if (o1 < 255) return { kind: 'partial', length: 1 << (o1 & 0x1f) };
  const b = await r.exact(4, 'length');
  return { kind: 'fixed', length: ((b[0] as number) * 2 ** 24) + (((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number)) };
}

/** The next packet header, or null at the end of the input. Throws PGP_MALFORMED on a non-packet. */
export async function readHeader(r: ByteReader): Promise<PacketHeader | null> {
  if (await r.atEnd()) return null;
  const ctb = await r.byte('header');
  if ((ctb & 0x80) === 0) throw new GatewayError('PGP_MALFORMED', 'en-tête de paquet OpenPGP invalide / invalid OpenPGP packet header', { ctb });
  if ((ctb & 0x40) !== 0) {
    const { kind, length } = await newFormatLength(r);
    return { tag: ctb & 0x3f, kind, length };
  }
  const tag = (ctb >> 2) & 0x0f;
  switch (ctb & 3) {
    case 0: return { tag, kind: 'fixed', length: await r.byte('length') };
    case 1: { const b = await r.exact(2, 'length'); return { tag, kind: 'fixed', length: ((b[0] as number) << 8) | (b[1] as number) }; }
    case 2: { const b = await r.exact(4, 'length'); return { tag, kind: 'fixed', length: ((b[0] as number) * 2 ** 24) + (((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number)) }; }
    default: return { tag, kind: 'rest', length: 0 };
  }
}

/** The body of a packet as chunks (partial lengths followed; 'rest' runs to the end of the input). */
export async function* packetBody(r: ByteReader, h: PacketHeader, maxChunk = 1 << 20): AsyncGenerator<Uint8Array> {
  if (h.kind === 'rest') {
    for (;;) {
      const c = await r.chunk(maxChunk);
      if (c === null) return;
      yield c;
    }
  }
  let left = h.length;
  let partial = h.kind === 'partial';
  for (;;) {
    while (left > 0) {
      const c = await r.chunk(Math.min(left, maxChunk));
      if (c === null) throw new Truncated(`packet ${h.tag} body`);
      left -= c.length;
      yield c;
    }
    if (!partial) return;
    const next = await newFormatLength(r);
    left = next.length;
    partial = next.kind === 'partial';
  }
}

/** A whole (small) packet body, refused over `limit` bytes. */
export async function readSmallBody(r: ByteReader, h: PacketHeader, limit: number): Promise<Uint8Array> {
  if (h.kind === 'fixed') {
    if (h.length > limit) throw new GatewayError('PGP_MALFORMED', 'paquet OpenPGP trop long / OpenPGP packet too long', { tag: h.tag });
    return r.exact(h.length, `packet ${h.tag}`);
  }
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const c of packetBody(r, h)) {
    size += c.length;
    if (size > limit) throw new GatewayError('PGP_MALFORMED', 'paquet OpenPGP trop long / OpenPGP packet too long', { tag: h.tag });
    parts.push(c);
  }
  return Buffer.concat(parts);
}

/** The bytes of a packet with a fixed-length new-format header, as openpgp.js reads them back. */
export function framePacket(tag: number, body: Uint8Array): Uint8Array {
  const n = body.length;
  const head = n < 192 ? [0xc0 | tag, n]
    : n < 8384 ? [0xc0 | tag, ((n - 192) >> 8) + 192, (n - 192) & 0xff]
      : [0xc0 | tag, 255, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from(head), body]);
}
