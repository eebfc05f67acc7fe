/**
 * What a party reads: directory listings, attributes, outbox deliveries and receipts (sizes
 * and times from disk, resumable positional reads, a complete download reported once), and
 * their deletion.
 */
import { uploadIdOfFile } from '../publish/names.js';
import { constants, type Stats } from 'node:fs';
import { lstat, readdir, unlink } from 'node:fs/promises';
import { read as readFd, readSync, readvSync, close as closeFd, fstat as fstatFd, open as openCb } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GatewayError } from '../errors.js';
import { isGatewayFileName } from '../vfs/path.js';
import { treeChildren, type VfsNode } from '../vfs/resolve.js';
import type { PreparedData } from './data-replies.js';
import { IntervalSet } from './intervals.js';
import { MODE, attrs, entry, type FileAttrs, type NameEntry } from './listing.js';
import { audit, party, servedDir, servedPath, view, type ReadHandle, type SessionState } from './state.js';

type ServedNode = Extract<VfsNode, { type: 'receipt' | 'delivery' }>;

const readP = promisify(readFd);
const closeP = promisify(closeFd);
const openP = promisify(openCb);
const fstatP = promisify(fstatFd);

function notFound(): GatewayError {
  return new GatewayError('PATH_NOT_FOUND', 'fichier introuvable / no such file');
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}

function dirMode(node: VfsNode): number {
  if (node.type === 'inbox-dataset') return MODE.DIR_WRITE_ONLY;
  if (node.type === 'receipts' || node.type === 'outbox-dataset') return MODE.DIR_READ_DELETE;
  return MODE.DIR_READ;
}

function fileMode(s: SessionState, node: ServedNode): number {
  const v = view(s);
  return node.type === 'receipt' || (v.kind === 'recipient' && v.deleteAllowed) ? MODE.FILE_READ_DELETE : MODE.FILE_READ;
}

/** STAT / LSTAT on any node the VFS resolved. */
export async function statNode(s: SessionState, node: VfsNode): Promise<FileAttrs> {
  switch (node.type) {
    case 'upload': {
      const e = s.uploads.get(party(s).id, node.dataset, node.name);
      if (!e) throw notFound();
      return attrs(MODE.FILE_WRITE_ONLY, e.size, e.mtimeMs);
    }
    case 'receipt':
    case 'delivery': {
      const st = await lstat(servedPath(s, node)).catch((err: unknown) => {
        throw isMissing(err) ? notFound() : err;
      });
      if (!st.isFile()) throw notFound();
      return attrs(fileMode(s, node), st.size, st.mtimeMs);
    }
    default:
      return attrs(dirMode(node), 0, Date.now());
  }
}

/** OPENDIR: the whole listing is taken at once (directories here are small), then paged by READDIR. */
export async function listNode(s: SessionState, node: VfsNode): Promise<NameEntry[]> {
  const owner = s.ctx.party.id;
  const fixed = treeChildren(view(s), node);
  if (fixed) return fixed.map((name) => entry(name, attrs(MODE.DIR_READ, 0, Date.now()), owner));
  if (node.type === 'inbox-dataset') {
    // Only the party's own uploads still waiting (partials, temporary names): never a committed file.
    return s.uploads
      .list(party(s).id, node.dataset)
      .filter(([, e]) => e.state === 'parked')
      .map(([name, e]) => entry(name, attrs(MODE.FILE_WRITE_ONLY, e.size, e.mtimeMs), owner));
  }
  if (node.type !== 'receipts' && node.type !== 'outbox-dataset') throw new GatewayError('PERMISSION_DENIED', 'pas un dossier / not a directory');
  const dir = servedDir(s, node);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  const out: NameEntry[] = [];
  for (const name of names.filter(isGatewayFileName).sort()) {
    let st: Stats;
    try {
      st = await lstat(join(dir, name));
    } catch {
      continue; // deleted meanwhile
    }
    if (!st.isFile()) continue;
    const fileNode: ServedNode = node.type === 'receipts' ? { type: 'receipt', name } : { type: 'delivery', dataset: node.dataset, name };
    out.push(entry(name, attrs(fileMode(s, fileNode), st.size, st.mtimeMs), owner));
  }
  return out;
}

