/**
 * The commit protocol (architecture.md): what makes a crash harmless.
 *
 *  1. Every delivery file is already in pending/<upload-id>/, fsynced.
 *  2. The audit entries (verdict, each delivery) are appended in one durable transaction.
 *  3. Manifests and the receipt, carrying their audit entry indexes, are written to pending/.
 *  4. One durable state transaction: the upload's final state and its deliveries.
 *  5. Each file is renamed from pending/ into the outbox or receipts folder; directories fsynced.
 *  6. Only then is the client answered.
 *
 * Recovery (recover.ts) rolls forward an upload whose state step (4) is on disk and rolls back
 * everything else, so a recipient never sees a delivery without its audit entry, and never sees
 * anything of an upload that was not accepted.
 */
import { join } from 'node:path';
import type { AuditActor, AuditEvent, AuditSink } from '../audit/events.js';
import type { DataLayout } from '../paths.js';
import { safeSegment } from '../paths.js';
import type { DeliveryRow, StateStore, UploadState } from '../store/state.js';
import { ensureDir, fsyncPath, removeTree, renameDurable, writeFileDurable } from './fsutil.js';

export interface UploadFacts {
  readonly uploadId: string;
  readonly partner: string;
  readonly dataset: string;
  readonly source: string;
  readonly sha256: string;
  readonly size: number;
}

/**
 * A delivery whose encrypted file already sits, fsynced, in the pending directory: the facts
 * its state row will hold (fileName is the final name in outbox/<recipient>/<dataset>/), and
 * its manifest.
 */
export type PendingDelivery = Pick<DeliveryRow, 'id' | 'recipient' | 'dataset' | 'fileName' | 'records' | 'sha256' | 'size' | 'expiresAt'> & {
  readonly manifest: Readonly<Record<string, unknown>>;
};

export interface CommitDeps {
  readonly layout: DataLayout;
  readonly state: StateStore;
  readonly audit: AuditSink;
  /** Armored detached signature of the receipt bytes by the gateway. */
  signReceipt(bytes: Uint8Array): Promise<string>;
  /** Inclusion data for an audit entry, when the audit log can give it now. */
  auditProof?(index: number): Promise<Record<string, unknown> | undefined>;
  now(): Date;
}

export type FinalState = Extract<UploadState, 'accepted' | 'rejected' | 'duplicate'>;

export interface CommitResult {
  readonly receiptName: string;
  readonly auditIndex: number;
}

export function pendingDir(layout: DataLayout, uploadId: string): string {
  return join(layout.pending, safeSegment(uploadId));
}

/** Name of a delivery's encrypted file inside pending/<upload-id>/, derivable by recovery. */
export function pendingName(recipient: string, fileName: string): string {
  return `${safeSegment(recipient)}--${safeSegment(fileName)}`;
}

export function manifestName(fileName: string): string {
  return fileName.replace(/\.ndjson\.pgp$/, '') + '.manifest.json';
}

/**
 * Publishes the outcome of an upload. For `accepted`, `deliveries` are published with it;
 * for `rejected` and `duplicate`, only the receipt is. `receipt` is the receipt body without its
 * audit section, which this function adds.
 */
