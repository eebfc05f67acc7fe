/**
 * Child process for crash.test.ts: runs the real pipeline on the sealed files of a directory,
 * printing each verdict as a JSON line, until the parent kills it with SIGKILL.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPipeline } from './pipeline-harness.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: crash-child DIR');
const h = await startPipeline({ dir });
process.stdout.write('ready\n');
const sealed = join(dir, 'sealed');
for (const name of readdirSync(sealed).sort()) {
  const v = await h.upload('police-nationale', 'faits-4001', readFileSync(join(sealed, name)));
  process.stdout.write(JSON.stringify({ uploadId: v.uploadId, status: v.status }) + '\n');
}
await h.close();
process.stdout.write('done\n');
