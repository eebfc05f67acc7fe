/**
 * Repeated identifiers in one file, in a few bytes of memory per id.
 *
 * An exact table of every id seen held 8 bytes per id at 50-80 % load: ~57 MiB of live buffers
 * for the 4.7 M records of a 1 GiB export, and 70-80 MiB of the gateway's peak RSS once the
 * allocator's leftovers are counted (peak 342-352 MiB with it, 274 without). Here memory holds
 * only a Bloom filter (16-32 bits per id), and the exact answer comes from disk:
 *
 * - every id's 64-bit fingerprint (two seeded 32-bit hashes) is appended to a scratch list, in
 *   file order;
 * - an id the filter has surely not seen is new: `add` says so at once, which is nearly always;
 * - an id the filter may have seen (a real repeat, or one of its false positives, ~0.05 %) is
 *   *held*: its record is written to a second scratch file, and `resolve`, at the end of the file,
 *   reads the list once to tell the real repeats from the others and gives the held records back
 *   in file order. The caller then treats each as it would have: an error, or a valid record.
 *
 * The filter is sized for the ids seen so far; when full it doubles, rebuilt from the list.
 * Each held record is worked on after the last byte, before the verdict: at 10 bits per id, 0.33 %
 * of 2.4 M distinct ids were held, and the ~13,000 held records of the bench's 256 MiB export
 * took 190-255 ms there; at 16 bits, 0.05 % (12 bits: 0.15 %; 20 bits: 0.03 %).
 * Scratch files are unlinked as soon as they are opened, and the held records encrypted with a
 * key that only memory holds: a crash leaves nothing behind, and no record content readable on
 * the disk's free blocks.
 * Seeds are drawn per file, so nobody can aim ids at one slot or at the filter; a false repeat
 * needs two ids with the same 64-bit fingerprint, below one in a million for 5 M records, and a
 * resend draws new seeds.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayError } from '../errors.js';

export interface DuplicateIdsOptions {
  /** Ids the first filter is sized for (default 65,536). */
  readonly firstCapacity?: number;
  /** Filter bits per id at capacity (default 16). */
  readonly bitsPerId?: number;
  /**
   * Distinct held fingerprints settled per read of the list (default 262,144): bounds the memory
   * of `resolve` for a file where most ids repeat (a partner's export written twice, end to end).
   */
  readonly passSize?: number;
}

export interface HeldRecord {
  /** What `add` was given for it. */
  readonly payload: string;
  /** Whether an earlier id of the file was the same. */
  readonly repeat: boolean;
}

/** 512-bit blocks: all of an id's bits in one cache line, one memory access per id. */
const BLOCK_WORDS = 16;
const PROBES = 7;
const CHUNK = 64 << 10;
/** 2^20 bits (128 KiB): for ~4,000 held ids, 1 in 260 of the others looked up in vain. */
const MARK_MASK = (1 << 20) - 1;

export class DuplicateIds {
  private readonly seedA: number;
  private readonly seedB: number;
  private readonly bitsPerId: number;
  private readonly passSize: number;
  private capacity: number;
  private filter: Uint32Array;
  private count = 0;
  private heldCount = 0;
  /** Per id, in file order: its fingerprint (a, b). */
  private readonly list: ScratchFile;
  /** Per held record: ordinal in the list, a, b, payload byte length, payload (UTF-8). */
  private readonly held: ScratchFile;

  /** `dir`: where the scratch files are made (and at once unlinked). */
  constructor(dir: string, o: DuplicateIdsOptions = {}) {
    const seeds = crypto.getRandomValues(new Uint32Array(2));
    this.seedA = seeds[0] ?? 0;
    this.seedB = seeds[1] ?? 0;
    this.bitsPerId = o.bitsPerId ?? 16;
    this.passSize = Math.max(1, o.passSize ?? 1 << 18);
    this.capacity = Math.max(1, o.firstCapacity ?? 1 << 16);
    this.filter = filterFor(this.capacity, this.bitsPerId);
    this.list = new ScratchFile(dir, false);
    try {
      this.held = new ScratchFile(dir, true);
    } catch (e) {
      this.list.close();
      throw e;
    }
  }

  /** Ids added so far. */
  get size(): number {
    return this.count;
  }

