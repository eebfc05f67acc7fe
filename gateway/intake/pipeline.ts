/**
 * The intake pipeline: what happens to an upload between its first byte and its verdict.
 *
 *   bytes (pushed while they arrive) ─▶ decrypt + verify (pgp/open) ─▶ parse, validate, route
 *   (checkExport) ─▶ one sealed stream per recipient, written into pending/<upload-id>/
 *
 * Plaintext never touches the disk: it flows from the decryptor into the parser and into the
 * per-recipient encryptors, whose output waits in pending/ (no recipient can see it) until the
 * OpenPGP verdict, the checks and the commit protocol (publish/commit.ts) have all passed.
 * Rejected or failed uploads leave nothing but their receipt.
 */
import { rm } from 'node:fs/promises';
import type { AuditSink } from '../audit/events.js';
import type { ConfigSource } from '../config/model.js';
import { receivingGrants, sendingConventions } from '../config/conventions.js';
import { describeError, GatewayError, gatewayFailure, gatewayFailureOf, type ErrorCode } from '../errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../log.js';
import type { DataLayout } from '../paths.js';
import { detachedSign } from '../pgp/sign.js';
import { commitUpload, pendingDir, type PendingDelivery } from '../publish/commit.js';
import { removeTree } from '../publish/fsutil.js';
import { deliveryFileName, manifestBody, receiptBody, type ReceiptInput } from '../publish/names.js';
import type { StateStore } from '../store/state.js';
import type { Intake, IntakeUpload, UploadContext, Verdict } from './contract.js';
import type { KeyRing } from './keyring.js';
import type { Processed } from './process.js';
import type { Processor } from './work.js';

export interface PipelineDeps {
  readonly config: ConfigSource;
  /** Keys of the current configuration snapshot: the gateway's signs receipts. */
  keys(): KeyRing;
  /** Where the work on the bytes runs (worker threads, or this thread). */
  readonly processor: Processor;
  readonly layout: DataLayout;
  readonly state: StateStore;
  readonly audit: AuditSink;
  /** Inclusion data for the receipt: a fresh checkpoint and the entry's proof. */
  auditProof?(index: number): Promise<Record<string, unknown> | undefined>;
  readonly log: Logger;
  now(): Date;
}

const DAY_MS = 86_400_000;

