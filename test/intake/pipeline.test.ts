import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, gpg, startPipeline, type PipelineHarness } from './pipeline-harness.js';

let h: PipelineHarness;


function outboxFiles(recipient: string, dataset: string): string[] {
  const d = join(h.layout.outbox, recipient, dataset);
  return existsSync(d) ? readdirSync(d).sort() : [];
}

function decryptDelivery(recipient: string, dataset: string, uploadId: string): Record<string, unknown>[] {
  const name = outboxFiles(recipient, dataset).find((f) => f.includes(uploadId) && f.endsWith('.ndjson.pgp'));
  if (!name) throw new Error(`no delivery for ${recipient}`);
  const plain = gpg(h.gnupg, ['--decrypt'], readFileSync(join(h.layout.outbox, recipient, dataset, name))).toString('utf8');
  return plain.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

function receipt(partner: string, uploadId: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(h.layout.receipts, partner, `${uploadId}.json`), 'utf8')) as Record<string, unknown>;
}

function nothingPublishedFor(uploadId: string): void {
  const all: string[] = [];
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else all.push(e.name);
    }
  };
  walk(h.layout.outbox);
  walk(h.layout.pending);
  expect(all.filter((n) => n.includes(uploadId))).toEqual([]);
}

describe.each([
  { where: 'in worker threads', workers: 1 },
  { where: 'in the calling thread', workers: 0 },
])('intake pipeline $where, GnuPG-sealed uploads on the demo configuration', ({ workers }) => {
  let accepted: string;
  beforeAll(async () => {
    h = await startPipeline({ workers });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('accepts a valid police export and delivers each commune its own records, the observatory all', async () => {
    const csv = fixture('faits-4001.csv');
    const v = await h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', csv));
    expect(v.status, v.message).toBe('accepted');
    accepted = v.uploadId;
    const lines = csv.toString('utf8').trim().split('\n').slice(1);
    const ludresExpected = lines.filter((l) => l.split(';')[4] === '54328').map((l) => l.split(';')[0]);
    expect(ludresExpected.length).toBeGreaterThan(0);

    const ludres = decryptDelivery('ludres', 'faits-4001', v.uploadId);
    expect(ludres.map((r) => r['id_fait']).sort()).toEqual(ludresExpected.sort());
    for (const r of ludres) {
      expect(r['code_insee']).toBe('54328');
      expect(r['_source']).toMatchObject({ partner: 'police-nationale', upload_id: v.uploadId });
    }
    const obs = decryptDelivery('observatoire', 'faits-4001', v.uploadId);
    expect(obs.map((r) => r['id_fait']).sort()).toEqual(lines.map((l) => l.split(';')[0]).sort());
    // Laxou's convention does not grant faits-4001.
    expect(outboxFiles('laxou', 'faits-4001')).toEqual([]);

    const manifestName = outboxFiles('ludres', 'faits-4001').find((f) => f.endsWith('.manifest.json'));
    expect(manifestName).toBeDefined();
    const manifest = JSON.parse(readFileSync(join(h.layout.outbox, 'ludres', 'faits-4001', manifestName!), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ upload_id: v.uploadId, partner: 'police-nationale', records: ludres.length });
    expect(typeof manifest['audit_entry']).toBe('number');
  });

  it('gives a receipt signed by the gateway that GnuPG verifies, with its audit entry and proof', async () => {
    const r = receipt('police-nationale', accepted);
    expect(r['status']).toBe('accepted');
    const audit = r['audit'] as Record<string, unknown>;
    expect(typeof audit['entry_index']).toBe('number');
    expect(String(audit['checkpoint'])).toContain('test.passerelle/audit');
    const file = join(h.layout.receipts, 'police-nationale', `${accepted}.json`);
    expect(() => gpg(h.gnupg, ['--verify', `${file}.asc`, file])).not.toThrow();
    // and fails once the receipt is altered
    const altered = join(h.dir, 'altered.json');
    (await import('node:fs')).writeFileSync(altered, readFileSync(file, 'utf8').replace('"accepted"', '"rejected"'));
    expect(() => gpg(h.gnupg, ['--verify', `${file}.asc`, altered])).toThrow();
    const entries = await h.audit.query({ uploadId: accepted });
    const types = entries.map((e) => e.entry.type);
    expect(types).toContain('upload.accepted');
    expect(types.filter((t) => t === 'delivery.published').length).toBeGreaterThanOrEqual(2);
    expect(h.state.getUpload(accepted)?.state).toBe('accepted');
  });

  it('answers a byte-identical file as a duplicate and delivers nothing again', async () => {
    const before = outboxFiles('ludres', 'faits-4001').length;
    const sealed = h.seal('police-nationale', fixture('faits-4001.csv'));
    const first = await h.upload('police-nationale', 'faits-4001', sealed);
    expect(first.status).toBe('accepted'); // a new signature makes new bytes
    const again = await h.upload('police-nationale', 'faits-4001', sealed);
    expect(again.status).toBe('duplicate');
    expect(receipt('police-nationale', again.uploadId)['duplicate_of']).toBe(first.uploadId);
    expect(outboxFiles('ludres', 'faits-4001').length).toBe(before + 2);
    nothingPublishedFor(again.uploadId);
  });

  it('the same file sent four times at once: one acceptance, three duplicates, one set of deliveries', async () => {
    const before = outboxFiles('ludres', 'faits-4001').length;
    const sealed = h.seal('police-nationale', fixture('faits-4001.csv'));
    const verdicts = await Promise.all([0, 1, 2, 3].map(() => h.upload('police-nationale', 'faits-4001', sealed)));
    const accepted = verdicts.filter((v) => v.status === 'accepted');
    expect(accepted.length).toBe(1);
    expect(verdicts.filter((v) => v.status === 'duplicate').length).toBe(3);
    for (const v of verdicts) if (v.status === 'duplicate') {
      expect(receipt('police-nationale', v.uploadId)['duplicate_of']).toBe(accepted[0]!.uploadId);
      nothingPublishedFor(v.uploadId);
    }
    expect(outboxFiles('ludres', 'faits-4001').length).toBe(before + 2);
  });

  it('rejects a file signed by another partner and publishes nothing but the receipt', async () => {
    const v = await h.upload('police-nationale', 'faits-4001', h.seal('bailleur-social', fixture('faits-4001.csv')));
    expect(v.status).toBe('rejected');
    expect(v.code).toBe('PGP_UNKNOWN_SIGNER');
    nothingPublishedFor(v.uploadId);
    expect(receipt('police-nationale', v.uploadId)).toMatchObject({ status: 'rejected', code: 'PGP_UNKNOWN_SIGNER' });
  });

  it('rejects an export with a column outside the contract, naming it, and publishes nothing', async () => {
    const csv = fixture('faits-4001.csv').toString('utf8').replace('tentative', 'tentative;nom_victime').replace(/\n(?=.)/g, ';Dupont\n');
    const lines = csv.split('\n');
    lines[0] = lines[0]!.replace(/;Dupont$/, '');
    const v = await h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', lines.join('\n')));
    expect(v.status).toBe('rejected');
    expect(['FORMAT_HEADER', 'SCHEMA_INVALID']).toContain(v.code);
    expect(JSON.stringify(receipt('police-nationale', v.uploadId))).toContain('nom_victime');
    nothingPublishedFor(v.uploadId);
  });

  it('rejects bytes that are not OpenPGP', async () => {
    const v = await h.upload('police-nationale', 'faits-4001', fixture('faits-4001.csv'));
    expect(v.status).toBe('rejected');
    expect(v.code).toBe('PGP_NOT_ENCRYPTED');
    nothingPublishedFor(v.uploadId);
  });

  it('refuses a dataset the partner has no convention for', async () => {
    const v = await h.upload('bailleur-social', 'faits-4001', h.seal('bailleur-social', fixture('faits-4001.csv')));
    expect(v.status).toBe('rejected');
    expect(v.code).toBe('DATASET_NOT_GRANTED');
    nothingPublishedFor(v.uploadId);
  });

  it('routes SDIS interventions without code_insee by their coordinates', async () => {
    const v = await h.upload('sdis54', 'interventions-sdis', h.seal('sdis54', fixture('interventions-sdis.json')), 'sdis.json.pgp');
    expect(v.status, v.message).toBe('accepted');
    const obs = decryptDelivery('observatoire', 'interventions-sdis', v.uploadId);
    expect(obs.length).toBeGreaterThan(0);
    const records = receipt('sdis54', v.uploadId)['records'] as { total: number; unroutable: number };
    expect(records.total).toBe((JSON.parse(fixture('interventions-sdis.json').toString('utf8')) as { interventions: unknown[] }).interventions.length);
    // Outside the 20 communes (sdis54 reports on the whole département): counted, delivered nowhere.
    expect(records.unroutable).toBeGreaterThan(0);
    expect(obs.length).toBe(records.total - records.unroutable);
    // Routed by point-in-polygon: the first alert lies in Ludres, the second in Laxou (restricted
    // convention, which grants interventions-sdis).
    expect(decryptDelivery('ludres', 'interventions-sdis', v.uploadId).map((r) => r['numero'])).toContain('2026-000101');
    expect(decryptDelivery('laxou', 'interventions-sdis', v.uploadId).map((r) => r['numero'])).toEqual(['2026-000102']);
  });

  it('an aborted upload leaves nothing behind and is recorded as failed', async () => {
    const { newId } = await import('../../gateway/ids.js');
    const uploadId = newId();
    const bytes = h.seal('police-nationale', fixture('faits-4001.csv'));
    const up = h.intake.open({ uploadId, partnerId: 'police-nationale', datasetId: 'faits-4001', clientName: 'x.pgp', source: '127.0.0.1:1' });
    void up.push(bytes.subarray(0, 100));
    up.abort();
    await new Promise((r) => setTimeout(r, 200));
    nothingPublishedFor(uploadId);
    expect(h.state.getUpload(uploadId)?.state).toBe('failed');
  });
});