  /**
   * True when `id` is surely the first of its value in the file. Otherwise the record is held:
   * `payload()` is called and kept, and `resolve` gives it back with the answer.
   */
  add(id: unknown, payload: () => string): boolean {
    const s = typeof id === 'string' ? id : String(id);
    let a = this.seedA;
    let b = this.seedB;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ c, 0x5bd1e995);
      a ^= a >>> 15;
      b = Math.imul(b ^ c, 0x27d4eb2d);
      b ^= b >>> 13;
    }
    a = fmix32(a ^ s.length);
    b = fmix32(b ^ Math.imul(s.length, 0x9e3779b1)) || 1; // never (0, 0): the empty slot of FingerprintTable
    const seen = testAndSet(this.filter, a, b);
    this.list.pair(a, b);
    const ordinal = this.count++;
    if (this.count > this.capacity) this.grow();
    if (!seen) return true;
    const bytes = Buffer.from(payload(), 'utf8');
    this.held.quad(ordinal, a, b, bytes.length);
    this.held.bytes(bytes);
    this.heldCount++;
    return false;
  }

  /**
   * The held records in file order, each with whether it repeats an earlier id. Reads the list
   * once per `passSize` distinct held fingerprints (once, but for a file full of repeats).
   */
  *resolve(): Generator<HeldRecord> {
    if (this.heldCount === 0) return;
    this.list.flush();
    this.held.flush();
    const repeat = new Uint8Array(this.heldCount);
    // The held fingerprints are split by value into as many parts as needed for each part's
    // distinct ones to fit in `passSize`: one part but for a file where most ids repeat.
    let parts = 1;
    let part = this.heldPart(0, parts);
    while (part.table.size > this.passSize && parts < this.heldCount) part = this.heldPart(0, (parts *= 2));
    for (let p = 0; p < parts; p++) {
      if (p > 0) part = this.heldPart(p, parts);
      const { table, marks, last } = part;
      // The first occurrence of a held fingerprint comes no later than the held record itself.
      let ordinal = 0;
      this.list.eachChunk((words) => {
        for (let w = 0; w < words.length; w += 2, ordinal++) {
          if (ordinal > last) return false;
          const b = words[w + 1] ?? 0;
          if (!isMarked(marks, b)) continue;
          const a = words[w] ?? 0;
          if (a % parts === p) table.seen(a, b, ordinal);
        }
        return true;
      });
      let k = 0;
      for (const h of this.heldHeaders()) {
        if (h.a % parts === p && table.first(h.a, h.b) < h.ordinal) repeat[k] = 1;
        k++;
      }
    }
    const r = this.held.reader();
    for (let k = 0; k < this.heldCount; k++) {
      r.skip(12);
      yield { payload: r.text(r.u32()), repeat: repeat[k] === 1 };
    }
  }

  /** Frees the scratch files (their space returns at once: they have no name). */
  close(): void {
    this.list.close();
    this.held.close();
  }

  /** The distinct held fingerprints of part `p` of `parts`, and the last ordinal among them. */
  private heldPart(p: number, parts: number): { table: FingerprintTable; marks: Uint32Array; last: number } {
    const table = new FingerprintTable();
    // One bit per value of b's low bits: most of the list is passed over on one look at it.
    const marks = new Uint32Array((MARK_MASK + 1) / 32);
    let last = 0;
    for (const h of this.heldHeaders()) {
      if (h.a % parts !== p) continue;
      table.add(h.a, h.b);
      mark(marks, h.b);
      last = h.ordinal;
    }
    return { table, marks, last };
  }

  private *heldHeaders(): Generator<{ ordinal: number; a: number; b: number }> {
    const r = this.held.reader();
    for (let k = 0; k < this.heldCount; k++) {
      const h = { ordinal: r.u32(), a: r.u32(), b: r.u32() };
      r.skip(r.u32());
      yield h;
    }
  }

  private grow(): void {
    this.capacity *= 2;
    this.filter = filterFor(this.capacity, this.bitsPerId);
    this.list.flush();
    const filter = this.filter;
    this.list.eachChunk((words) => {
      for (let w = 0; w < words.length; w += 2) testAndSet(filter, words[w] ?? 0, words[w + 1] ?? 0);
      return true;
    });
  }
}

function filterFor(capacity: number, bitsPerId: number): Uint32Array {
  const blocks = Math.max(1, Math.ceil((capacity * bitsPerId) / (BLOCK_WORDS * 32)));
  return new Uint32Array(blocks * BLOCK_WORDS);
}