/** Commits run one at a time: the duplicate check and the publication are one step. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

export function createIntake(deps: PipelineDeps): Intake {
  const serial = new Serial();
  return { open: (ctx) => openUpload(deps, serial, ctx) };
}

function openUpload(deps: PipelineDeps, serial: Serial, opened: UploadContext): IntakeUpload {
  let ctx = opened;
  const receivedAt = deps.now();
  const fileName = deliveryFileName(receivedAt, ctx.partnerId, ctx.uploadId);
  const dir = pendingDir(deps.layout, ctx.uploadId);
  const log = deps.log.child({ upload: ctx.uploadId, partner: ctx.partnerId, dataset: ctx.datasetId });
  try {
    deps.state.recordUpload({ id: ctx.uploadId, partner: ctx.partnerId, dataset: ctx.datasetId, clientName: ctx.clientName, source: ctx.source, receivedAt: receivedAt.toISOString() });
  } catch (e) {
    // Nothing started: the SFTP layer refuses the OPEN with this (a full disk is said as such).
    log.error({ err: describeError(e) }, 'upload not recorded');
    throw gatewayFailure(e);
  }

  // Started at once: the work is done while the bytes arrive, so the verdict is ready soon after the last one.
  const work = deps.processor.start(ctx, dir, fileName);
  let settled = false;
  let received = 0;

  const fail = async (failure: GatewayError, cause?: unknown): Promise<Verdict> => {
    const { code, message } = failure;
    log.error({ code, err: describeError(cause) }, 'upload failed');
    // Nothing of the upload is in view whatever happens next; its failure is recorded as far as
    // the disk allows. On a full disk the audit entry or the state may not be written: the client
    // is still told (the verdict must not wait for room), and start-up recovery marks an upload
    // left receiving as failed.
    await removeTree(dir).catch((e: unknown) => log.error({ err: describeError(e) }, 'pending files not removed'));
    try {
      await deps.audit.append({
        type: 'upload.failed',
        actor: { id: ctx.partnerId, kind: 'partner', source: ctx.source },
        outcome: 'failure',
        refs: { uploadId: ctx.uploadId },
        details: { dataset: ctx.datasetId, code },
      });
      await deps.state.decide(ctx.uploadId, { state: 'failed', sha256: null, size: received, decidedAt: deps.now().toISOString(), code, message });
    } catch (e) {
      log.error({ code, err: describeError(e) }, 'upload failure not recorded');
    }
    return { status: 'failed', code, message };
  };

  return {
    push: (chunk) => {
      received += chunk.length;
      return work.push(chunk);
    },
    abort: (reason) => {
      if (settled) return;
      settled = true;
      work.abort();
      const code = reason?.code ?? 'UPLOAD_INCOMPLETE';
      const message = reason?.message ?? 'upload aborted';
      void work.result
        .then(() => removeTree(dir))
        .then(() => deps.state.decide(ctx.uploadId, { state: 'failed', sha256: null, size: received, decidedAt: deps.now().toISOString(), code, message }))
        .catch((e: unknown) => log.error({ err: String(e) }, 'cleanup after abort failed'));
    },
    finish: async (stagingPath, size, sha256, clientName) => {
      if (settled) throw new GatewayError('UPLOAD_INCOMPLETE', 'upload already ended');
      settled = true;
      work.finish(stagingPath, size);
      if (clientName !== undefined && clientName !== ctx.clientName) {
        // A temporary name streamed in and renamed: the receipt and manifests carry the final name.
        ctx = { ...ctx, clientName };
        deps.state.nameUpload(ctx.uploadId, clientName);
      }
      const committedAt = performance.now();
      try {
        const verdict = await verdictOf({ sha256, size });
        // One line per verdict for operators: how long the partner waited after the commit,
        // and how much of the file was re-read because the work fell behind the upload.
        const { readBackBytes } = await work.result;
        log.info({ status: verdict.status, code: verdict.code, bytes: size, verdictMs: Math.round(performance.now() - committedAt), readBackBytes }, 'upload decided');
        return verdict;
      } finally {
        // Every verdict is final (a committed upload is never resumed): the received bytes go.
        await rm(stagingPath, { force: true });
      }
    },
  };

  /** `file`: the whole file as committed (a rejected one may not have been read to its end). */
  async function verdictOf(file: { sha256: string; size: number }): Promise<Verdict> {
    const result = await work.result;
    if (!result.ok && result.internal) return fail(gatewayFailureOf(result.code === 'STORAGE_FULL' ? 'STORAGE_FULL' : 'GATEWAY_FAILURE'), result.message);
    try {
      const found = result.ok ? result.processed : new GatewayError(result.code, result.message);
      return await serial.run(() => decide(deps, ctx, { receivedAt, fileName, ...file }, found));
    } catch (e) {
      return fail(gatewayFailure(e), e);
    }
  }
}

