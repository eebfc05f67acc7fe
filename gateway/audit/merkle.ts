/**
 * RFC 6962 / RFC 9162 Merkle tree math, pure: values in, values out, no storage.
 *
 * leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ left ‖ right), root of 0 leaves = SHA-256("").
 * Proof *generation* is split in two: `inclusionRanges` / `consistencyRanges` say which
 * subtree hashes are needed (as leaf ranges [start, end)), `perfectSubtrees` says which stored
 * nodes make up a range, and the caller fetches them (from SQLite, or from an array in tests).
 * Sizes and indices are JS numbers, checked to be safe integers (2^53 leaves is plenty).
 */
import { hash } from 'node:crypto';
import { GatewayError } from '../errors.js';

export const HASH_SIZE = 32;

// One-shot crypto.hash is about three times faster than createHash() for these small inputs,
// and verify hashes two million of them for a million entries.
export function sha256(...parts: Uint8Array[]): Buffer {
  return hash('sha256', parts.length === 1 ? parts[0]! : Buffer.concat(parts), 'buffer');
}

export function leafHash(data: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(data.length + 1);
  buf[0] = 0x00;
  buf.set(data, 1);
  return hash('sha256', buf, 'buffer');
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(1 + left.length + right.length);
  buf[0] = 0x01;
  buf.set(left, 1);
  buf.set(right, 1 + left.length);
  return hash('sha256', buf, 'buffer');
}

export const EMPTY_ROOT: Buffer = sha256();

/** A complete, aligned subtree: leaves [index·2^level, (index+1)·2^level). Level 0 = a leaf. */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** A half-open leaf range [start, end). */
export interface LeafRange {
  readonly start: number;
  readonly end: number;
}

function checkSize(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new GatewayError('AUDIT_PROOF_INVALID', `${name} n'est pas un entier positif (${n})`, { [name]: n });
}

/** Largest power of two strictly smaller than n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The aligned perfect subtrees covering [start, end), left to right. For a range that starts at a
 * multiple of a power of two at least as big as its size (every range a proof asks for), there are
 * at most log2(n) of them, with decreasing sizes.
 */
export function perfectSubtrees(start: number, end: number): NodeId[] {
  checkSize('start', start);
  checkSize('end', end);
  const out: NodeId[] = [];
  let pos = start;
  while (pos < end) {
    // Biggest aligned block starting at pos that fits before end.
    let size = 1;
    let level = 0;
    while (pos % (size * 2) === 0 && pos + size * 2 <= end) {
      size *= 2;
      level++;
    }
    out.push({ level, index: pos / size });
    pos += size;
  }
  return out;
}

/** Root hash of a run of perfect subtree hashes (left to right), as RFC 6962 MTH defines it. */
export function foldSubtrees(hashes: readonly Uint8Array[]): Buffer {
  if (hashes.length === 0) return EMPTY_ROOT;
  let acc: Buffer = Buffer.from(hashes[hashes.length - 1]!);
  for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i]!, acc);
  return acc;
}

/** Hash of leaves [start, end) given a way to fetch stored nodes. */
export function rangeHash(range: LeafRange, getNode: (id: NodeId) => Uint8Array): Buffer {
  return foldSubtrees(perfectSubtrees(range.start, range.end).map(getNode));
}

/** RFC 6962 §2.1.1 PATH(m, D[n]): the leaf ranges whose hashes form the inclusion proof, in order. */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  checkSize('index', index);
  checkSize('size', size);
  if (index >= size) throw new GatewayError('AUDIT_PROOF_INVALID', `index ${index} hors de l'arbre de taille ${size}`, { index, size });
  const out: LeafRange[] = [];
  let start = 0;
  let end = size;
  let m = index;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (m < k) {
      out.push({ start: start + k, end });
      end = start + k;
    } else {
      out.push({ start, end: start + k });
      start += k;
      m -= k;
    }
  }
  return out.reverse();
}

