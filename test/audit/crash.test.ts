import { describe, it, expect, afterEach } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { openSqliteAuditStore } from '../../gateway/audit/store.js';
import { verifyAuditStore } from '../../gateway/audit/verify.js';
import { ORIGIN, fixture, type Fixture } from './helpers.js';

let fx: Fixture;
afterEach(() => fx?.cleanup());

// A writer process prints each receipt once append() has resolved; we kill -9 it mid-stream.
// Every printed receipt must be in the trail after the crash: append resolves only when durable.
const WRITER = `
import { openAuditLog } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'gateway', 'audit', 'log.ts'))};
import { silentLogger } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'gateway', 'log.ts'))};
const [dir, key, origin] = process.argv.slice(2);
const log = await openAuditLog({ dir, origin, checkpointKeyFile: key, checkpointIntervalMs: 5, log: silentLogger() });
let i = 0;
await Promise.all(Array.from({ length: 50 }, async () => {
  for (;;) {
    const n = i++;
    const r = await log.append({ type: 'test.crash', actor: { id: 'w', kind: 'gateway' }, outcome: 'info', details: { n } });
    process.stdout.write(r.index + ' ' + r.leafHash + '\\n');
  }
}));
`;

describe('durability', () => {
  it('keeps every acknowledged entry across kill -9, and the trail still verifies', async () => {
    fx = fixture();
    const script = join(fx.dir, 'writer.mts');
    writeFileSync(script, WRITER);
    const child = spawn(process.execPath, ['--import', 'tsx', script, join(fx.dir, 'audit'), fx.keyFile, ORIGIN], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked = new Map<number, string>();
    let buf = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) {
          const [i, h] = l.split(' ');
          acked.set(Number(i), h!);
        }
        if (acked.size >= 3000 && child.exitCode === null) child.kill('SIGKILL');
      });
      child.on('exit', () => resolve());
      child.on('error', reject);
    });
    expect(acked.size).toBeGreaterThanOrEqual(3000);
    const store = openSqliteAuditStore(join(fx.dir, 'audit'));
    for (const [i, h] of acked) expect((await store.entry(i))?.leafHash.toString('hex')).toBe(h);
    const report = await verifyAuditStore(store, { key: fx.verifier, origin: ORIGIN });
    await store.close();
    expect(report.ok).toBe(true);
    expect(report.entries).toBeGreaterThanOrEqual(acked.size);
    expect(report.checkpoints).toBeGreaterThan(0);
  });
});
