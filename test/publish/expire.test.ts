import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expireDeliveries } from '../../gateway/publish/expire.js';
import { fixture, startPipeline, type PipelineHarness } from '../intake/pipeline-harness.js';

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipeline({ workers: 0 });
});
afterAll(async () => {
  await h?.close();
});

describe('delivery expiry', () => {
  it('removes deliveries past their convention retention, marks them expired and audits each', async () => {
    const v = await h.upload('police-nationale', 'faits-4001', h.seal('police-nationale', fixture('faits-4001.csv')));
    expect(v.status).toBe('accepted');
    const deliveries = h.state.deliveriesOf(v.uploadId);
    expect(deliveries.length).toBeGreaterThan(1);
    const path = (d: (typeof deliveries)[number]): string => join(h.layout.outbox, d.recipient, d.dataset, d.fileName);
    for (const d of deliveries) expect(existsSync(path(d))).toBe(true);

    // Not yet due: nothing moves.
    expect(await expireDeliveries({ layout: h.layout, state: h.state, audit: h.audit, now: new Date() })).toBe(0);
    for (const d of deliveries) expect(existsSync(path(d))).toBe(true);

    const later = new Date(Date.parse(deliveries[0]!.expiresAt) + 1000);
    expect(await expireDeliveries({ layout: h.layout, state: h.state, audit: h.audit, now: later })).toBe(deliveries.length);
    for (const d of h.state.deliveriesOf(v.uploadId)) {
      expect(d.state).toBe('expired');
      expect(existsSync(path(d))).toBe(false);
      expect(existsSync(path(d).replace(/\.ndjson\.pgp$/, '.manifest.json'))).toBe(false);
    }
    const audited = await h.audit.query({ type: 'delivery.expired', uploadId: v.uploadId });
    expect(audited.length).toBe(deliveries.length);
    // Idempotent: a second pass finds nothing.
    expect(await expireDeliveries({ layout: h.layout, state: h.state, audit: h.audit, now: later })).toBe(0);
  });
});
