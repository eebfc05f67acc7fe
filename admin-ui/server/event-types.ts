/**
 * The audit event types the UI interprets (dashboard counts, transfer chain steps). Producers
 * own their names; this table is the one place the UI maps them, so a renamed event is a
 * one-line change here. Types not listed are still shown in the journal as they are.
 */
export const UPLOAD_VERDICT: Readonly<Record<string, 'accepted' | 'rejected' | 'duplicate' | 'failed'>> = {
  'upload.accepted': 'accepted',
  'upload.rejected': 'rejected',
  'upload.duplicate': 'duplicate',
  'upload.failed': 'failed',
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

/**
 * The delivery an event is about. publish/ names it by id and file (refs.deliveryId,
 * details.file, refs.recipient); sftp/ records a download by file name (refs.file) with the
 * recipient as actor. The key that both share is recipient/file; the id is the fallback.
 */
export function deliveryKey(e: { type: string; actor: { id: string }; refs: Readonly<Record<string, string>>; details: Readonly<Record<string, unknown>> }): string | undefined {
  if (DELIVERY_PUBLISHED.has(e.type)) {
    const recipient = e.refs['recipient'] ?? e.details['recipient'];
    const file = e.details['file'] ?? e.refs['file'];
    return typeof recipient === 'string' && typeof file === 'string' ? `${recipient}/${file}` : e.refs['deliveryId'];
  }
  if (DELIVERY_DOWNLOADED.has(e.type)) {
    const file = e.refs['file'];
    return file ? `${e.actor.id}/${file}` : e.refs['deliveryId'];
  }
  return undefined;
}

export type TransferStep = 'received' | 'verified' | 'validated' | 'routed' | 'delivered' | 'receipt' | 'other';

export function stepOf(type: string): TransferStep {
  for (const s of TRANSFER_STEPS) if (s.types.some((t) => type === t || (t.endsWith('.') && type.startsWith(t)) || type.startsWith(`${t}.`))) return s.step;
  return 'other';
}
