/**
 * kill -9 of the whole gateway while real clients upload (security.md invariant 3, issue: "every
 * upload ends accepted, rejected, or failed to the client"): the `passerelle demo` process is
 * killed at several points of a run of OpenSSH `sftp` uploads, then started again on the same
 * data (start-up recovery) and stopped cleanly. After each round: nothing half-published,
 * nothing left in pending/ or quarantine/, every upload a client was told OK is accepted (or a
 * duplicate of an accepted one) in its receipt; at the end the audit trail verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeExport } from '../../bench/intake.js';
import { readVerifierKeyFile, verifierKeyPath } from '../../gateway/audit/keyfile.js';
import { openAuditLog } from '../../gateway/audit/log.js';
import { openSqliteAuditStore } from '../../gateway/audit/store.js';
import { verifyAuditStore } from '../../gateway/audit/verify.js';
import { projectRoot } from '../../gateway/config/project.js';
import { readGatewayPgp } from '../../gateway/kit/inputs.js';
import { silentLogger } from '../../gateway/log.js';
import { dataLayout } from '../../gateway/paths.js';
import { openStateStore } from '../../gateway/store/state.js';
import { demoTarget, startDemoProcess } from '../helpers/demo-process.js';
import { filesUnder, publishedStateProblems } from '../intake/invariants.js';
import { gpg } from '../intake/pipeline-harness.js';
import { sftpBatch } from '../sftp/harness.js';

const ROOT = projectRoot();
const PARTNER = 'police-nationale';
/** Milliseconds after the gateway is ready at which it is killed, one round each. */
const DELAYS = [100, 300, 600, 1000, 1600, 2500];
const EXPORTS = 4;

let dir: string;
let dataDir: string;
const sealed: string[] = [];
/** Remote names whose upload the client was told succeeded (sftp exit 0), across rounds. */
const toldOk: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'passerelle-kill-'));
  dataDir = join(dir, 'data');
  const home = join(dir, 'gnupg');
  mkdirSync(home, { mode: 0o700 });
  gpg(home, ['--import', join(ROOT, 'keys-example', PARTNER, 'pgp.sec.asc'), join(ROOT, 'keys-example', 'gateway', 'pgp.pub.asc')]);
  const gatewayKey = (await readGatewayPgp(join(ROOT, 'keys-example', 'gateway', 'pgp.pub.asc'))).fingerprint;
  for (let i = 0; i < EXPORTS; i++) {
    const plain = join(dir, `export-${i}.csv`);
    await writeExport(plain, 384 << 10, `K${i}`);
    sealed.push(`${plain}.gpg`);
    gpg(home, ['--compress-algo', 'none', '--recipient', gatewayKey, '--sign', '--encrypt', '--output', `${plain}.gpg`, plain]);
  }
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Receipts by the client's file name: what the gateway decided for each upload it recorded. */
function receiptsByName(): Map<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const f of filesUnder(join(dataDir, 'receipts', PARTNER)).filter((p) => p.endsWith('.json'))) {
    const r = JSON.parse(readFileSync(f, 'utf8')) as { status: string; file: { name: string } };
    byName.set(r.file.name, [...(byName.get(r.file.name) ?? []), r.status]);
  }
  return byName;
}

describe('kill -9 of the gateway process during real uploads', () => {
  for (const delay of DELAYS) {
    it(`killed ${delay} ms into a run of uploads, restarted: a consistent state, and every OK kept`, async () => {
      const demo = await startDemoProcess(dataDir);
      const target = demoTarget(demo, dir, PARTNER);
      let killed = false;
      let firstOk!: () => void;
      const sawOk = new Promise<void>((r) => (firstOk = r));
      const uploads = (async () => {
        for (let i = 0; i < EXPORTS && !killed; i++) {
          const name = `d${delay}-${i}.csv.gpg`;
          const r = await sftpBatch(target, PARTNER, [`put ${sealed[i]} /inbox/faits-4001/${name}`]);
          if (r.code === 0) {
            toldOk.push(name);
            firstOk();
          }
        }
      })();
      // On a loaded machine no upload may be answered within the longest delay: the last round
      // then counts its delay from the first OK, so that the kill always lands after one.
      if (delay === DELAYS.at(-1) && toldOk.length === 0) await Promise.race([sawOk, uploads]);
      await new Promise((r) => setTimeout(r, delay));
      killed = true;
      demo.child.kill('SIGKILL');
      expect((await demo.exited).signal).toBe('SIGKILL');
      await uploads;

      // Started again on the same data (recovery runs at start), then stopped cleanly.
      const again = await startDemoProcess(dataDir);
      const code = await again.stop();
      expect({ code, signal: (await again.exited).signal, output: code === 0 ? '' : again.output() }).toEqual({ code: 0, signal: null, output: '' });

      const layout = dataLayout(dataDir);
      const state = openStateStore(layout.state);
      const audit = await openAuditLog({ dir: layout.audit, origin: 'passerelle.grand-nancy.example/audit', checkpointKeyFile: null, checkpointIntervalMs: 60_000, log: silentLogger() });
      try {
        expect(await publishedStateProblems(layout, state, audit)).toEqual([]);
      } finally {
        await audit.close();
        await state.close();
      }
      const decided = receiptsByName();
      for (const name of toldOk) expect(decided.get(name), name).toEqual(expect.arrayContaining([expect.stringMatching(/^(accepted|duplicate)$/)]));
    }, 120_000);
  }

  it('uploads were told OK across the rounds, and the audit trail verifies', async () => {
    expect(toldOk.length).toBeGreaterThan(0);
    const store = openSqliteAuditStore(dataLayout(dataDir).audit, { readonly: true });
    try {
      const report = await verifyAuditStore(store, { key: readVerifierKeyFile(verifierKeyPath(join(ROOT, 'keys-example', 'gateway', 'checkpoint.key'))) });
      expect(report.failure).toBeUndefined();
      expect(report.ok).toBe(true);
    } finally {
      await store.close();
    }
  });
});
