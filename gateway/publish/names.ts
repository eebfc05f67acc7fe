/**
 * Names and documents the gateway publishes: delivery file names, manifests and receipts.
 * Pure: values in, values out. The client's file name appears only as data, never in a path.
 */

/** `20261128T183000Z`: sortable, no separators that a Windows client would mangle. */
export function utcStamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** `outbox/<dataset>/<UTC time>_<partner>_<upload-id>.ndjson.pgp` (product.md). */
export function deliveryFileName(receivedAt: Date, partner: string, uploadId: string): string {
  return `${utcStamp(receivedAt)}_${partner}_${uploadId}.ndjson.pgp`;
}

/** The upload id in a name the gateway made (a delivery, its manifest, a receipt), if any. */
export function uploadIdOfFile(name: string): string | undefined {
  return /(?:^|_)([0-9a-hjkmnp-tv-z]{26})(?:\.ndjson\.pgp|\.manifest\.json|\.json|\.json\.asc)$/.exec(name)?.[1];
}

export interface ReceiptError {
  readonly code: string;
  readonly record?: number;
  readonly line?: number;
  readonly field?: string;
  readonly message: string;
}

export interface ReceiptInput {
  readonly uploadId: string;
  readonly partner: string;
  readonly dataset: string;
  readonly clientName: string;
  readonly receivedAt: Date;
  readonly decidedAt: Date;
  readonly sha256: string;
  readonly size: number;
  readonly status: 'accepted' | 'rejected' | 'duplicate';
  readonly code?: string;
  readonly message?: string;
  readonly signer?: { fingerprint: string; signedAt: string };
  readonly conventions?: readonly string[];
  readonly records?: { total: number; accepted: number; invalid: number; unroutable: number };
  readonly deliveries?: readonly { recipient: string; records: number; file: string }[];
  readonly flagged?: readonly { record: number; line: number; declared: string; located: string | null }[];
  readonly errors?: readonly ReceiptError[];
  readonly warnings?: readonly string[];
  readonly duplicateOf?: string;
}

/** The receipt body (its `audit` section is added by the commit). Field names are the partner contract. */
export function receiptBody(r: ReceiptInput): Record<string, unknown> {
  return {
    receipt_version: 1,
    upload_id: r.uploadId,
    partner: r.partner,
    dataset: r.dataset,
    file: { name: r.clientName, sha256: r.sha256, bytes: r.size },
    received_at: r.receivedAt.toISOString(),
    decided_at: r.decidedAt.toISOString(),
    status: r.status,
    ...(r.code ? { code: r.code } : {}),
    ...(r.message ? { message: r.message } : {}),
    ...(r.duplicateOf ? { duplicate_of: r.duplicateOf } : {}),
    ...(r.signer ? { signature: { signer_fingerprint: r.signer.fingerprint, signed_at: r.signer.signedAt } } : {}),
    ...(r.conventions ? { conventions: r.conventions } : {}),
    ...(r.records ? { records: r.records } : {}),
    deliveries: r.deliveries ?? [],
    flagged: r.flagged ?? [],
    errors: r.errors ?? [],
    warnings: r.warnings ?? [],
  };
}

export interface ManifestInput {
  readonly deliveryId: string;
  readonly uploadId: string;
  readonly partner: string;
  readonly dataset: string;
  readonly recipient: string;
  readonly conventions: readonly string[];
  readonly clientName: string;
  readonly sourceSha256: string;
  readonly signer: { fingerprint: string; signedAt: string };
  readonly records: number;
  readonly file: string;
  readonly publishedAt: Date;
  readonly expiresAt: string;
}

export function manifestBody(m: ManifestInput): Record<string, unknown> {
  return {
    manifest_version: 1,
    delivery_id: m.deliveryId,
    upload_id: m.uploadId,
    file: m.file,
    recipient: m.recipient,
    partner: m.partner,
    dataset: m.dataset,
    conventions: m.conventions,
    source: { name: m.clientName, sha256: m.sourceSha256 },
    partner_signature: { fingerprint: m.signer.fingerprint, signed_at: m.signer.signedAt },
    records: m.records,
    published_at: m.publishedAt.toISOString(),
    expires_at: m.expiresAt,
  };
}
