/**
 * Audit trail figures (performance.md): durable appends per second with group commit under many
 * concurrent writers, and `audit verify` of 1 M entries. Run alone with `npx tsx bench/audit.ts`
 * (BENCH_AUDIT_ENTRIES overrides the 1 M), or through `npm run bench`, which calls benchAudit().
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openAuditLog, type AuditLog } from '../gateway/audit/log.js';
import { verifyAuditDir } from '../gateway/audit/verify.js';
import { formatSignerKey, generateSignerKey, parseVerifierKey, formatVerifierKey } from '../gateway/audit/notekey.js';
import type { AuditEvent } from '../gateway/audit/events.js';
import { silentLogger } from '../gateway/log.js';

const ORIGIN = 'bench.passerelle.example/audit';

function event(i: number): AuditEvent {
  return {
    type: i % 4 === 0 ? 'sftp.upload.committed' : 'delivery.downloaded',
    actor: { id: i % 2 === 0 ? 'police-nationale' : 'vandoeuvre-les-nancy', kind: i % 2 === 0 ? 'partner' : 'recipient', source: `127.0.0.1:${20000 + (i % 40000)}` },
    outcome: 'success',
    refs: { uploadId: `01jbench${String(i).padStart(18, '0')}`, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
    details: { bytes: i * 17, records: i % 1000, dataset: 'faits-4001' },
  };
}

async function open(dir: string, keyFile: string): Promise<AuditLog> {
  return openAuditLog({ dir, origin: ORIGIN, checkpointKeyFile: keyFile, checkpointIntervalMs: 1000, log: silentLogger() });
}

/** `writers` concurrent callers, each appending and awaiting durability in a loop. */
async function concurrentAppends(log: AuditLog, writers: number, total: number): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: writers }, async () => {
    while (next < total) await log.append(event(next++));
  }));
  return total / (Number(process.hrtime.bigint() - t0) / 1e9);
}

export async function benchAudit(): Promise<Record<string, number>> {
  const entries = Number(process.env['BENCH_AUDIT_ENTRIES'] ?? 1_000_000);
  const root = mkdtempSync(join(tmpdir(), 'passerelle-bench-audit-'));
  try {
    const key = generateSignerKey(ORIGIN);
    const keyFile = join(root, 'checkpoint.key');
    writeFileSync(keyFile, formatSignerKey(key), { mode: 0o600 });
    const out: Record<string, number> = {};

    // 1. Durable appends: one writer (one fsync per append), then many writers (group commit).
    const small = await open(join(root, 'appends'), keyFile);
    out['append_1_writer_per_s'] = Math.round(await concurrentAppends(small, 1, 300));
    out['append_100_writers_per_s'] = Math.round(await concurrentAppends(small, 100, 20_000));
    out['append_1000_writers_per_s'] = Math.round(await concurrentAppends(small, 1000, 50_000));
    await small.close();

    // 2. A 1 M entry trail through the bulk path (appendAll: one durable transaction per 20 000).
    const big = await open(join(root, 'big'), keyFile);
    let t0 = process.hrtime.bigint();
    const chunk = 20_000;
    for (let i = 0; i < entries; i += chunk) {
      await big.appendAll(Array.from({ length: Math.min(chunk, entries - i) }, (_, j) => event(i + j)));
      if ((i / chunk) % 10 === 0) await big.checkpoint(); // a checkpoint every 200 000 entries
    }
    out['bulk_append_per_s'] = Math.round(entries / (Number(process.hrtime.bigint() - t0) / 1e9));
    t0 = process.hrtime.bigint();
    const proofs = 200;
    for (let i = 0; i < proofs; i++) await big.prove(Math.floor((i * entries) / proofs));
    out['prove_ms'] = Number((Number(process.hrtime.bigint() - t0) / 1e6 / proofs).toFixed(3));
    await big.close();

    // 3. audit verify of the whole trail, as the CLI runs it: wall and CPU time.
    t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    const report = await verifyAuditDir(join(root, 'big'), { key: parseVerifierKey(formatVerifierKey(key)), origin: ORIGIN });
    out['verify_s'] = Number((Number(process.hrtime.bigint() - t0) / 1e9).toFixed(2));
    const cpu = process.cpuUsage(cpu0);
    out['verify_cpu_s'] = Number(((cpu.user + cpu.system) / 1e6).toFixed(2));
    if (!report.ok) throw new Error(`bench trail does not verify: ${report.failure?.message}`);
    out['verify_entries'] = report.entries;
    out['verify_checkpoints'] = report.checkpoints;
    return out;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  benchAudit().then(
    (r) => {
      for (const [k, v] of Object.entries(r)) process.stdout.write(`${k.padEnd(28)} ${v}\n`);
    },
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