/** Turns what was found into the upload's final state, receipt and publication. */
async function decide(
  deps: PipelineDeps,
  ctx: UploadContext,
  file: { receivedAt: Date; fileName: string; sha256: string; size: number },
  processed: Processed | GatewayError,
): Promise<Verdict> {
  const config = deps.config.current();
  const now = deps.now();
  const facts = { uploadId: ctx.uploadId, partner: ctx.partnerId, dataset: ctx.datasetId, source: ctx.source, sha256: file.sha256, size: file.size };
  const base: Omit<ReceiptInput, 'status'> = {
    uploadId: ctx.uploadId,
    partner: ctx.partnerId,
    dataset: ctx.datasetId,
    clientName: ctx.clientName,
    receivedAt: file.receivedAt,
    decidedAt: now,
    sha256: file.sha256,
    size: file.size,
  };
  const commitDeps = {
    layout: deps.layout,
    state: deps.state,
    audit: deps.audit,
    auditProof: deps.auditProof,
    now: deps.now,
    signReceipt: (b: Uint8Array) => detachedSign(b, deps.keys().gateway, now),
  };
  const reject = async (code: ErrorCode, message: string, extra: Partial<ReceiptInput> = {}): Promise<Verdict> => {
    await removeTree(pendingDir(deps.layout, ctx.uploadId));
    const receipt = receiptBody({ ...base, ...extra, status: 'rejected', code, message });
    const { receiptName } = await commitUpload(commitDeps, facts, { state: 'rejected', code, message }, [], receipt);
    return { status: 'rejected', code, message: `${code}: ${message}`, receiptName };
  };

  if (processed instanceof GatewayError) {
    return reject(processed.code, processed.message.split('\n')[0] ?? processed.code);
  }
  const { check, signer, warnings } = processed;
  const records = { total: check.records, accepted: check.accepted, invalid: check.records - check.accepted, unroutable: check.unroutable };
  const errors = check.errors.map((e) => ({ code: e.code, record: e.recordNo ?? undefined, line: e.line ?? undefined, field: e.field ?? undefined, message: e.message }));
  const flagged = check.flagged.map((f) => ({ record: f.recordNo, line: f.line, declared: f.declared, located: f.found }));
  const conventions = sendingConventions(config, ctx.partnerId, ctx.datasetId, now).map((c) => c.id);
  if (!check.ok) {
    return reject(check.code ?? 'SCHEMA_INVALID', check.message, { signer, records, errors, flagged, warnings, conventions });
  }

  const dup = deps.state.findAccepted(ctx.partnerId, ctx.datasetId, file.sha256);
  if (dup) {
    await removeTree(pendingDir(deps.layout, ctx.uploadId));
    const message = `fichier identique déjà accepté (${dup.id}) / duplicate of an accepted file`;
    const receipt = receiptBody({ ...base, status: 'duplicate', code: 'DUPLICATE_FILE', message, duplicateOf: dup.id, signer, records, conventions });
    const { receiptName } = await commitUpload(commitDeps, facts, { state: 'duplicate', code: 'DUPLICATE_FILE', message }, [], receipt);
    return { status: 'duplicate', message, receiptName };
  }

  const grants = new Map(receivingGrants(config, ctx.partnerId, ctx.datasetId, now).map((g) => [g.recipientId, g.convention]));
  const deliveries: PendingDelivery[] = [];
  for (const [recipient, out] of processed.outputs) {
    const convention = grants.get(recipient);
    // A recipient whose convention ended while the file streamed in gets nothing.
    if (!convention) continue;
    const id = newId(now.getTime());
    const expiresAt = new Date(now.getTime() + convention.retentionDays * DAY_MS).toISOString();
    deliveries.push({
      id,
      recipient,
      dataset: ctx.datasetId,
      fileName: file.fileName,
      records: out.records,
      sha256: out.sha256,
      size: out.size,
      expiresAt,
      manifest: manifestBody({
        deliveryId: id,
        uploadId: ctx.uploadId,
        partner: ctx.partnerId,
        dataset: ctx.datasetId,
        recipient,
        conventions,
        clientName: ctx.clientName,
        sourceSha256: file.sha256,
        signer,
        records: out.records,
        file: file.fileName,
        publishedAt: now,
        expiresAt,
      }),
    });
  }
  const receipt = receiptBody({
    ...base,
    status: 'accepted',
    signer,
    records,
    conventions,
    errors,
    flagged,
    warnings,
    deliveries: deliveries.map((d) => ({ recipient: d.recipient, records: d.records, file: d.fileName })),
  });
  const { receiptName } = await commitUpload(commitDeps, facts, { state: 'accepted' }, deliveries, receipt);
  return { status: 'accepted', message: `fichier accepté, ${deliveries.length} livraison(s) / accepted`, receiptName };
}
