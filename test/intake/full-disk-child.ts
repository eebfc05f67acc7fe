/**
 * Child process for full-disk.test.ts. Runs where DIR/data is a small tmpfs of its own (a private
 * mount namespace made by the parent): measures what one accepted upload takes on that disk, then
 * for each fraction of it left free (the rest taken by a filler file) sends a fresh export, records
 * the verdict and the published state's problems, frees the room and sends the same file again.
 * Finally restarts the pipeline on the same data (start-up recovery) and checks again. One JSON
 * line per step on stdout.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { writeExport } from '../../bench/intake.js';
import { readVerifierKeyFile, verifierKeyPath } from '../../gateway/audit/keyfile.js';
import { openSqliteAuditStore } from '../../gateway/audit/store.js';
import { verifyAuditStore } from '../../gateway/audit/verify.js';
import { dataLayout } from '../../gateway/paths.js';
import { recover } from '../../gateway/publish/recover.js';
import { publishedStateProblems } from './invariants.js';
import { startPipeline, type PipelineHarness } from './pipeline-harness.js';

const dir = process.argv[2] ?? '';
const fractions = (process.argv[3] ?? '').split(',').map(Number);
if (dir === '' || fractions.some((f) => !Number.isFinite(f))) throw new Error('usage: full-disk-child DIR F1,F2,…');
const data = join(dir, 'data');
const filler = join(data, 'filler');
const EXPORT_BYTES = 1 << 20;
const report = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');
const free = (): number => {
  const s = statfsSync(data);
  return s.bavail * s.bsize;
};

async function sealedExport(h: PipelineHarness, tag: string): Promise<Buffer> {
  const plain = join(dir, `${tag}.csv`);
  await writeExport(plain, EXPORT_BYTES, tag);
  const sealed = h.seal('police-nationale', readFileSync(plain));
  rmSync(plain);
  return sealed;
}

/** The verdict, or what was thrown instead (a gateway that cannot even answer is a finding too). */
async function attempt(upload: () => Promise<{ status: string; code?: string }>): Promise<{ status: string; code?: string }> {
  try {
    return await upload();
  } catch (e) {
    return { status: 'thrown', code: e instanceof Error ? `${(e as { code?: string }).code ?? ''} ${e.message}` : String(e) };
  }
}

let h = await startPipeline({ dir });
const before = free();
const first = await h.upload('police-nationale', 'faits-4001', await sealedExport(h, 'F0'));
const need = before - free();
report({ step: 'footprint', status: first.status, need, free: free() });

for (const [k, fraction] of fractions.entries()) {
  const sealed = await sealedExport(h, `F${k + 1}`);
  const room = Math.floor(need * fraction);
  const fill = free() - room;
  if (fill > 0) execFileSync('fallocate', ['-l', String(fill), filler]);
  const v = await attempt(() => h.upload('police-nationale', 'faits-4001', sealed));
  const problems = await publishedStateProblems(h.layout, h.state, h.audit);
  rmSync(filler, { force: true });
  // The gateway keeps serving: with room again, the same file goes through (or is a duplicate
  // if it was accepted the first time).
  const again = await attempt(() => h.upload('police-nationale', 'faits-4001', sealed));
  const after = await publishedStateProblems(h.layout, h.state, h.audit);
  report({ step: 'full', fraction, room, status: v.status, code: v.code, again: again.status, againCode: again.code, problems, after });
}

// A restart on the same data: start-up recovery, then the same checks.
await h.close();
h = await startPipeline({ dir });
await recover({ layout: h.layout, state: h.state, audit: h.audit, now: () => new Date() });
report({ step: 'restart', problems: await publishedStateProblems(h.layout, h.state, h.audit), accepted: h.state.uploadsInState('accepted').length });
await h.close();
const store = openSqliteAuditStore(dataLayout(data).audit, { readonly: true });
const verified = await verifyAuditStore(store, { key: readVerifierKeyFile(verifierKeyPath(join(dir, 'checkpoint.key'))) });
await store.close();
report({ step: 'audit', ok: verified.ok, failure: verified.failure ?? null });
report({ step: 'done' });
