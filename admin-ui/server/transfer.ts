/** One upload's chain of custody, from its audit entries (pure). */
import type { AuditEntryView } from './data.js';
import { DELIVERY_DOWNLOADED, DELIVERY_PUBLISHED, deliveryKey, stepOf, type TransferStep } from './event-types.js';

export interface TransferChain {
  readonly uploadId: string;
  readonly partner: string;
  readonly steps: readonly { readonly step: TransferStep; readonly entry: AuditEntryView }[];
  readonly deliveries: readonly { readonly deliveryId: string; readonly recipient: string; readonly records: number; readonly publishedAt: string; readonly downloadedAt: string | null }[];
}

export function buildTransfer(uploadId: string, entries: readonly AuditEntryView[]): TransferChain {
  const sorted = [...entries].sort((a, b) => a.index - b.index);
  const deliveries = new Map<string, { deliveryId: string; recipient: string; records: number; publishedAt: string; downloadedAt: string | null }>();
  for (const e of sorted) {
    const key = deliveryKey(e);
    if (!key) continue;
    if (DELIVERY_PUBLISHED.has(e.type)) {
      const records = e.details['records'];
      deliveries.set(key, { deliveryId: e.refs['deliveryId'] ?? key, recipient: String(e.refs['recipient'] ?? e.details['recipient'] ?? '?'), records: typeof records === 'number' ? records : 0, publishedAt: e.time, downloadedAt: null });
    } else if (DELIVERY_DOWNLOADED.has(e.type) && e.details['complete'] !== false) {
      const d = deliveries.get(key);
      if (d && d.downloadedAt === null) d.downloadedAt = e.time;
    }
  }
  const partner = sorted.find((e) => e.actor.kind === 'partner')?.actor.id ?? sorted[0]?.actor.id ?? '';
  return { uploadId, partner, steps: sorted.map((entry) => ({ step: stepOf(entry.type), entry })), deliveries: [...deliveries.values()] };
}
