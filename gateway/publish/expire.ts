/**
 * Deliveries past their convention's retention period are removed from the outbox (the file
 * and its manifest), marked expired in the state store, and each removal is an audit entry.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditSink } from '../audit/events.js';
import type { DataLayout } from '../paths.js';
import { safeSegment } from '../paths.js';
import type { StateStore } from '../store/state.js';
import { manifestName } from './commit.js';

export async function expireDeliveries(deps: { layout: DataLayout; state: StateStore; audit: AuditSink; now: Date }): Promise<number> {
  const due = deps.state.expiredDeliveries(deps.now.toISOString());
  for (const d of due) {
    const dir = join(deps.layout.outbox, safeSegment(d.recipient), safeSegment(d.dataset));
    // The audit entry first: if the removal is then interrupted, the next run removes it again.
    await deps.audit.append({
      type: 'delivery.expired',
      actor: { id: 'gateway', kind: 'gateway' },
      outcome: 'success',
      refs: { uploadId: d.uploadId, deliveryId: d.id, recipient: d.recipient, dataset: d.dataset, file: d.fileName },
      details: { expiresAt: d.expiresAt, downloaded: d.downloadedAt !== null },
    });
    await rm(join(dir, safeSegment(d.fileName)), { force: true });
    await rm(join(dir, manifestName(d.fileName)), { force: true });
    await deps.state.setDeliveryState(d.id, 'expired', deps.now.toISOString());
  }
  return due.length;
}
