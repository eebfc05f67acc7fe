import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolve, treeChildren, type PartyView, type VfsOp } from '../../gateway/vfs/resolve.js';
import { isTemporaryName, parseClientPath } from '../../gateway/vfs/path.js';

const partner: PartyView = { kind: 'partner', partyId: 'police-nationale', sendable: ['faits-4001'] };
const commune: PartyView = { kind: 'recipient', partyId: 'ludres', receivable: ['faits-4001', 'main-courante-pm'], deleteAllowed: true };
const keeper: PartyView = { ...commune, deleteAllowed: false };
const OPS: VfsOp[] = ['stat', 'opendir', 'open-read', 'open-write', 'remove', 'rename-from', 'rename-to', 'setstat', 'mkdir', 'rmdir', 'link', 'realpath'];

function loadCorpus(): { expect: string; path: string; line: number }[] {
  const file = fileURLToPath(new URL('../vectors/paths/hostile.txt', import.meta.url));
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((text, i) => ({ text, line: i + 1 }))
    .filter(({ text }) => text !== '' && !text.startsWith('#'))
    .map(({ text, line }) => {
      const [expect, json] = text.split('\t');
      return { expect: expect ?? '', path: JSON.parse(json ?? '') as string, line };
    });
}

describe('resolve', () => {
  describe('a partner', () => {
    it.each([
      ['stat', '/', 'root'],
      ['opendir', '/inbox', 'inbox'],
      ['opendir', 'inbox/faits-4001/', 'inbox-dataset'],
      ['open-write', '/inbox/faits-4001/export.csv.pgp', 'upload'],
      ['open-write', 'inbox//faits-4001/./export.pgp', 'upload'],
      ['rename-to', '/inbox/faits-4001/export.pgp', 'upload'],
      ['open-read', '/receipts/01jd0000000000000000000000.json', 'receipt'],
      ['remove', '/receipts/01jd0000000000000000000000.json.asc', 'receipt'],
    ] as const)('%s %s → %s', (op, path, type) => {
      const r = resolve(partner, op, path);
      expect(r.ok && r.node.type).toBe(type);
    });

    it('cannot read back its inbox', () => {
      expect(resolve(partner, 'open-read', '/inbox/faits-4001/export.pgp')).toEqual({ ok: false, code: 'PERMISSION_DENIED' });
    });
    it('cannot write receipts nor make directories', () => {
      expect(resolve(partner, 'open-write', '/receipts/x.json')).toEqual({ ok: false, code: 'PERMISSION_DENIED' });
      expect(resolve(partner, 'mkdir', '/inbox/faits-4001/sub')).toEqual({ ok: false, code: 'PERMISSION_DENIED' });
      expect(resolve(partner, 'mkdir', '/inbox/new')).toEqual({ ok: false, code: 'PERMISSION_DENIED' });
    });
    it('does not see datasets it may not send, nor outboxes', () => {
      expect(resolve(partner, 'stat', '/inbox/main-courante-pm')).toEqual({ ok: false, code: 'PATH_NOT_FOUND' });
      expect(resolve(partner, 'opendir', '/outbox')).toEqual({ ok: false, code: 'PATH_NOT_FOUND' });
      expect(treeChildren(partner, { type: 'inbox' })).toEqual(['faits-4001']);
    });
    it('canonicalizes with realpath', () => {
      expect(resolve(partner, 'realpath', '.')).toEqual({ ok: true, node: { type: 'root' }, path: '/' });
      expect(resolve(partner, 'realpath', 'inbox/./faits-4001/../faits-4001')).toMatchObject({ ok: true, path: '/inbox/faits-4001' });
    });
    it('marks temporary names', () => {
      const r = resolve(partner, 'open-write', '/inbox/faits-4001/x.pgp.filepart');
      expect(r.ok && r.node.type === 'upload' && r.node.temporary).toBe(true);
      for (const n of ['a.filepart', 'a.partial', 'a.part', 'a.TMP', '.a.pgp', 'a.b1c2.partial']) expect(isTemporaryName(n)).toBe(true);
      for (const n of ['a.pgp', 'part', 'a.parts', 'tmp.pgp']) expect(isTemporaryName(n)).toBe(false);
    });
  });

  describe('a recipient', () => {
    it('reads and deletes deliveries of the datasets it receives', () => {
      expect(resolve(commune, 'open-read', '/outbox/faits-4001/d-01.ndjson.pgp')).toMatchObject({ ok: true, node: { type: 'delivery' } });
      expect(resolve(commune, 'remove', '/outbox/faits-4001/d-01.ndjson.pgp')).toMatchObject({ ok: true });
      expect(resolve(keeper, 'remove', '/outbox/faits-4001/d-01.ndjson.pgp')).toEqual({ ok: false, code: 'PERMISSION_DENIED' });
    });
    it('writes nowhere', () => {
      for (const p of ['/x', '/outbox/x', '/outbox/faits-4001/x.pgp', '/outbox/faits-4001/d-01.ndjson.pgp']) {
        expect(resolve(commune, 'open-write', p)).toEqual({ ok: false, code: 'PERMISSION_DENIED' });
      }
      expect(resolve(commune, 'open-write', '/inbox/faits-4001/x.pgp')).toEqual({ ok: false, code: 'PATH_NOT_FOUND' });
    });
  });

  describe('the hostile path corpus', () => {
    const corpus = loadCorpus();
    it('has at least 50 cases', () => {
      expect(corpus.length).toBeGreaterThanOrEqual(50);
    });
    it.each(corpus)('line $line: $path → $expect', ({ path, expect: code }) => {
      expect(resolve(partner, 'open-write', path)).toEqual({ ok: false, code });
    });
    it.each(corpus)('line $line: never resolves outside the party tree', ({ path }) => {
      for (const view of [partner, commune, keeper]) {
        for (const op of OPS) {
          const r = resolve(view, op, path);
          if (!r.ok) continue;
          // What resolves is a normalized path inside the party's own tree, and never a file
          // a partner could read back.
          expect(parseClientPath(r.path)).toEqual({ ok: true, segments: r.path.split('/').filter(Boolean) });
          const top = r.path.split('/')[1];
          const allowed = view.kind === 'partner' ? [undefined, '', 'inbox', 'receipts'] : [undefined, '', 'outbox'];
          expect(allowed).toContain(top);
          expect(r.node.type === 'upload' && op === 'open-read').toBe(false);
        }
      }
    });
  });
});
