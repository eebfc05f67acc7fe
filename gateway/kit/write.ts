/** Writes a kit into a directory (created if needed); overwrites the kit's own files and touches nothing else. */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KitFile } from './kit.js';

export async function writeKit(dir: string, files: readonly KitFile[]): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const written: string[] = [];
  for (const f of files) {
    const path = join(dir, f.name);
    await writeFile(path, f.content, { mode: f.mode });
    await chmod(path, f.mode); // writeFile's mode applies only when the file is created
    written.push(path);
  }
  return written;
}
