/**
 * The audit event types the UI interprets (dashboard counts, transfer chain steps). Producers
 * own their names; this table is the one place the UI maps them, so a renamed event is a
 * one-line change here. Types not listed are still shown in the journal as they are.
 */
export const UPLOAD_VERDICT: Readonly<Record<string, 'accepted' | 'rejected' | 'duplicate'>> = {
  'upload.accepted': 'accepted',
  'upload.rejected': 'rejected',
  'upload.duplicate': 'duplicate',
};

export const DELIVERY_PUBLISHED = new Set(['delivery.published', 'delivery.written']);
export const DELIVERY_DOWNLOADED = new Set(['delivery.downloaded']);

/** Transfer chain step of an event type, by prefix; the order is the order of the chain. */
export const TRANSFER_STEPS: readonly { readonly step: TransferStep; readonly types: readonly string[] }[] = [
  { step: 'received', types: ['sftp.upload', 'upload.received', 'upload.committed'] },
  { step: 'verified', types: ['upload.verified', 'pgp.'] },
  { step: 'validated', types: ['upload.validated', 'intake.'] },
  { step: 'routed', types: ['upload.routed', 'upload.accepted', 'upload.rejected', 'upload.duplicate'] },
  { step: 'delivered', types: ['delivery.'] },
  { step: 'receipt', types: ['receipt.'] },
];

export type TransferStep = 'received' | 'verified' | 'validated' | 'routed' | 'delivered' | 'receipt' | 'other';

export function stepOf(type: string): TransferStep {
  for (const s of TRANSFER_STEPS) if (s.types.some((t) => type === t || (t.endsWith('.') && type.startsWith(t)) || type.startsWith(`${t}.`))) return s.step;
  return 'other';
}