/** Sets the id's bits; true if they all were set already (seen, or a false positive). */
function testAndSet(filter: Uint32Array, a: number, b: number): boolean {
  const base = ((a >>> 0) % (filter.length / BLOCK_WORDS)) * BLOCK_WORDS;
  const step = Math.imul(a, 0x9e3779b1) | 1;
  let h = b;
  let all = true;
  for (let i = 0; i < PROBES; i++) {
    const bit = h >>> 23; // 9 bits: one of the block's 512
    const w = base + (bit >>> 5);
    const m = 1 << (bit & 31);
    const v = filter[w] ?? 0;
    if ((v & m) === 0) {
      all = false;
      filter[w] = v | m;
    }
    h = (h + step) | 0;
  }
  return all;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Distinct fingerprints → the ordinal of their first occurrence in the list. */
class FingerprintTable {
  /** Triples (a, b, first + 1); (0, 0) is an empty slot, first + 1 = 0 not seen yet. */
  private slots = new Uint32Array(3 * 64);
  private used = 0;

  get size(): number {
    return this.used;
  }

  add(a: number, b: number): void {
    if ((this.used + 1) * 2 > this.slots.length / 3) this.rehash();
    const i = slotOf(this.slots, a, b);
    if (this.slots[i] === a && this.slots[i + 1] === b) return;
    this.slots[i] = a;
    this.slots[i + 1] = b;
    this.used++;
  }

  seen(a: number, b: number, ordinal: number): void {
    const i = slotOf(this.slots, a, b);
    // An empty slot never matches: no fingerprint is (0, 0).
    if (this.slots[i] === a && this.slots[i + 1] === b && this.slots[i + 2] === 0) this.slots[i + 2] = ordinal + 1;
  }

  /** The first ordinal seen for (a, b); Infinity when none. */
  first(a: number, b: number): number {
    const i = slotOf(this.slots, a, b);
    const f = this.slots[i] === a && this.slots[i + 1] === b ? (this.slots[i + 2] ?? 0) : 0;
    return f === 0 ? Infinity : f - 1;
  }

  private rehash(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    for (let i = 0; i < old.length; i += 3) {
      if (old[i] === 0 && old[i + 1] === 0) continue;
      this.slots.set(old.subarray(i, i + 3), slotOf(this.slots, old[i] ?? 0, old[i + 1] ?? 0));
    }
  }
}

/** One bit per value of b's low bits (MARK_MASK). */
function mark(marks: Uint32Array, b: number): void {
  const i = (b & MARK_MASK) >>> 5;
  marks[i] = (marks[i] ?? 0) | (1 << (b & 31));
}

function isMarked(marks: Uint32Array, b: number): boolean {
  return ((marks[(b & MARK_MASK) >>> 5] ?? 0) & (1 << (b & 31))) !== 0;
}

/** Linear probing (power-of-two size, start from b): the slot holding (a, b), or the empty one where it goes. */
function slotOf(slots: Uint32Array, a: number, b: number): number {
  const n = slots.length / 3;
  for (let i = b & (n - 1); ; i = (i + 1) & (n - 1)) {
    const sa = slots[3 * i] ?? 0;
    const sb = slots[3 * i + 1] ?? 0;
    if ((sa === a && sb === b) || (sa === 0 && sb === 0)) return 3 * i;
  }
}

/**
 * An append-only file with no name, written through a buffer and read back by position.
 *
 * The held records' file is encrypted (AES-256-CTR, a key drawn per file and kept only in
 * memory): they are plaintext, which never touches the disk (security.md, invariant 9); CTR lets
 * any position be read back on its own. Confidentiality only: whoever can write into the data
 * directory while an upload is worked on can do worse than change this file. The list is not:
 * it holds no record content, only hashes under seeds that only memory knows, and it is read
 * whole at each growth of the filter, where decrypting made a new 64 KiB buffer per read (Node's
 * ciphers cannot write into a given one): with it, the gateway's peak RSS accepting a 1 GiB
 * export was 292-308 MiB, and 330 in a bench run, against 282-291 without.
 */
class ScratchFile {
  private readonly fd: number;
  /** Undefined: written as is. */
  private readonly key: Buffer | undefined;
  /** The IV's first half; the second is the 16-byte block number in the file. */
  private readonly nonce = randomBytes(8);
  private readonly buf = Buffer.allocUnsafeSlow(CHUNK);
  private readonly words = new Uint32Array(this.buf.buffer, this.buf.byteOffset, CHUNK / 4);
  private len = 0;
  private size = 0;
  private closed = false;

  constructor(dir: string, encrypted: boolean) {
    this.key = encrypted ? randomBytes(32) : undefined;
    const path = join(dir, `.ids-${randomBytes(8).toString('hex')}`);
    try {
      this.fd = openSync(path, 'wx+', 0o600);
    } catch (e) {
      // The cause stays attached: a full disk is still told apart (errors.ts, isStorageFull).
      const why = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new GatewayError('GATEWAY_FAILURE', `impossible de créer le fichier de travail du contrôle des doublons dans ${dir} (${why}) / cannot create the duplicate check's scratch file in ${dir}`, { dir }, { cause: e });
    }
    try {
      unlinkSync(path);
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  pair(a: number, b: number): void {
    if (this.len + 8 > CHUNK) this.flush();
    const w = this.len >>> 2;
    this.words[w] = a;
    this.words[w + 1] = b;
    this.len += 8;
  }

  quad(a: number, b: number, c: number, d: number): void {
    if (this.len + 16 > CHUNK) this.flush();
    const w = this.len >>> 2;
    this.words[w] = a;
    this.words[w + 1] = b;
    this.words[w + 2] = c;
    this.words[w + 3] = d;
    this.len += 16;
  }

  /** Keeps the buffer's length a multiple of 4 bytes (pair and quad write whole words). */
  bytes(data: Buffer): void {
    const padded = (data.length + 3) & ~3;
    if (this.len + padded > CHUNK) this.flush();
    if (padded > CHUNK) {
      this.writeAll(data);
      this.writeAll(Buffer.alloc(padded - data.length));
      return;
    }
    data.copy(this.buf, this.len);
    this.buf.fill(0, this.len + data.length, this.len + padded);
    this.len += padded;
  }

  flush(): void {
    if (this.len === 0) return;
    this.writeAll(this.buf.subarray(0, this.len));
    this.len = 0;
  }

  /**
   * Hands what `pair` wrote to `visit`, in order, a chunk of words (a, b, a, b, …) at a time,
   * until it returns false (flush first).
   */
  eachChunk(visit: (words: Uint32Array) => boolean): void {
    const chunk = Buffer.allocUnsafeSlow(CHUNK);
    const words = new Uint32Array(chunk.buffer, chunk.byteOffset, CHUNK / 4);
    for (let pos = 0; pos < this.size; ) {
      const n = this.readAt(chunk, pos, Math.min(CHUNK, this.size - pos));
      if (!visit(n === CHUNK ? words : words.subarray(0, n >>> 2))) return;
      pos += n;
    }
  }

  /** A buffered sequential reader from the start (flush first). */
  reader(): ScratchReader {
    return new ScratchReader((into, at, pos, n) => this.readAt(into, pos, Math.min(n, this.size - pos), at));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private readAt(into: Buffer, pos: number, n: number, at = 0): number {
    let done = 0;
    while (done < n) {
      const got = readSync(this.fd, into, at + done, n - done, pos + done);
      if (got === 0) throw new Error(`fichier de travail des identifiants tronqué (${pos + done} sur ${this.size} octets)`);
      done += got;
    }
    if (this.key) this.crypt(this.key, pos, into.subarray(at, at + n)).copy(into, at);
    return done;
  }

  private writeAll(data: Buffer): void {
    const sealed = this.key ? this.crypt(this.key, this.size, data) : data;
    for (let off = 0; off < sealed.length; ) off += writeSync(this.fd, sealed, off, sealed.length - off, this.size + off);
    this.size += sealed.length;
  }

  /** The same operation both ways: XOR with the key stream from byte `pos` of the file. */
  private crypt(key: Buffer, pos: number, data: Uint8Array): Buffer {
    const iv = Buffer.alloc(16);
    this.nonce.copy(iv);
    iv.writeBigUInt64BE(BigInt(Math.floor(pos / 16)), 8);
    const c = createCipheriv('aes-256-ctr', key, iv);
    if (pos % 16) c.update(Buffer.alloc(pos % 16));
    return c.update(data);
  }
}

/** Reads what `quad` and `bytes` wrote, in order; every item starts on a 4-byte boundary. */
class ScratchReader {
  private buf = Buffer.allocUnsafeSlow(CHUNK);
  private words = new Uint32Array(this.buf.buffer, 0, CHUNK / 4);
  private start = 0;
  private end = 0;
  /** File position of the byte after `end`. */
  private pos = 0;

  constructor(private readonly read: (into: Buffer, at: number, pos: number, n: number) => number) {}

  u32(): number {
    this.ensure(4);
    const v = this.words[this.start >>> 2] ?? 0;
    this.start += 4;
    return v;
  }

  text(n: number): string {
    const padded = (n + 3) & ~3;
    this.ensure(padded);
    const s = this.buf.toString('utf8', this.start, this.start + n);
    this.start += padded;
    return s;
  }

  skip(n: number): void {
    const padded = (n + 3) & ~3;
    const buffered = this.end - this.start;
    if (padded <= buffered) {
      this.start += padded;
      return;
    }
    this.pos += padded - buffered;
    this.start = this.end = 0;
  }

  private ensure(n: number): void {
    if (this.end - this.start >= n) return;
    const rest = this.end - this.start;
    if (n > this.buf.length) {
      const bigger = Buffer.allocUnsafeSlow((Math.max(n, 2 * this.buf.length) + 3) & ~3);
      this.buf.copy(bigger, 0, this.start, this.end);
      this.buf = bigger;
      this.words = new Uint32Array(bigger.buffer, 0, bigger.length / 4);
    } else {
      this.buf.copyWithin(0, this.start, this.end);
    }
    this.start = 0;
    this.end = rest;
    while (this.end < n) {
      const got = this.read(this.buf, this.end, this.pos, this.buf.length - this.end);
      if (got === 0) throw new Error(`fichier de travail des identifiants tronqué à ${this.pos} octets`);
      this.end += got;
      this.pos += got;
    }
  }
}
