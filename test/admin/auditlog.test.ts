/**
 * The admin UI over the gateway's real audit trail (gateway/audit/log.ts: SQLite, canonical
 * entries, C2SP checkpoints signed with the checkpoint key): pages, filters, the UI's own
 * writes, and proofs served by the real log checked by the browser verifier (verify.js).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, startFixture, type Fixture } from './fixture.js';
// @ts-expect-error -- plain browser JS module without type declarations
import * as verifier from '../../admin-ui/public/verify.js';

const verifyProof = (verifier as { verifyProof(p: unknown, key: string): Promise<{ size: number; name: string }> }).verifyProof;

let fx: Fixture;
let dpo: Client;
beforeAll(async () => {
  fx = await startFixture({ backend: 'auditlog' });
  dpo = new Client(fx.url);
  expect((await dpo.login(fx.accounts.dpo)).status).toBe(303);
});
afterAll(async () => {
  await fx?.close();
});

describe('admin UI over the real AuditLog', () => {
  it('shows the signed checkpoint and a passing verification on the dashboard', async () => {
    const r = await dpo.get('/');
    expect(r.status).toBe(200);
    expect(r.body).toContain('passerelle.test/audit');
    expect(r.body).toMatch(/Vérification du journal : réussie \(\d+ entrées\)/);
  });

  it('filters the journal by party and by upload', async () => {
    expect((await dpo.get('/audit?actor=police-municipale-ludres')).body).toContain('2 entrée(s), page 1 sur 1');
    expect((await dpo.get(`/audit?uploadId=${fx.uploads.accepted}`)).body).toContain('6 entrée(s), page 1 sur 1');
  });

  it('writes its own views and logins into the real trail', async () => {
    const log = fx.auditLog!;
    await dpo.get('/register');
    expect(await log.count({ type: 'admin.login', actor: 'dpo' })).toBe(1);
    expect(await log.count({ type: 'register.viewed', actor: 'dpo' })).toBe(1);
  });

  it('serves proofs from the real log that the browser verifier accepts, for every step of a transfer', async () => {
    const page = await dpo.get(`/transfer/${fx.uploads.accepted}`);
    const indexes = [...page.body.matchAll(/data-index="(\d+)"/g)].map((m) => Number(m[1]));
    expect(indexes).toHaveLength(8);
    for (const i of indexes) {
      const r = await dpo.get(`/proof/${i}`);
      expect(r.status).toBe(200);
      const proof = JSON.parse(r.body) as { verifierKey: string; entryBytes?: string };
      expect(proof.entryBytes).toBeDefined();
      expect(await verifyProof(proof, proof.verifierKey)).toMatchObject({ name: 'passerelle.test/audit' });
    }
  });

  it('answers 404 with a code for an entry not yet covered by a checkpoint', async () => {
    const r = await dpo.get('/proof/100000');
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body)).toEqual({ error: 'AUDIT_PROOF_INVALID' });
  });

  it('reports a tampered entry on the dashboard and in the browser verifier', async () => {
    const db = new Database(join(fx.dataDir, 'audit', 'audit.sqlite'));
    try {
      const row = db.prepare('SELECT body FROM entries WHERE seq = 3').get() as { body: string };
      expect(row.body).toContain('"records":12');
      db.prepare('UPDATE entries SET body = ? WHERE seq = 3').run(row.body.replace('"records":12', '"records":13'));
    } finally {
      db.close();
    }
    await fx.auditLog!.checkpoint();
    const r = await dpo.get('/');
    expect(r.body).toMatch(/Vérification du journal : ÉCHEC à l’entrée 3 — /);
    const proof = JSON.parse((await dpo.get('/proof/3')).body) as { verifierKey: string };
    await expect(verifyProof(proof, proof.verifierKey)).rejects.toThrow('l’entrée ne correspond pas à son hash de feuille');
  });
});
