/**
 * Uploads: OPEN for writing, WRITE, CLOSE and RENAME onto a final name (the commit points),
 * and what happens to an upload that never reaches one (kept for a while as a resumable
 * partial, then deleted).
 */
import { constants, open as openCb } from 'node:fs';
import { rename as renameFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { GatewayError, gatewayFailure } from '../errors.js';
import { newId } from '../ids.js';
import type { IntakeUpload, Verdict } from '../intake/contract.js';
import type { VfsNode } from '../vfs/resolve.js';
import { StagingWriter } from './staging-writer.js';
import { hashFile } from '../hash-file.js';
import { audit, party, type SessionState, type WriteHandle } from './state.js';
import { releaseIntake, type UploadEntry } from './uploads.js';

// Raw descriptors (not FileHandle): the writer issues positional writes on the fd directly.
const openFd = promisify(openCb);

type UploadNode = Extract<VfsNode, { type: 'upload' }>;

const PFLAG = { APPEND: 0x04, TRUNC: 0x10, EXCL: 0x20 } as const;

/** Told for a staging write or sync that failed, unless the disk is full (STORAGE_FULL). */
const WRITE_FAILED = 'écriture impossible / write failed';

function busy(): GatewayError {
  return new GatewayError('PERMISSION_DENIED', 'téléversement en cours sous ce nom / an upload with this name is in progress');
}

function openIntake(s: SessionState, uploadId: string, dataset: string, clientName: string): IntakeUpload {
  return s.deps.intake.open({ uploadId, partnerId: s.ctx.party.id, datasetId: dataset, clientName, source: s.ctx.source });
}

/** OPEN with WRITE: a new staging file, or the partial kept for this name when the client does not truncate (reput). */
export async function openWrite(s: SessionState, node: UploadNode, pflags: number): Promise<WriteHandle> {
  const partyId = party(s).id;
  const existing = s.uploads.get(partyId, node.dataset, node.name);
  if (existing?.state === 'open') throw busy();
  if (existing && existing.state !== 'committed' && pflags & PFLAG.EXCL) {
    throw new GatewayError('PERMISSION_DENIED', 'le fichier existe déjà / file exists');
  }
  const resume = existing?.state === 'parked' && !(pflags & PFLAG.TRUNC) ? existing : undefined;
  if (existing?.state === 'parked' && !resume) await s.uploads.drop(partyId, node.dataset, node.name, true);

  const uploadId = newId();
  const stagingPath = join(s.deps.layout.staging, uploadId);
  // The pipeline starts while bytes arrive, for every upload written from its first byte: a
  // temporary name (WinSCP's .filepart, rclone's .partial) too, whose final name (the
  // receipt's client name) comes with its RENAME. Opened first: when it cannot record the
  // upload (a full disk), the OPEN is refused with nothing made.
  const intake = !resume ? openIntake(s, uploadId, node.dataset, node.name) : undefined;
  let fd: number;
  try {
    if (resume) {
      // A new upload id for the resumed upload: the previous one was reported aborted.
      await renameFile(resume.stagingPath, stagingPath);
      fd = await openFd(stagingPath, constants.O_WRONLY | constants.O_NOFOLLOW);
    } else {
      fd = await openFd(stagingPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    }
  } catch (e) {
    intake?.abort(gatewayFailure(e, WRITE_FAILED));
    throw e;
  }
  const entry: UploadEntry = { state: 'open', uploadId, stagingPath, size: resume?.size ?? 0, mtimeMs: Date.now(), closed: false };
  s.uploads.open(partyId, node.dataset, node.name, entry);
  const writer = new StagingWriter(fd, stagingPath, {
    resumedSize: resume?.size ?? 0,
    // While the intake is behind, the session stops reading the client (SSH flow control,
    // which every client obeys) rather than holding WRITE replies: held replies pile up as
    // requests in flight (PuTTY's psftp, with small WRITEs, then passed the session's request
    // limit and was disconnected).
    onInOrder: intake
      ? (chunk) => {
          const behind = intake.push(chunk);
          if (behind) s.hold(behind);
        }
      : undefined,
  });
  return { kind: 'write', dataset: node.dataset, name: node.name, temporary: node.temporary, append: (pflags & PFLAG.APPEND) !== 0, entry, writer, intake, failed: undefined, replies: { tail: Promise.resolve() } };
}

export async function writeAt(s: SessionState, h: WriteHandle, offset: number, data: Buffer): Promise<void> {
  if (h.failed) throw h.failed;
  const at = h.append ? h.writer.written.end() : offset;
  if (at + data.length > s.limits.maxFileBytes) {
    h.failed = new GatewayError('FILE_TOO_LARGE', `fichier trop volumineux (max ${s.limits.maxFileBytes} octets) / file too large`);
    throw h.failed;
  }
  try {
    await h.writer.write(at, data);
  } catch (err) {
    h.failed = gatewayFailure(err, WRITE_FAILED);
    throw h.failed;
  }
  h.entry.size = Math.max(h.entry.size, at + data.length);
  h.entry.mtimeMs = Date.now();
}

function incomplete(): GatewayError {
  return new GatewayError('UPLOAD_INCOMPLETE', 'téléversement incomplet / upload incomplete');
}

/** CLOSE of a write handle: the commit point for a final name; a temporary name is kept for its RENAME. */
export async function closeWrite(s: SessionState, h: WriteHandle): Promise<Verdict | undefined> {
  if (h.failed || !s.alive) {
    await abandon(s, h);
    throw h.failed ?? incomplete();
  }
  const holes = h.writer.written.count > 1 || h.writer.written.contiguousFromZero() !== h.writer.written.end();
  if (holes) {
    h.failed = incomplete();
    await abandon(s, h);
    throw h.failed;
  }
  let size: number;
  let sha256: string;
  try {
    await h.writer.sync();
    size = h.writer.written.end();
    sha256 = await h.writer.sha256(size);
    await h.writer.closeFile(false);
  } catch (err) {
    // The bytes cannot be made durable (a disk error past the last WRITE's reply, a full
    // disk): the upload fails with nothing kept, and its name is free again.
    h.failed = gatewayFailure(err, WRITE_FAILED);
    await abandon(s, h);
    throw h.failed;
  }
  if (h.temporary) {
    h.entry.size = size;
    h.entry.closed = true;
    h.entry.sha256 = sha256;
    const { entry, intake } = h;
    entry.intake = intake;
    // Clients rename at once; past `renameWaitMs` the pipeline is released, so that closed
    // temporary files never renamed do not hold intake work (a later RENAME commits from staging).
    if (intake) setTimeout(() => entry.intake === intake && releaseIntake(entry), s.limits.renameWaitMs).unref();
    s.uploads.park(party(s).id, h.dataset, h.name, h.entry);
    return undefined;
  }
  // If the bytes stopped arriving in order, pushing stopped too and `finish` reads the file.
  return commit(s, { dataset: h.dataset, name: h.name, entry: h.entry, size, sha256, intake: h.intake });
}

/**
 * RENAME of an upload: onto a final name it is the commit point; onto another temporary
 * name it only moves the parked file. Anything else is refused.
 */
export async function renameUpload(s: SessionState, from: UploadNode, to: UploadNode): Promise<Verdict | undefined> {
  const partyId = party(s).id;
  if (from.dataset !== to.dataset) throw new GatewayError('PERMISSION_DENIED', 'déplacement entre jeux de données refusé / cross-dataset rename denied');
  const entry = s.uploads.get(partyId, from.dataset, from.name);
  if (!entry) throw new GatewayError('PATH_NOT_FOUND', 'fichier introuvable / no such file');
  if (entry.state !== 'parked') throw entry.state === 'open' ? busy() : new GatewayError('PERMISSION_DENIED', 'fichier déjà transmis / already committed');
  // Only a file whose writing ended with a clean CLOSE may be committed by its RENAME: a
  // partial left by a dropped connection must be resumed first.
  if (!entry.closed && !to.temporary) throw incomplete();
  const target = s.uploads.get(partyId, to.dataset, to.name);
  if (target?.state === 'open') throw busy();
  if (target?.state === 'parked') await s.uploads.drop(partyId, to.dataset, to.name, true);
  await s.uploads.drop(partyId, from.dataset, from.name, false);
  if (to.temporary) {
    s.uploads.park(partyId, to.dataset, to.name, entry);
    return undefined;
  }
  if (!s.alive) {
    s.uploads.park(partyId, to.dataset, to.name, entry);
    throw incomplete();
  }
  const intake = entry.intake;
  entry.intake = undefined;
  // Without the pipeline that followed it (released, or lost in a restart), the upload id may
  // already be recorded as failed: the file is committed under a new one.
  const committed = intake ? entry : await renewId(s, entry);
  const sha256 = entry.sha256 ?? (await hashFile(committed.stagingPath)).sha256;
  return commit(s, { dataset: to.dataset, name: to.name, entry: committed, size: entry.size, sha256, intake });
}

/** The same staging file under a new upload id. */
async function renewId(s: SessionState, entry: UploadEntry): Promise<UploadEntry> {
  const uploadId = newId();
  const stagingPath = join(s.deps.layout.staging, uploadId);
  await renameFile(entry.stagingPath, stagingPath);
  return { ...entry, uploadId, stagingPath };
}

async function commit(
  s: SessionState,
  u: { dataset: string; name: string; entry: UploadEntry; size: number; sha256: string; intake: IntakeUpload | undefined },
): Promise<Verdict> {
  const partyId = party(s).id;
  if (!s.alive) {
    u.intake?.abort();
    s.uploads.park(partyId, u.dataset, u.name, u.entry);
    throw incomplete();
  }
  const intake = u.intake ?? openIntake(s, u.entry.uploadId, u.dataset, u.name);
  u.entry.size = u.size;
  s.uploads.committed(partyId, u.dataset, u.name, u.entry);
  let verdict: Verdict;
  try {
    // No audit entry, no effect: the commit is durable in the trail before the intake decides.
    await audit(s, {
      type: 'sftp.upload.committed',
      outcome: 'success',
      refs: { uploadId: u.entry.uploadId, sha256: u.sha256, dataset: u.dataset },
      details: { bytes: u.size, clientName: u.name },
    });
    verdict = await intake.finish(u.entry.stagingPath, u.size, u.sha256, u.name);
  } catch (err) {
    const failure = gatewayFailure(err, 'erreur interne, renvoyez le fichier / internal error, send the file again');
    intake.abort(failure);
    s.ctx.log.error({ err, uploadId: u.entry.uploadId }, 'intake failed');
    throw failure;
  }
  if (verdict.status === 'accepted' || verdict.status === 'duplicate') return verdict;
  throw new GatewayError(verdict.code ?? 'GATEWAY_FAILURE', verdict.message);
}

/**
 * The upload will not be committed: a failed one is deleted; one cut off by the connection
 * keeps its contiguous prefix, parked for `partialUploadKeepMs` so the client can resume it.
 */
export async function abandon(s: SessionState, h: WriteHandle): Promise<void> {
  h.intake?.abort(h.failed);
  const partyId = party(s).id;
  const size = await h.writer.closeFile(true);
  h.entry.size = size;
  h.entry.closed = false;
  const sha256 = size > 0 ? await h.writer.sha256(size).catch(() => '') : '';
  if (h.failed) await s.uploads.drop(partyId, h.dataset, h.name, true);
  else s.uploads.park(partyId, h.dataset, h.name, h.entry);
  await audit(s, {
    type: 'sftp.upload.aborted',
    outcome: 'failure',
    refs: { uploadId: h.entry.uploadId, dataset: h.dataset, ...(sha256 ? { sha256 } : {}) },
    details: { bytes: size, clientName: h.name, resumable: !h.failed, reason: h.failed?.code ?? 'UPLOAD_INCOMPLETE' },
  }).catch((err: unknown) => s.ctx.log.error({ err }, 'audit append failed'));
}
