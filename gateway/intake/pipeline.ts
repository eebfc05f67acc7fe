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
import { createWriteStream } from 'node:fs';
import { PassThrough } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { AuditSink } from '../audit/events.js';
import type { ConfigSource, GatewayConfig } from '../config/model.js';
import { receivingGrants, sendingConventions } from '../config/conventions.js';
import { GatewayError, isGatewayError, type ErrorCode } from '../errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../log.js';
import type { DataLayout } from '../paths.js';
import { openMessage } from '../pgp/open.js';
import { sealForRecipient } from '../pgp/seal.js';
import { iterableToWebStream } from '../pgp/streams.js';
import { detachedSign } from '../pgp/sign.js';
import { commitUpload, pendingDir, pendingName, type PendingDelivery } from '../publish/commit.js';
import { ensureDir, fsyncPath, removeTree } from '../publish/fsutil.js';
import { deliveryFileName, manifestBody, receiptBody, type ReceiptInput } from '../publish/names.js';
import type { StateStore } from '../store/state.js';
import { checkExport, type CheckResult } from './check.js';
import type { Intake, IntakeUpload, UploadContext, Verdict } from './contract.js';
import type { CommuneIndex } from './geo.js';
import type { KeyRing } from './keyring.js';
import { drainOnEarlyExit, UploadBytes } from './upload-bytes.js';
import type { SchemaStore } from './validate.js';

export interface PipelineDeps {
  readonly config: ConfigSource;
  /** Keys of the current configuration snapshot (reloaded with it). */
  keys(): KeyRing;
  readonly layout: DataLayout;
  readonly state: StateStore;
  readonly audit: AuditSink;
  /** Inclusion data for the receipt: a fresh checkpoint and the entry's proof. */
  auditProof?(index: number): Promise<Record<string, unknown> | undefined>;
  readonly schemas: SchemaStore;
  readonly communes: CommuneIndex;
  readonly log: Logger;
  now(): Date;
}

/** Bytes the pipeline may hold in memory per upload before reading the rest from staging. */
const QUEUE_HIGH_WATER = 32 << 20;
const DAY_MS = 86_400_000;
const SEAL_BATCH = 256 << 10;

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

interface Processed {
  readonly check: CheckResult;
  readonly signer: { fingerprint: string; signedAt: string };
  readonly warnings: readonly string[];
  readonly outputs: ReadonlyMap<string, { records: number; sha256: string; size: number }>;
}

function openUpload(deps: PipelineDeps, serial: Serial, ctx: UploadContext): IntakeUpload {
  const config = deps.config.current();
  const limits = config.settings.limits;
  const receivedAt = deps.now();
  const bytes = new UploadBytes(QUEUE_HIGH_WATER, limits.maxFileBytes);
  const fileName = deliveryFileName(receivedAt, ctx.partnerId, ctx.uploadId);
  const dir = pendingDir(deps.layout, ctx.uploadId);
  const log = deps.log.child({ upload: ctx.uploadId, partner: ctx.partnerId, dataset: ctx.datasetId });
  deps.state.recordUpload({ id: ctx.uploadId, partner: ctx.partnerId, dataset: ctx.datasetId, clientName: ctx.clientName, source: ctx.source, receivedAt: receivedAt.toISOString() });

  let settled = false;
  // Started at once: the work is done while the bytes arrive, so the verdict is ready soon after the last one.
  const processing = process(deps, config, ctx, bytes, dir, fileName);
  processing.catch(() => undefined); // observed in finish(); an aborted upload's error is expected

  const fail = async (code: ErrorCode, message: string, cause?: unknown): Promise<Verdict> => {
    log.error({ code, err: cause instanceof Error ? cause.message : String(cause) }, 'upload failed');
    await removeTree(dir);
    await deps.audit.append({
      type: 'upload.failed',
      actor: { id: ctx.partnerId, kind: 'partner', source: ctx.source },
      outcome: 'failure',
      refs: { uploadId: ctx.uploadId },
      details: { dataset: ctx.datasetId, code },
    });
    deps.state.decide(ctx.uploadId, { state: 'failed', sha256: null, size: bytes.bytes, decidedAt: deps.now().toISOString(), code, message });
    return { status: 'failed', code, message };
  };

  return {
    push: (chunk) => bytes.push(chunk),
    abort: () => {
      if (settled) return;
      settled = true;
      bytes.fail(new GatewayError('UPLOAD_INCOMPLETE', 'transfert interrompu / upload aborted'));
      void processing
        .catch(() => undefined)
        .then(() => removeTree(dir))
        .then(() => deps.state.decide(ctx.uploadId, { state: 'failed', sha256: null, size: bytes.bytes, decidedAt: deps.now().toISOString(), code: 'UPLOAD_INCOMPLETE', message: 'upload aborted' }))
        .catch((e: unknown) => log.error({ err: String(e) }, 'cleanup after abort failed'));
    },
    finish: async (stagingPath, size) => {
      if (settled) throw new GatewayError('UPLOAD_INCOMPLETE', 'upload already ended');
      settled = true;
      bytes.finish(stagingPath, size);
      let processed: Processed | GatewayError;
      try {
        processed = await processing;
      } catch (e) {
        if (!isGatewayError(e) || e.code === 'GATEWAY_FAILURE' || e.code === 'CONFIG_INVALID') {
          return fail('GATEWAY_FAILURE', 'erreur interne de la passerelle, rien n\'a été publié / gateway error, nothing published', e);
        }
        processed = e;
      }
      try {
        return await serial.run(() => decide(deps, ctx, { receivedAt, fileName, sha256: bytes.digest(), size: bytes.bytes }, processed));
      } catch (e) {
        return fail('GATEWAY_FAILURE', 'erreur interne de la passerelle, rien n\'a été publié / gateway error, nothing published', e);
      }
    },
  };
}