/** RFC 6962 §2.1.2 PROOF(m, D[n]): the leaf ranges whose hashes form the consistency proof. */
export function consistencyRanges(size1: number, size2: number): LeafRange[] {
  checkSize('size1', size1);
  checkSize('size2', size2);
  if (size1 === 0 || size1 > size2) throw new GatewayError('AUDIT_PROOF_INVALID', `pas de preuve de cohérence de ${size1} à ${size2}`, { size1, size2 });
  const out: LeafRange[] = [];
  let start = 0;
  let end = size2;
  let m = size1;
  let whole = true; // b in SUBPROOF(m, D[n], b)
  while (m !== end - start) {
    const k = splitPoint(end - start);
    if (m <= k) {
      out.push({ start: start + k, end });
      end = start + k;
    } else {
      out.push({ start, end: start + k });
      start += k;
      m -= k;
      whole = false;
    }
  }
  if (!whole) out.push({ start, end });
  return out.reverse();
}

/** Proof hashes for ranges, fetched through getNode. */
export function proofHashes(ranges: readonly LeafRange[], getNode: (id: NodeId) => Uint8Array): Buffer[] {
  return ranges.map((r) => rangeHash(r, getNode));
}

/** Inclusion proof computed from all the leaf hashes (small trees, tests, offline tools). */
export function inclusionProof(index: number, leaves: readonly Uint8Array[]): Buffer[] {
  return proofHashes(inclusionRanges(index, leaves.length), memoryNodes(leaves));
}

/** Consistency proof computed from all the leaf hashes of the bigger tree. */
export function consistencyProof(size1: number, leaves: readonly Uint8Array[]): Buffer[] {
  return proofHashes(consistencyRanges(size1, leaves.length), memoryNodes(leaves));
}

/** Root of a list of leaf hashes. */
export function rootOf(leaves: readonly Uint8Array[]): Buffer {
  return rangeHash({ start: 0, end: leaves.length }, memoryNodes(leaves));
}

/** A node fetcher over an in-memory array of leaf hashes (computes interior nodes on demand). */
export function memoryNodes(leaves: readonly Uint8Array[]): (id: NodeId) => Uint8Array {
  const get = (id: NodeId): Uint8Array => {
    if (id.level === 0) {
      const leaf = leaves[id.index];
      if (!leaf) throw new GatewayError('AUDIT_PROOF_INVALID', `feuille ${id.index} absente`, { index: id.index });
      return leaf;
    }
    return nodeHash(get({ level: id.level - 1, index: id.index * 2 }), get({ level: id.level - 1, index: id.index * 2 + 1 }));
  };
  return get;
}

function fail(message: string, detail: Record<string, unknown> = {}): never {
  throw new GatewayError('AUDIT_PROOF_INVALID', message, detail);
}

function checkProofHashes(proof: readonly Uint8Array[]): void {
  proof.forEach((p, i) => {
    if (p.length !== HASH_SIZE) fail(`élément ${i} de la preuve : ${p.length} octets au lieu de ${HASH_SIZE}`, { element: i });
  });
}

const odd = (n: number): boolean => n % 2 === 1;
const half = (n: number): number => Math.floor(n / 2);

/**
 * The (fn, sn) walk shared by both RFC 9162 verifiers: for each proof element, says whether it
 * sits on the left (LSB(fn) set, or fn = sn on the right edge), then shifts; returns the final sn,
 * which must be 0 for a proof of the right length.
 */