export async function commitUpload(
  deps: CommitDeps,
  upload: UploadFacts,
  outcome: { state: FinalState; code?: string; message?: string },
  deliveries: readonly PendingDelivery[],
  receipt: Readonly<Record<string, unknown>>,
): Promise<CommitResult> {
  if (outcome.state !== 'accepted' && deliveries.length > 0) throw new Error('only an accepted upload has deliveries');
  const dir = pendingDir(deps.layout, upload.uploadId);
  await ensureDir(dir);

  const actor: AuditActor = { id: upload.partner, kind: 'partner', source: upload.source };
  const refs = { uploadId: upload.uploadId, sha256: upload.sha256 };
  const events: AuditEvent[] = [
    {
      type: `upload.${outcome.state}`,
      actor,
      outcome: outcome.state === 'rejected' ? 'failure' : 'success',
      refs,
      details: { dataset: upload.dataset, bytes: upload.size, code: outcome.code ?? null, deliveries: deliveries.length },
    },
    ...deliveries.map<AuditEvent>((d) => ({
      type: 'delivery.published',
      actor: { id: 'gateway', kind: 'gateway' },
      outcome: 'success',
      refs: { uploadId: upload.uploadId, deliveryId: d.id, sha256: d.sha256, recipient: d.recipient },
      details: { dataset: d.dataset, records: d.records, bytes: d.size, file: d.fileName },
    })),
  ];
  const receipts = await deps.audit.appendAll(events);
  const verdictEntry = receipts[0];
  if (!verdictEntry) throw new Error('audit returned no entry');

  // Manifests carry the index of their delivery's audit entry, so they follow the append.
  for (const [i, d] of deliveries.entries()) {
    const manifest = { ...d.manifest, audit_entry: receipts[i + 1]?.index ?? null };
    await writeFileDurable(join(dir, manifestName(pendingName(d.recipient, d.fileName))), JSON.stringify(manifest, null, 2) + '\n');
  }

  const receiptName = `${upload.uploadId}.json`;
  const proof = deps.auditProof ? await deps.auditProof(verdictEntry.index) : undefined;
  const body = {
    ...receipt,
    audit: { entry_index: verdictEntry.index, leaf_hash: verdictEntry.leafHash, ...(proof ?? {}) },
  };
  const bytes = new TextEncoder().encode(JSON.stringify(body, null, 2) + '\n');
  await writeFileDurable(join(dir, receiptName), bytes);
  await writeFileDurable(join(dir, `${receiptName}.asc`), await deps.signReceipt(bytes));
  await fsyncPath(dir);

  const decidedAt = deps.now().toISOString();
  const rows: DeliveryRow[] = deliveries.map((d) => ({
    id: d.id,
    uploadId: upload.uploadId,
    recipient: d.recipient,
    dataset: d.dataset,
    fileName: d.fileName,
    records: d.records,
    sha256: d.sha256,
    size: d.size,
    publishedAt: decidedAt,
    expiresAt: d.expiresAt,
    state: 'published',
    downloadedAt: null,
  }));
  // On disk before anything moves into view: recovery rolls forward only what the state
  // database says was decided.
  await deps.state.decide(
    upload.uploadId,
    { state: outcome.state, sha256: upload.sha256, size: upload.size, decidedAt, code: outcome.code ?? null, message: outcome.message ?? null, receipt: receiptName },
    rows,
  );

  await movePendingIntoView(deps.layout, upload.uploadId, upload.partner, deliveries);
  return { receiptName, auditIndex: verdictEntry.index };
}

/** Step 5, also run by recovery: idempotent (a file already moved is skipped). */
export async function movePendingIntoView(
  layout: DataLayout,
  uploadId: string,
  partner: string,
  deliveries: readonly Pick<PendingDelivery, 'recipient' | 'dataset' | 'fileName'>[],
): Promise<void> {
  const dir = pendingDir(layout, uploadId);
  const moves: [string, string][] = [];
  for (const d of deliveries) {
    const out = join(layout.outbox, safeSegment(d.recipient), safeSegment(d.dataset));
    // The manifest goes first: a recipient who sees a delivery file can always read its manifest.
    const p = pendingName(d.recipient, d.fileName);
    moves.push([join(dir, manifestName(p)), join(out, manifestName(d.fileName))]);
    moves.push([join(dir, p), join(out, safeSegment(d.fileName))]);
  }
  const receipts = join(layout.receipts, safeSegment(partner));
  moves.push([join(dir, `${uploadId}.json.asc`), join(receipts, `${uploadId}.json.asc`)]);
  moves.push([join(dir, `${uploadId}.json`), join(receipts, `${uploadId}.json`)]);
  for (const [from, to] of moves) {
    try {
      await renameDurable(from, to);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  await removeTree(dir);
}
