/**
 * Crash safety (security.md invariant 3): the pipeline is killed with SIGKILL at many points of
 * a run of uploads; after each kill, start-up recovery runs and every invariant is checked:
 * nothing half-published, no delivery without its audit entry and state, no leftovers in
 * pending/ or quarantine/, and every upload answered OK before the kill still accepted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, startPipeline, type PipelineHarness } from './pipeline-harness.js';
import { publishedStateProblems } from './invariants.js';
import { openStateStore } from '../../gateway/store/state.js';
import { openAuditLog } from '../../gateway/audit/log.js';
import { recover } from '../../gateway/publish/recover.js';
import { dataLayout } from '../../gateway/paths.js';
import { silentLogger } from '../../gateway/log.js';
import { verifyAuditStore } from '../../gateway/audit/verify.js';
import { openSqliteAuditStore } from '../../gateway/audit/store.js';
import { readVerifierKeyFile, verifierKeyPath } from '../../gateway/audit/keyfile.js';

const CHILD = join(import.meta.dirname, 'crash-child.ts');
let dir: string;
let sealer: PipelineHarness;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'passerelle-crash-'));
  // Seal with a throwaway harness (its own dir), then run the children on `dir`.
  sealer = await startPipeline();
  mkdirSync(join(dir, 'sealed'));
  const csv = fixture('faits-4001.csv');
  for (let i = 0; i < 8; i++) writeFileSync(join(dir, 'sealed', `f${i}.pgp`), sealer.seal('police-nationale', csv));
});
afterAll(async () => {
  await sealer?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the child, kills it `delayMs` after it is ready; returns the verdicts it printed. */
function runAndKill(delayMs: number): Promise<{ uploadId: string; status: string }[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const verdicts: { uploadId: string; status: string }[] = [];
    let buf = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') setTimeout(() => child.kill('SIGKILL'), delayMs);
        else if (line.startsWith('{')) verdicts.push(JSON.parse(line) as { uploadId: string; status: string });
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL' && code !== 0) reject(new Error(`child exited ${code}: ${stderr}`));
      else resolve(verdicts);
    });
  });
}

describe('kill -9 at many points of a run of uploads', () => {
  const answeredOk = new Set<string>();

  for (const delay of [0, 40, 90, 160, 250, 380, 550, 800, 1200, 5000]) {
    it(`recovers to a consistent state after a kill ${delay} ms into the run`, async () => {
      const verdicts = await runAndKill(delay);
      for (const v of verdicts) if (v.status === 'accepted') answeredOk.add(v.uploadId);

      const layout = dataLayout(join(dir, 'data'));
      const state = openStateStore(layout.state);
      const audit = await openAuditLog({ dir: layout.audit, origin: 'test.passerelle/audit', checkpointKeyFile: join(dir, 'checkpoint.key'), checkpointIntervalMs: 60_000, log: silentLogger() });
      try {
        await recover({ layout, state, audit, now: () => new Date() });
        expect(await publishedStateProblems(layout, state, audit)).toEqual([]);
        // An OK answer is never taken back.
        for (const id of answeredOk) expect(state.getUpload(id)?.state).toBe('accepted');
      } finally {
        await audit.close();
        await state.close();
      }
    });
  }

  it('accepted uploads across the runs, and the audit trail still verifies after every kill', async () => {
    expect(answeredOk.size).toBeGreaterThan(0);
    const layout = dataLayout(join(dir, 'data'));
    const store = openSqliteAuditStore(layout.audit, { readonly: true });
    try {
      const report = await verifyAuditStore(store, { key: readVerifierKeyFile(verifierKeyPath(join(dir, 'checkpoint.key'))) });
      expect(report.failure).toBeUndefined();
      expect(report.ok).toBe(true);
    } finally {
      await store.close();
    }
  });
});