function walk(fn: number, sn: number, proof: readonly Uint8Array[], tooLong: string, step: (p: Uint8Array, left: boolean) => void): number {
  for (const p of proof) {
    if (sn === 0) fail(tooLong);
    const left = odd(fn) || fn === sn;
    step(p, left);
    if (left) {
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn;
}

/**
 * RFC 9162 §2.1.3.2. Throws AUDIT_PROOF_INVALID (with the reason) unless `proof` shows that
 * `leaf` is at `index` in the tree of `size` leaves whose root is `root`.
 */
export function verifyInclusion(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): void {
  checkSize('index', index);
  checkSize('size', size);
  if (index >= size) fail(`index ${index} hors de l'arbre de taille ${size}`, { index, size });
  if (leaf.length !== HASH_SIZE) fail(`empreinte de feuille de ${leaf.length} octets`);
  checkProofHashes(proof);
  let r: Buffer = Buffer.from(leaf);
  const sn = walk(index, size - 1, proof, 'preuve d\'inclusion trop longue', (p, left) => {
    r = left ? nodeHash(p, r) : nodeHash(r, p);
  });
  if (sn !== 0) fail('preuve d\'inclusion trop courte', { index, size });
  if (!r.equals(root)) fail('la preuve d\'inclusion ne mène pas à la racine', { index, size });
}

/**
 * RFC 9162 §2.1.4.2. Throws AUDIT_PROOF_INVALID unless the tree of size2 with root2 extends the
 * tree of size1 with root1. A proof from the empty tree is refused: it proves nothing.
 */
export function verifyConsistency(size1: number, size2: number, proof: readonly Uint8Array[], root1: Uint8Array, root2: Uint8Array): void {
  checkSize('size1', size1);
  checkSize('size2', size2);
  if (size2 < size1) fail(`taille ${size2} inférieure à ${size1}`, { size1, size2 });
  if (size1 === 0) fail('preuve de cohérence depuis un arbre vide', { size1, size2 });
  if (size1 === size2) {
    if (proof.length !== 0) fail('tailles égales mais preuve non vide', { size1, size2 });
    if (!Buffer.from(root1).equals(root2)) fail('tailles égales mais racines différentes', { size1, size2 });
    return;
  }
  if (proof.length === 0) fail('preuve de cohérence vide', { size1, size2 });
  checkProofHashes(proof);
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  sn = walk(fn, sn, path.slice(1), 'preuve de cohérence trop longue', (c, left) => {
    if (left) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
    } else {
      sr = nodeHash(sr, c);
    }
  });
  if (sn !== 0) fail('preuve de cohérence trop courte', { size1, size2 });
  if (!fr.equals(root1)) fail('la preuve ne mène pas à la première racine', { size1, size2 });
  if (!sr.equals(root2)) fail('la preuve ne mène pas à la seconde racine', { size1, size2 });
}

function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

/**
 * Compact range: the perfect-subtree roots of a tree of `size` leaves (one per set bit of size,
 * biggest first). Appending a leaf is O(log n) and reports the interior nodes it completed, which
 * the store keeps so proofs need O(log n) reads.
 */
export class CompactRange {
  private constructor(
    private readonly hashes: Uint8Array[],
    private n: number,
  ) {}

  static empty(): CompactRange {
    return new CompactRange([], 0);
  }

  /** From the stored nodes of a tree of `size` leaves. */
  static load(size: number, getNode: (id: NodeId) => Uint8Array): CompactRange {
    return new CompactRange(perfectSubtrees(0, size).map((id) => Buffer.from(getNode(id))), size);
  }

  get size(): number {
    return this.n;
  }

  clone(): CompactRange {
    return new CompactRange([...this.hashes], this.n);
  }

  /**
   * Appends a leaf hash (kept, not copied: callers pass hashes nobody mutates); returns the
   * interior nodes (level ≥ 1) this completed, unless `record` is false (verify needs none).
   */
  append(leaf: Uint8Array, record = true): { id: NodeId; hash: Buffer }[] {
    const done: { id: NodeId; hash: Buffer }[] = [];
    let h: Uint8Array = leaf;
    let index = this.n;
    let level = 0;
    while (odd(index)) {
      const node = nodeHash(this.hashes.pop()!, h);
      h = node;
      index = half(index);
      level++;
      if (record) done.push({ id: { level, index }, hash: node });
    }
    this.hashes.push(h);
    this.n++;
    return done;
  }

  root(): Buffer {
    return foldSubtrees(this.hashes);
  }
}
