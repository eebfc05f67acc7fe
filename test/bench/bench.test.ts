import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, readFile, writeFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, startSshd, sshdConfig, type Sshd } from '../../bench/sshd.js';
import { makeFile, runBatch, runBatchOk, q, type SftpTarget } from '../../bench/sftp.js';
import { median, formatTable, interleave, mbPerSec } from '../../bench/stats.js';
import { runBench, renderResults, optionsFromEnv } from '../../bench/run.js';

const sha = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex');

describe('bench/stats', () => {
  it('takes the median of odd and even samples without reordering the input', () => {
    const xs = [5, 1, 3];
    expect(median(xs)).toBe(3);
    expect(xs).toEqual([5, 1, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
  it('counts MB/s in 10^6 bytes', () => {
    expect(mbPerSec(2_000_000, 1000)).toBe(2);
  });
  it('interleaves A and B runs', async () => {
    const order: string[] = [];
    const r = await interleave(
      3,
      async () => (order.push('a'), 1),
      async () => (order.push('b'), 2),
    );
    expect(order.join('')).toBe('ababab');
    expect(r).toEqual({ a: [1, 1, 1], b: [2, 2, 2] });
  });
  it('pads table columns', () => {
    const t = formatTable([{ figure: 'upload', reference: '1 MB/s', gateway: '—', ratio: '—', target: '≥ 1.0×' }]);
    const lines = t.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^upload\s+1 MB\/s\s+—\s+—\s+≥ 1\.0×$/);
  });
  it('reads its settings from the environment and refuses nonsense', () => {
    expect(optionsFromEnv({})).toMatchObject({ sizeMiB: 512, runs: 5, sessions: 20, parallel: 32, parallelMiB: 16, intakeMiB: 256, intakeWorkers: undefined });
    expect(optionsFromEnv({ BENCH_INTAKE_MIB: '0' }).intakeMiB).toBe(0);
    expect(optionsFromEnv({}).memoryMiB).toBe(1024);
    expect(optionsFromEnv({ BENCH_MEMORY_MIB: '0' }).memoryMiB).toBe(0);
    expect(optionsFromEnv({ BENCH_SIZE_MIB: '2' }).sizeMiB).toBe(2);
    expect(() => optionsFromEnv({ BENCH_RUNS: '0' })).toThrow();
    expect(() => optionsFromEnv({ BENCH_SIZE_MIB: 'x' })).toThrow();
  });
  it('generates an sshd_config with internal-sftp on loopback and no PAM', () => {
    const c = sshdConfig({ port: 1234, hostKey: '/k', authorizedKeys: '/a' });
    expect(c).toContain('ListenAddress 127.0.0.1:1234');
    expect(c).toContain('Subsystem sftp internal-sftp');
    expect(c).toContain('UsePAM no');
    expect(c).toContain('AuthorizedKeysFile /a');
  });
});

describe('bench reference: throwaway OpenSSH sshd driven by the sftp client', () => {
  let work: string;
  let sshd: Sshd;
  let target: SftpTarget;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'passerelle-test-bench-'));
    const key = await generateKey(join(work, 'client'));
    sshd = await startSshd([key.publicLine]);
    await writeFile(join(work, 'kh'), sshd.knownHostsLine + '\n');
    target = { host: '127.0.0.1', port: sshd.port, user: sshd.user, identity: key.privatePath, knownHosts: join(work, 'kh') };
  }, 30_000);
  afterAll(async () => {
    await sshd?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('uploads and downloads a file byte for byte', async () => {
    const src = join(work, 'src with space.bin');
    await makeFile(src, 3 * 1024 * 1024 + 17);
    const remote = join(sshd.dataDir, 'up.bin');
    await runBatchOk(target, [`put ${q(src)} ${q(remote)}`], work);
    expect(await sha(remote)).toBe(await sha(src));
    const back = join(work, 'back.bin');
    await runBatchOk(target, [`get ${q(remote)} ${q(back)}`], work);
    expect((await stat(back)).size).toBe(3 * 1024 * 1024 + 17);
    expect(await sha(back)).toBe(await sha(src));
  });

  it('reports a failing batch as a non-zero exit', async () => {
    const r = await runBatch(target, [`get ${q(join(sshd.dataDir, 'absent'))} ${q(join(work, 'x'))}`], work);
    expect(r.code).not.toBe(0);
  });

  it('refuses a client whose key is not authorized', async () => {
    const other = await generateKey(join(work, 'other'));
    const r = await runBatch({ ...target, identity: other.privatePath }, ['pwd'], work);
    expect(r.code).not.toBe(0);
  });
});

describe('runBench (tiny sizes)', () => {
  it('measures the OpenSSH reference and renders a table', async () => {
    const r = await runBench({ sizeMiB: 1, runs: 1, sessions: 1, parallel: 2, parallelMiB: 1, intakeMiB: 0, intakeWorkers: 0, intakeBudgetS: 60, referenceOnly: true, extras: false });
    for (const name of ['upload', 'download', 'sessions', 'parallel'] as const) {
      const f = r.figures[name];
      expect(f?.reference).toBeGreaterThan(0);
      expect(f?.gateway).toBeNull();
      expect(f?.samples.reference).toHaveLength(1);
    }
    expect(r.gateway.ran).toBe(false);
    const text = renderResults(r);
    expect(text).toContain('upload 1 MiB');
    expect(text).toContain('not run (reference only)');
  }, 60_000);
});

describe('bench gateway side (tiny sizes)', () => {
  it('uploads into a partner inbox and downloads an outbox file through the gateway', async () => {
    const { startBenchGateway } = await import('../../bench/gateway.js');
    const work = await mkdtemp(join(tmpdir(), 'passerelle-test-benchgw-'));
    const gw = await startBenchGateway({ work, downloadBytes: 2 * 1024 * 1024 + 5 });
    try {
      const src = join(work, 'src.bin');
      await makeFile(src, 1024 * 1024 + 3);
      expect(await gw.upload(src, 'bench-0.pgp')).toBeGreaterThan(0);
      const local = join(work, 'down.bin');
      await gw.download(local);
      expect((await stat(local)).size).toBe(2 * 1024 * 1024 + 5);
      // The partner cannot read its inbox back: the gateway answers like a real deployment.
      const back = await runBatch(gw.target, [`get /inbox/faits-4001/bench-0.pgp ${q(join(work, 'back.bin'))}`], work);
      expect(back.code).not.toBe(0);
    } finally {
      await gw.close();
      await rm(work, { recursive: true, force: true });
    }
  }, 60_000);

  it('runBench fills the gateway column and the ratio', async () => {
    const r = await runBench({ sizeMiB: 1, runs: 1, sessions: 1, parallel: 3, parallelMiB: 1, intakeMiB: 1, intakeWorkers: 0, intakeBudgetS: 60, memoryMiB: 2, extras: false });
    expect(r.gateway).toEqual({ ran: true });
    expect(r.notes.filter((n) => n.startsWith('intake'))).toEqual([]);
    // The memory figure's export: accepted (else the run throws and a note says so), its long
    // lines keeping 2 MiB within 10,000 records (made by thousands) where the usual ones make over 20,000.
    expect(r.extra.intake?.['gateway process peak RSS MiB accepting one 2 MiB export (target ≤ 256)']).toBeGreaterThan(40);
    expect(r.extra.intake?.['records of the 2 MiB export']).toBeGreaterThan(8000);
    expect(r.extra.intake?.['records of the 2 MiB export']).toBeLessThanOrEqual(10_000);
    expect(r.extra.intake?.['deliveries MB written per upload']).toBeGreaterThan(0);
    expect(r.extra.intake?.['gpg decrypt + sign+encrypt: ratio to gpg --decrypt']).toBeGreaterThan(0);
    for (const name of ['upload', 'download', 'sessions', 'parallel', 'intake'] as const) {
      expect(r.figures[name]?.gateway).toBeGreaterThan(0);
      expect(r.figures[name]?.ratio).toBeGreaterThan(0);
    }
  }, 60_000);
});

describe('bench intake (tiny sizes)', () => {
  it('a fresh signed+encrypted export is accepted by the real pipeline; a refusal names the receipt code', async () => {
    const { startIntakeBench, writeExport } = await import('../../bench/intake.js');
    const work = await mkdtemp(join(tmpdir(), 'passerelle-test-benchintake-'));
    const ib = await startIntakeBench(work, 256 * 1024, 0);
    try {
      const { file, records } = await ib.prepare(0);
      expect(records).toBeGreaterThan(1000);
      expect(await ib.gpgDecrypt(file)).toBeGreaterThan(0);
      const before = await ib.gatewayUsage();
      expect(await ib.upload(file, 0)).toBeGreaterThan(0);
      // The gateway runs in its own process: its figures are read from the kernel.
      const after = await ib.gatewayUsage();
      expect(after.peakRssMiB).toBeGreaterThan(40);
      expect(after.cpuSeconds).toBeGreaterThan(before.cpuSeconds);
      // Every record went to the observatory (NDJSON with its provenance: over 100 bytes each) and to its commune.
      const delivered = await ib.delivered();
      expect(delivered.files).toBeGreaterThan(2);
      expect(delivered.bytes).toBeGreaterThan(records * 2 * 100);
      expect(await ib.gpgSeal(delivered.bytes)).toBeGreaterThan(0);
      const plain = join(work, 'plain.csv');
      await writeExport(plain, 10_000, 'X');
      await expect(ib.upload(plain, 1)).rejects.toThrow(/receipt: PGP_NOT_ENCRYPTED/);
    } finally {
      await ib.close();
      await rm(work, { recursive: true, force: true });
    }
  }, 120_000);
});
