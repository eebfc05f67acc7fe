/**
 * Dashboard figures, folded from audit entries in one pass (pure apart from consuming the
 * iterator): uploads per day and per partner, records delivered per recipient, deliveries not
 * yet downloaded with their age, last upload per partner.
 */
import type { AuditEntryView, CheckpointStatus } from './data.js';
import { DELIVERY_DOWNLOADED, DELIVERY_PUBLISHED, deliveryKey, UPLOAD_VERDICT } from './event-types.js';

export interface DayCount { readonly day: string; readonly accepted: number; readonly rejected: number }
export interface PartnerCount { readonly partner: string; readonly accepted: number; readonly rejected: number; readonly lastUpload: string; readonly lastVerdict: string }
export interface PendingDelivery { readonly deliveryId: string; readonly recipient: string; readonly uploadId: string; readonly publishedAt: string; readonly ageHours: number }

export interface DashboardStats {
  readonly from: string;
  readonly perDay: readonly DayCount[];
  readonly perPartner: readonly PartnerCount[];
  readonly recordsPerRecipient: readonly { readonly recipient: string; readonly records: number }[];
  readonly pending: readonly PendingDelivery[];
  readonly checkpoint: CheckpointStatus | null;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

export async function buildDashboard(entries: AsyncIterable<AuditEntryView>, now: Date, checkpoint: CheckpointStatus | null, days = 14): Promise<DashboardStats> {
  const perDay = new Map<string, { accepted: number; rejected: number }>();
  for (let i = days - 1; i >= 0; i--) perDay.set(new Date(now.getTime() - i * 86_400_000).toISOString().slice(0, 10), { accepted: 0, rejected: 0 });
  const perPartner = new Map<string, { accepted: number; rejected: number; lastUpload: string; lastVerdict: string }>();
  const records = new Map<string, number>();
  const published = new Map<string, { deliveryId: string; recipient: string; uploadId: string; publishedAt: string }>();
  for await (const e of entries) {
    const verdict = UPLOAD_VERDICT[e.type];
    if (verdict) {
      const bucket = perDay.get(e.time.slice(0, 10));
      const p = perPartner.get(e.actor.id) ?? { accepted: 0, rejected: 0, lastUpload: '', lastVerdict: '' };
      const rejected = verdict === 'rejected' || verdict === 'failed';
      if (bucket) bucket[rejected ? 'rejected' : 'accepted'] += 1;
      p[rejected ? 'rejected' : 'accepted'] += 1;
      if (e.time >= p.lastUpload) Object.assign(p, { lastUpload: e.time, lastVerdict: verdict });
      perPartner.set(e.actor.id, p);
    } else if (DELIVERY_PUBLISHED.has(e.type)) {
      const recipient = String(e.details['recipient'] ?? e.refs['recipient'] ?? '?');
      records.set(recipient, (records.get(recipient) ?? 0) + num(e.details['records']));
      const key = deliveryKey(e);
      if (key) published.set(key, { deliveryId: e.refs['deliveryId'] ?? key, recipient, uploadId: e.refs['uploadId'] ?? '', publishedAt: e.time });
    } else if (DELIVERY_DOWNLOADED.has(e.type) && e.details['complete'] !== false) {
      const key = deliveryKey(e);
      if (key) published.delete(key);
    }
  }
  const pending = [...published.values()].map((d) => ({ ...d, ageHours: Math.max(0, Math.floor((now.getTime() - Date.parse(d.publishedAt)) / 3_600_000)) }));
  pending.sort((a, b) => b.ageHours - a.ageHours);
  return {
    from: [...perDay.keys()][0] ?? '',
    perDay: [...perDay].map(([day, c]) => ({ day, ...c })),
    perPartner: [...perPartner].map(([partner, c]) => ({ partner, ...c })).sort((a, b) => a.partner.localeCompare(b.partner)),
    recordsPerRecipient: [...records].map(([recipient, n]) => ({ recipient, records: n })).sort((a, b) => b.records - a.records || a.recipient.localeCompare(b.recipient)),
    pending,
    checkpoint,
  };
}
