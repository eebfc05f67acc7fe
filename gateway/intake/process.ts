/**
 * The work on one upload's bytes, wherever it runs (a worker thread, or the calling thread):
 * decrypt and verify, parse, validate and route, and seal one stream per recipient into
 * pending/<upload-id>/. It decides nothing and publishes nothing: pipeline.ts does, from what
 * this returns. Plaintext never touches the disk.
 */
import { join } from 'node:path';
import type { GatewayConfig } from '../config/model.js';
import { sendingConventions } from '../config/conventions.js';
import { GatewayError } from '../errors.js';
import { openMessage } from '../pgp/open.js';
import type { SealFileJob, SealPool } from '../pgp/native-seal/pool.js';
import { pendingName } from '../publish/commit.js';
import { ensureDir } from '../publish/fsutil.js';
import { checkExport, type CheckResult } from './check.js';
import type { UploadContext } from './contract.js';
import type { CommuneIndex } from './geo.js';
import type { KeyRing } from './keyring.js';
import { drainOnEarlyExit, type UploadBytes } from './upload-bytes.js';
import type { SchemaStore } from './validate.js';

/** What the work needs: one configuration snapshot and the tools made from it. */
export interface ProcessEnv {
  readonly config: GatewayConfig;
  readonly keys: KeyRing;
  readonly schemas: SchemaStore;
  readonly communes: CommuneIndex;
  /**
   * Threads that seal, hash and write the outputs, so that the record work and the encryption
   * run on two cores: the sealing was a quarter of one upload's time.
   */
  readonly seals: SealPool;
  now(): Date;
}

/** What was found in an upload that passed every OpenPGP check (its records may still be invalid). */
export interface Processed {
  readonly check: CheckResult;
  readonly signer: { fingerprint: string; signedAt: string };
  readonly warnings: readonly string[];
  readonly outputs: ReadonlyMap<string, { records: number; sha256: string; size: number }>;
}

const SEAL_BATCH = 256 << 10;

/** Decrypt, verify, check and seal; resolves with what was found, rejects with the file's error. */
export async function processUpload(env: ProcessEnv, ctx: UploadContext, bytes: UploadBytes, dir: string, fileName: string): Promise<Processed> {
  const { config } = env;
  const limits = config.settings.limits;
  const dataset = config.datasets.get(ctx.datasetId);
  if (!dataset || sendingConventions(config, ctx.partnerId, ctx.datasetId, env.now()).length === 0) {
    // Consume nothing more: the verdict does not depend on the bytes.
    throw new GatewayError('DATASET_NOT_GRANTED', `aucune convention en vigueur ne permet à ${ctx.partnerId} d'envoyer ${ctx.datasetId} / dataset not granted`);
  }
  const keys = env.keys;
  const opened = openMessage(bytes, {
    decryptionKey: keys.gateway,
    senderKeys: [...keys.partnerKeys(ctx.partnerId)],
    now: env.now(),
    maxAgeMs: limits.signatureMaxAgeMs,
    maxDecompressedBytes: limits.maxDecompressedBytes,
    stallMs: limits.decryptStallMs,
    allowRsa2048: keys.partnerAllowsRsa2048(ctx.partnerId),
  });
  const plaintext = drainOnEarlyExit(opened.plaintext);
  await ensureDir(dir);

  /** A recipient's sealing job and the batch of NDJSON lines being filled for it (UTF-8). */
  interface Output { job: SealFileJob; records: number; buf: Buffer; len: number }
  const outputs = new Map<string, Output>();
  /** Hands the batch to the sealing thread; resolves at once unless that thread is behind. */
  const flush = (o: Output): Promise<void> | undefined => {
    if (o.len === 0) return undefined;
    const chunk = o.buf.subarray(0, o.len);
    o.buf = Buffer.allocUnsafeSlow(SEAL_BATCH);
    o.len = 0;
    return o.job.write(chunk, true);
  };
  const sealFor = (recipient: string): Output => {
    const out = outputs.get(recipient);
    if (out) return out;
    const path = join(dir, pendingName(recipient, fileName));
    const job = env.seals.sealToFile(path, { recipientKey: keys.recipientKey(recipient), signingKey: keys.gateway, date: env.now() });
    const entry: Output = { job, records: 0, buf: Buffer.allocUnsafeSlow(SEAL_BATCH), len: 0 };
    outputs.set(recipient, entry);
    return entry;
  };

  let check: CheckResult | undefined;
  let failed: { error: unknown } | undefined;
  try {
    check = await checkExport({
      config,
      dataset,
      partnerId: ctx.partnerId,
      uploadId: ctx.uploadId,
      source: plaintext.iterable,
      now: env.now(),
      limits,
      schemas: env.schemas,
      communes: env.communes,
      scratchDir: dir,
      // Synchronous unless a full batch must wait for its sealing thread: a promise and an
      // await per record cost 3-5 % of the record work (bench/check.ts, BENCH_CHECK_SYNC).
      onRecord: (recipients, line) => {
        // UTF-8 takes at most 3 bytes per UTF-16 unit. Each line is encoded straight into the
        // batches (one ~256 KiB write per recipient: the encryptor's cost is per chunk as much
        // as per byte), not joined into a string first: that was a tenth of the record work.
        const most = line.length * 3;
        let waits: Promise<void>[] | undefined;
        // Encoded once, into the first recipient's batch, and copied into the others' (a record
        // goes to the observatory and its commune at least): encoding was 13 % of the record work.
        let encoded: Buffer | undefined;
        let start = 0;
        let bytes = 0;
        for (const r of recipients) {
          const out = sealFor(r);
          out.records++;
          if (out.len + most > out.buf.length) {
            // The batch is handed over at once (in order); only its backpressure is awaited.
            const w = flush(out);
            if (w) (waits ??= []).push(w);
            if (most > out.buf.length) out.buf = Buffer.allocUnsafeSlow(most);
          }
          if (encoded === undefined) {
            encoded = out.buf;
            start = out.len;
            bytes = out.buf.write(line, out.len);
          } else {
            encoded.copy(out.buf, out.len, start, start + bytes);
          }
          out.len += bytes;
        }
        return waits && Promise.all(waits).then(() => undefined);
      },
    });
    await Promise.all([...outputs.values()].map((o) => flush(o)));
  } catch (e) {
    failed = { error: e };
  }
  // Every sealing job ends (its file complete and closed) before this returns or throws: after a
  // rejection the pipeline removes the pending directory, and a file that a sealing thread
  // created a moment later would survive that removal.
  const sealed = await Promise.allSettled([...outputs.values()].map(async (o) => ({ records: o.records, ...(await o.job.end()) })));
  if (failed || check === undefined) throw failed?.error;
  await plaintext.drain();
  // The OpenPGP verdict comes first: nothing read from an unverified message means anything.
  const verified = await opened.result;
  const done = sealed.map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
  const result = new Map<string, { records: number; sha256: string; size: number }>();
  [...outputs.keys()].forEach((r, k) => result.set(r, done[k]!));
  return {
    check,
    signer: { fingerprint: verified.signer, signedAt: verified.signedAt.toISOString() },
    warnings: verified.warnings,
    outputs: result,
  };
}

