/**
 * admin-ui/public/verify.js (the browser verifier) run under Node's WebCrypto, against the
 * naive reference tree of ArrayAuditData: every index of several tree sizes verifies, and
 * named mutations of a proof fail.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ArrayAuditData, makeNoteKey, naivePath, naiveRoot } from './array-audit.js';
// @ts-expect-error -- plain browser JS module without type declarations
import * as verifier from '../../admin-ui/public/verify.js';

interface Proof { index: number; treeSize: number; leafHash: string; entryBytes?: string; hashes: string[]; checkpoint: string }
const v = verifier as {
  rootFromInclusionProof(i: number, n: number, leaf: Uint8Array, proof: Uint8Array[]): Promise<Uint8Array>;
  verifyProof(p: Proof, key: string): Promise<{ size: number; name: string; origin: string }>;
};

const leaf = (i: number) => createHash('sha256').update(Buffer.from([0])).update(`entry ${i}`).digest();

describe('rootFromInclusionProof', () => {
  for (const size of [1, 2, 3, 5, 7, 8, 13, 16, 17]) {
    it(`reaches the reference root for every index of a tree of ${size}`, async () => {
      const leaves = Array.from({ length: size }, (_, i) => leaf(i));
      const root = naiveRoot(leaves);
      for (let i = 0; i < size; i++) {
        const r = await v.rootFromInclusionProof(i, size, leaves[i]!, naivePath(i, leaves));
        expect(Buffer.from(r).equals(root)).toBe(true);
      }
    });
  }

  it('rejects an index outside the tree, a too long and a too short proof', async () => {
    const leaves = Array.from({ length: 6 }, (_, i) => leaf(i));
    const path = naivePath(2, leaves);
    await expect(v.rootFromInclusionProof(6, 6, leaves[0]!, path)).rejects.toThrow('hors de l’arbre');
    await expect(v.rootFromInclusionProof(2, 6, leaves[2]!, [...path, leaf(9)])).rejects.toThrow('trop longue');
    await expect(v.rootFromInclusionProof(2, 6, leaves[2]!, path.slice(0, -1))).rejects.toThrow('trop courte');
  });
});

describe('verifyProof', () => {
  async function fixture() {
    const audit = new ArrayAuditData('passerelle.test/audit');
    for (let i = 0; i < 11; i++) audit.add({ type: 'upload.accepted', actor: { id: `p${i}`, kind: 'partner' }, outcome: 'success' });
    return { audit, proof: (await audit.prove(6)) as Proof };
  }

  it('accepts a genuine proof and names the key and size', async () => {
    const { audit, proof } = await fixture();
    expect(await v.verifyProof(proof, audit.verifierKey())).toEqual({ size: 11, name: 'passerelle-test', origin: 'passerelle.test/audit' });
  });

  const mutations: [string, (p: Proof) => Proof, RegExp][] = [
    ['wrong-leaf', (p) => ({ ...p, leafHash: leaf(99).toString('hex'), entryBytes: undefined }), /racine calculée/],
    ['entry-bytes-altered', (p) => ({ ...p, entryBytes: Buffer.concat([Buffer.from(p.entryBytes!, 'base64'), Buffer.from(' ')]).toString('base64') }), /hash de feuille/],
    ['modified-proof[0]-bit-@3', (p) => ({ ...p, hashes: p.hashes.map((h, i) => (i === 0 ? (parseInt(h[0]!, 16) ^ 8).toString(16) + h.slice(1) : h)) }), /racine calculée/],
    ['truncated-proof', (p) => ({ ...p, hashes: p.hashes.slice(1) }), /trop courte|racine calculée/],
    ['wrong-index', (p) => ({ ...p, index: p.index + 1 }), /racine calculée/],
    ['size-not-checkpoint', (p) => ({ ...p, treeSize: p.treeSize - 1 }), /ce point de contrôle/],
    ['note-body-altered', (p) => ({ ...p, checkpoint: p.checkpoint.replace('\n11\n', '\n12\n') }), /signature du point de contrôle invalide/],
    ['note-no-separator', (p) => ({ ...p, checkpoint: p.checkpoint.replace('\n\n', '\n') }), /mal formé/],
  ];
  for (const [name, mutate, error] of mutations) {
    it(`rejects ${name}`, async () => {
      const { audit, proof } = await fixture();
      await expect(v.verifyProof(mutate(proof), audit.verifierKey())).rejects.toThrow(error);
    });
  }

  it('rejects a checkpoint checked against another key of the same name', async () => {
    const { proof } = await fixture();
    await expect(v.verifyProof(proof, makeNoteKey('passerelle-test').verifierKey)).rejects.toThrow(/signature du point de contrôle invalide|non signé/);
  });

  it('rejects a verifier key whose id does not match its name and key', async () => {
    const { audit, proof } = await fixture();
    await expect(v.verifyProof(proof, audit.verifierKey().replace(/\+[0-9a-f]{8}\+/, '+00000000+'))).rejects.toThrow(/identifiant incohérent/);
  });
});