export async function openRead(s: SessionState, node: ServedNode): Promise<ReadHandle> {
  let fd: number;
  try {
    fd = await openP(servedPath(s, node), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    throw isMissing(err) ? notFound() : err;
  }
  const st = await fstatP(fd).catch(async (err: unknown) => {
    await closeP(fd);
    throw err;
  });
  if (!st.isFile()) {
    await closeP(fd);
    throw notFound();
  }
  return { kind: 'read', node, fd, size: st.size, coverage: new IntervalSet(), slowReads: 0, replies: { tail: Promise.resolve() } };
}

/**
 * READ buffers of the replies that go through ssh2 (files read through the thread pool, clients
 * data-replies.ts cannot serve) are reused once their reply is sent (`releaseReadBuffer`): ssh2
 * copies a DATA reply into its own packet before `sftp.data` returns. A fresh 255 KiB buffer per
 * READ was a third of a download's allocations, and the collections they caused a fifth of its CPU.
 */
const READ_BUFFER_BYTES = 256 * 1024;
const READ_BUFFERS_KEPT = 16;
const freeReadBuffers: ArrayBuffer[] = [];
const pooled = new WeakSet<ArrayBuffer>();

function takeReadBuffer(n: number): Buffer {
  if (n > READ_BUFFER_BYTES) return Buffer.allocUnsafe(n);
  let ab = freeReadBuffers.pop();
  if (!ab) pooled.add((ab = new ArrayBuffer(READ_BUFFER_BYTES)));
  return Buffer.from(ab, 0, n);
}

/** The reply carrying `buf` has been handed to ssh2: its buffer may serve another READ. */
export function releaseReadBuffer(buf: Buffer): void {
  const ab = buf.buffer as ArrayBuffer;
  if (pooled.has(ab) && freeReadBuffers.length < READ_BUFFERS_KEPT && !freeReadBuffers.includes(ab)) freeReadBuffers.push(ab);
}

/**
 * A synchronous read longer than this did not come from the page cache; after SLOW_READS_IN_A_ROW
 * of them that handle's later READs go through libuv's thread pool, so a cold file never holds
 * the SSH thread for long. One slow read is not enough: a page-cache read is sometimes slow too
 * (the thread pre-empted, fresh pages faulted in); in the bench, one such read (1.3 to 6 ms
 * among 2,057 of ~32 µs) in every 512 MiB download sent the rest of it through the pool.
 */
const CACHED_READ_MS = 1;
export const SLOW_READS_IN_A_ROW = 3;

/** The handle's run of slow synchronous reads after one that took `ms`. */
export function slowReadStreak(streak: number, ms: number): number {
  return ms > CACHED_READ_MS ? streak + 1 : 0;
}

/** A synchronous read on `h`, timed into its run of slow reads. */
function timedRead(h: ReadHandle, read: () => number): number {
  const start = performance.now();
  const got = read();
  h.slowReads = slowReadStreak(h.slowReads, performance.now() - start);
  return got;
}

/** Bytes a READ of `len` at `offset`, before the end of the file, gets: at most `maxReadLength`. */
function readLength(s: SessionState, h: ReadHandle, offset: number, len: number): number {
  return Math.min(len, s.limits.maxReadLength, h.size - offset);
}

/**
 * READ: at most `maxReadLength` bytes; `undefined` means end of file.
 *
 * Deliveries are read soon after they were written, from the page cache: there a 255 KiB read
 * is a copy of some 30 µs, while handing it to the thread pool cost ~350 µs of this thread's
 * time per READ (the woken pool thread pre-empts it on a 2-core machine): 512 MiB download,
 * 205 → 270 MB/s and a third less CPU. A handle whose reads are slow (the disk) stops reading
 * synchronously.
 */
export async function readAt(s: SessionState, h: ReadHandle, offset: number, len: number): Promise<Buffer | undefined> {
  if (offset >= h.size) return undefined;
  const n = readLength(s, h, offset, len);
  const buf = takeReadBuffer(n);
  let bytesRead: number;
  try {
    if (h.slowReads < SLOW_READS_IN_A_ROW) {
      bytesRead = timedRead(h, () => readSync(h.fd, buf, 0, n, offset));
    } else {
      ({ bytesRead } = await readP(h.fd, buf, 0, n, offset));
    }
  } catch (err) {
    releaseReadBuffer(buf);
    throw err;
  }
  if (bytesRead === 0) {
    releaseReadBuffer(buf);
    return undefined;
  }
  h.coverage.add(offset, offset + bytesRead);
  return bytesRead === n ? buf : buf.subarray(0, bytesRead);
}

/**
 * READ from the page cache straight into the packets of its reply (data-replies.ts): what
 * `prepare` made, or undefined (end of file, a handle that reads through the thread pool, or
 * `prepare` declined) and the caller uses `readAt`.
 */
export function prepareRead(
  s: SessionState,
  h: ReadHandle,
  offset: number,
  len: number,
  prepare: (n: number, read: (into: Buffer[]) => number) => PreparedData | undefined,
): PreparedData | undefined {
  if (offset >= h.size || h.slowReads >= SLOW_READS_IN_A_ROW) return undefined;
  const n = readLength(s, h, offset, len);
  const prepared = prepare(n, (into) => timedRead(h, () => readvSync(h.fd, into, offset)));
  if (prepared) h.coverage.add(offset, offset + n);
  return prepared;
}

/** CLOSE of a read handle: a download that read bytes is recorded, complete or partial. */
export async function closeRead(s: SessionState, h: ReadHandle): Promise<void> {
  await closeP(h.fd).catch(() => undefined);
  if (h.coverage.count === 0 && h.size > 0) return;
  const complete = h.coverage.covers(0, h.size) || h.size === 0;
  const read = h.coverage.end();
  await audit(s, {
    type: h.node.type === 'delivery' ? 'delivery.downloaded' : 'receipt.downloaded',
    outcome: complete ? 'success' : 'info',
    refs: servedRefs(s, h.node),
    details: { complete, bytes: h.size, bytesRead: read },
  });
  if (complete && h.node.type === 'delivery') s.deps.onDelivery?.({ recipient: s.ctx.party.id, dataset: h.node.dataset, file: h.node.name, event: 'downloaded' });
}

/** References of a served file: the upload id is part of every name the gateway makes. */
function servedRefs(s: SessionState, node: ServedNode): Record<string, string> {
  const uploadId = uploadIdOfFile(node.name);
  const base = { file: node.name, ...(uploadId ? { uploadId } : {}) };
  return node.type === 'delivery' ? { ...base, dataset: node.dataset, recipient: s.ctx.party.id } : base;
}

export async function removeServed(s: SessionState, node: ServedNode): Promise<void> {
  try {
    await unlink(servedPath(s, node));
  } catch (err) {
    throw isMissing(err) ? notFound() : err;
  }
  await audit(s, {
    type: node.type === 'delivery' ? 'delivery.deleted' : 'receipt.deleted',
    outcome: 'success',
    refs: servedRefs(s, node),
  });
  if (node.type === 'delivery') s.deps.onDelivery?.({ recipient: s.ctx.party.id, dataset: node.dataset, file: node.name, event: 'deleted' });
}