/** Decrypt, verify, check and seal; resolves with what was found, rejects with the file's error. */
async function process(deps: PipelineDeps, config: GatewayConfig, ctx: UploadContext, bytes: UploadBytes, dir: string, fileName: string): Promise<Processed> {
  const limits = config.settings.limits;
  const dataset = config.datasets.get(ctx.datasetId);
  if (!dataset || sendingConventions(config, ctx.partnerId, ctx.datasetId, deps.now()).length === 0) {
    // Consume nothing more: the verdict does not depend on the bytes.
    throw new GatewayError('DATASET_NOT_GRANTED', `aucune convention en vigueur ne permet à ${ctx.partnerId} d'envoyer ${ctx.datasetId} / dataset not granted`);
  }
  const keys = deps.keys();
  const opened = openMessage(iterableToWebStream(bytes), {
    decryptionKey: keys.gateway,
    senderKeys: [...keys.partnerKeys(ctx.partnerId)],
    now: deps.now(),
    maxAgeMs: limits.signatureMaxAgeMs,
    maxDecompressedBytes: limits.maxDecompressedBytes,
    allowRsa2048: keys.partnerAllowsRsa2048(ctx.partnerId),
  });
  const plaintext = drainOnEarlyExit(opened.plaintext);
  await ensureDir(dir);

  interface Output { stream: PassThrough; done: Promise<void>; records: number; sha256: string; size: number; batch: string[]; batchLength: number }
  const outputs = new Map<string, Output>();
  const flush = (o: Output): boolean => {
    if (o.batch.length === 0) return true;
    const chunk = Buffer.from(o.batch.join(''), 'utf8');
    o.batch = [];
    o.batchLength = 0;
    return o.stream.write(chunk);
  };
  const sealFor = (recipient: string): Output => {
    const out = outputs.get(recipient);
    if (out) return out;
    const stream = new PassThrough({ highWaterMark: 1 << 20 });
    const path = join(dir, pendingName(recipient, fileName));
    const hash = createHash('sha256');
    const entry: Output = { stream, done: Promise.resolve(), records: 0, sha256: '', size: 0, batch: [], batchLength: 0 };
    const sealed = sealForRecipient(stream, { recipientKey: keys.recipientKey(recipient), signingKey: keys.gateway, date: deps.now() });
    sealed.on('data', (c: Buffer) => {
      hash.update(c);
      entry.size += c.length;
    });
    const file = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    entry.done = pipe(sealed, file).then(async () => {
      entry.sha256 = hash.digest('hex');
      await fsyncPath(path);
    });
    entry.done.catch(() => undefined);
    outputs.set(recipient, entry);
    return entry;
  };

  let check: CheckResult;
  try {
    check = await checkExport({
      config,
      dataset,
      partnerId: ctx.partnerId,
      uploadId: ctx.uploadId,
      source: plaintext.iterable,
      now: deps.now(),
      limits,
      schemas: deps.schemas,
      communes: deps.communes,
      onRecord: async (recipients, record) => {
        const line = JSON.stringify(record) + '\n';
        for (const r of recipients) {
          const out = sealFor(r);
          out.records++;
          out.batch.push(line);
          out.batchLength += line.length;
          // One write per ~256 KiB: the encryptor's cost is per chunk as much as per byte.
          if (out.batchLength >= SEAL_BATCH && !flush(out)) await new Promise<void>((res) => out.stream.once('drain', res));
        }
      },
    });
    for (const o of outputs.values()) flush(o);
  } finally {
    for (const o of outputs.values()) o.stream.end();
  }
  await plaintext.drain();
  // The OpenPGP verdict comes first: nothing read from an unverified message means anything.
  const verified = await opened.result;
  await Promise.all([...outputs.values()].map((o) => o.done));
  const result = new Map<string, { records: number; sha256: string; size: number }>();
  for (const [r, o] of outputs) result.set(r, { records: o.records, sha256: o.sha256, size: o.size });
  return {
    check,
    signer: { fingerprint: verified.signer, signedAt: verified.signedAt.toISOString() },
    warnings: verified.warnings,
    outputs: result,
  };
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
