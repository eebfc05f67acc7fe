import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import {
  CompactRange, EMPTY_ROOT, consistencyProof, inclusionProof, leafHash, nodeHash, rootOf,
  verifyConsistency, verifyInclusion,
} from '../../gateway/audit/merkle.js';
import { isGatewayError } from '../../gateway/errors.js';

const VECTORS = join(import.meta.dirname, '..', 'vectors', 'rfc6962');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.json') ? [p] : [];
  });
}

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

interface InclusionCase { leafIdx: number; treeSize: number; root: string; leafHash: string; proof: string[] | null; wantErr: boolean }
interface ConsistencyCase { size1: number; size2: number; root1: string; root2: string; proof: string[] | null; wantErr: boolean }

function outcome(f: () => void): 'ok' | 'error' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (!isGatewayError(e, 'AUDIT_PROOF_INVALID')) throw e;
    return 'error';
  }
}

describe('RFC 6962 reference vectors (transparency-dev/merkle)', () => {
  const inclusion = files(join(VECTORS, 'inclusion'));
  const consistency = files(join(VECTORS, 'consistency'));
  it('has every vector file', () => {
    expect(inclusion.length + consistency.length).toBe(196);
  });
  describe('verifyInclusion', () => {
    it.each(inclusion.map((f) => [f.slice(VECTORS.length + 1), f]))('%s', (_name, file) => {
      const c = JSON.parse(readFileSync(file, 'utf8')) as InclusionCase;
      const got = outcome(() => verifyInclusion(c.leafIdx, c.treeSize, b64(c.leafHash), (c.proof ?? []).map(b64), b64(c.root)));
      expect(got).toBe(c.wantErr ? 'error' : 'ok');
    });
  });
  describe('verifyConsistency', () => {
    it.each(consistency.map((f) => [f.slice(VECTORS.length + 1), f]))('%s', (_name, file) => {
      const c = JSON.parse(readFileSync(file, 'utf8')) as ConsistencyCase;
      const got = outcome(() => verifyConsistency(c.size1, c.size2, (c.proof ?? []).map(b64), b64(c.root1), b64(c.root2)));
      expect(got).toBe(c.wantErr ? 'error' : 'ok');
    });
  });
});

// A deliberately naive reference: RFC 6962 §2.1 written as recursion over arrays, nothing shared
// with the code under test except SHA-256.
const H = (...p: Buffer[]): Buffer => createHash('sha256').update(Buffer.concat(p)).digest();
function k(n: number): number {
  let x = 1;
  while (x * 2 < n) x *= 2;
  return x;
}
function mth(d: Buffer[]): Buffer {
  if (d.length === 0) return H();
  if (d.length === 1) return d[0]!;
  const s = k(d.length);
  return H(Buffer.from([1]), mth(d.slice(0, s)), mth(d.slice(s)));
}
function path(m: number, d: Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const s = k(d.length);
  return m < s ? [...path(m, d.slice(0, s)), mth(d.slice(s))] : [...path(m - s, d.slice(s)), mth(d.slice(0, s))];
}
function subproof(m: number, d: Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const s = k(d.length);
  return m <= s ? [...subproof(m, d.slice(0, s), b), mth(d.slice(s))] : [...subproof(m - s, d.slice(s), false), mth(d.slice(0, s))];
}
const leaves = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => H(Buffer.from([0]), Buffer.from(`leaf ${i}`)));

describe('against a naive reference tree', () => {
  it('hashes leaves and nodes with the RFC 6962 prefixes', () => {
    expect(leafHash(Buffer.from('x')).equals(H(Buffer.from([0]), Buffer.from('x')))).toBe(true);
    expect(nodeHash(Buffer.alloc(32, 1), Buffer.alloc(32, 2)).equals(H(Buffer.from([1]), Buffer.alloc(32, 1), Buffer.alloc(32, 2)))).toBe(true);
    expect(EMPTY_ROOT.equals(H())).toBe(true);
  });

  it('all pairs for trees up to 40 leaves: roots, inclusion and consistency proofs', () => {
    const all = leaves(40);
    for (let n = 1; n <= 40; n++) {
      const d = all.slice(0, n);
      const root = mth(d);
      expect(rootOf(d).equals(root)).toBe(true);
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(i, d);
        expect(proof).toEqual(path(i, d));
        verifyInclusion(i, n, d[i]!, proof, root);
        if (proof.length > 0) expect(outcome(() => verifyInclusion(i, n, d[i]!, proof.slice(1), root))).toBe('error');
        expect(outcome(() => verifyInclusion(i, n, d[(i + 1) % n]!, proof, root))).toBe(n === 1 ? 'ok' : 'error');
      }
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(m, d);
        expect(proof).toEqual(subproof(m, d, true));
        verifyConsistency(m, n, proof, mth(d.slice(0, m)), root);
        if (m < n) expect(outcome(() => verifyConsistency(m, n, proof, mth(d.slice(0, m)), H(Buffer.from('other'))))).toBe('error');
      }
    }
  });

  it('random samples on trees up to 3000 leaves', () => {
    const all = leaves(3000);
    const rnd = (n: number): number => randomBytes(4).readUInt32BE() % n;
    for (let t = 0; t < 12; t++) {
      const n = 1 + rnd(3000);
      const d = all.slice(0, n);
      const root = mth(d);
      expect(rootOf(d).equals(root)).toBe(true);
      for (let s = 0; s < 10; s++) {
        const i = rnd(n);
        const proof = inclusionProof(i, d);
        expect(proof).toEqual(path(i, d));
        verifyInclusion(i, n, d[i]!, proof, root);
        const m = 1 + rnd(n);
        const cp = consistencyProof(m, d);
        expect(cp).toEqual(subproof(m, d, true));
        verifyConsistency(m, n, cp, mth(d.slice(0, m)), root);
      }
    }
  });

  it('CompactRange appends match the reference root at every size and report completed nodes', () => {
    const d = leaves(300);
    const cr = CompactRange.empty();
    let completed = 0;
    d.forEach((leaf, i) => {
      completed += cr.append(leaf).length;
      expect(cr.root().equals(mth(d.slice(0, i + 1)))).toBe(true);
    });
    expect(completed).toBe(300 - 1 - 3); // n − popcount(n) interior nodes are complete (300 = 0b100101100)
  });
});
