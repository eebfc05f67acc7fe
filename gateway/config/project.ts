import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project's root directory (the one holding package.json named "passerelle"), found by
 * walking up from this module. Works from the sources (gateway/config/) and from the build
 * (dist/gateway/config/): schemas/, data/ and keys-example/ are not copied into dist/.
 */
export function projectRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && existsSync(join(dir, 'schemas'))) {
      try {
        const name = (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name;
        if (name === 'passerelle') return dir;
      } catch {
        // not ours: keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`passerelle project root not found above ${from}`);
    dir = up;
  }
}

/** Directory of the JSON Schemas (configuration and datasets). */
export function schemasDir(root: string = projectRoot()): string {
  return join(root, 'schemas');
}

/** Directory of the reference data copied into the project (communes, outlines, état 4001 index). */
export function dataDir(root: string = projectRoot()): string {
  return join(root, 'data');
}
