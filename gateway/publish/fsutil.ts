/**
 * File operations the commit protocol relies on: a file is on disk before it is renamed into
 * view, and a rename is on disk before the client is answered.
 */
import { open, rename, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes `data` to a new file (create-exclusive) and fsyncs it. */
export async function writeFileDurable(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const fh = await open(path, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function ensureDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
}

/** Renames `from` to `to` (same file system) and fsyncs both directories. */
export async function renameDurable(from: string, to: string): Promise<void> {
  await ensureDir(dirname(to));
  await rename(from, to);
  await fsyncPath(dirname(to));
  if (dirname(from) !== dirname(to)) await fsyncPath(dirname(from));
}

export async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

export async function removeTree(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}
