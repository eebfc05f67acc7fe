/**
 * `npm run bench`: Passerelle against OpenSSH `internal-sftp` on this machine, as ratios
 * (performance.md). Interleaved A B A B runs, medians; prints one table and writes
 * bench/results.json. When the gateway cannot be started, the OpenSSH reference still runs and
 * the table says why the gateway column is empty.
 *
 * Environment: BENCH_SIZE_MIB (default 512), BENCH_RUNS (default 5), BENCH_SESSIONS (default 20),
 * BENCH_PARALLEL (default 32 clients), BENCH_PARALLEL_MIB (default 16 each), BENCH_INTAKE_MIB
 * (default 256; 0 skips the intake figure), BENCH_INTAKE_WORKERS (default: the gateway's own), BENCH_INTAKE_BUDGET_S
 * (default 240: no new intake run once the gateway runs took that long), BENCH_MEMORY_MIB (default
 * 1024; 0 skips: one export of that size through the intake, for the memory figure), BENCH_EXTRAS=0 skips
 * bench/audit.ts and bench/pgp.ts (which read their own BENCH_AUDIT_* / BENCH_PGP_* settings).
 */
import { mkdtemp, rm, writeFile, unlink } from 'node:fs/promises';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generateKey, startSshd, type Sshd } from './sshd.js';
import { makeFile, runBatchOk, q, type SftpTarget } from './sftp.js';
import { formatTable, interleave, mbPerSec, median, round, type Row } from './stats.js';
import type { BenchGateway } from './gateway.js';

export interface BenchOptions {
  readonly sizeMiB: number;
  readonly runs: number;
  readonly sessions: number;
  /** Concurrent uploading clients and the size each sends (the "parallel" figure). */
  readonly parallel: number;
  readonly parallelMiB: number;
  /** Size of the signed+encrypted export for the intake figure (0: skip), and intake worker threads. */
  readonly intakeMiB: number;
  /** undefined: the gateway's default. */
  readonly intakeWorkers: number | undefined;
  /** Gateway time after which no further intake run starts. */
  readonly intakeBudgetS: number;
  /**
   * Size of the one export sent through the intake for the memory figure (performance.md: peak
   * RSS while accepting a 1 GiB upload); 0 or absent: not run. Runs with the intake figure.
   */
  readonly memoryMiB?: number;
  /** Run bench/audit.ts and bench/pgp.ts when present (default true; the smoke tests skip them). */
  readonly extras?: boolean;
  /** Skip the gateway even if it is runnable (smoke tests of the reference side). */
  readonly referenceOnly?: boolean;
  readonly log?: (line: string) => void;
}

export interface Figure {
  readonly unit: string;
  readonly reference: number | null;
  readonly gateway: number | null;
  /** reference time / gateway time (≥ 1: the gateway is as fast or faster). */
  readonly ratio: number | null;
  readonly target: string;
  readonly samples: { readonly reference: number[]; readonly gateway: number[] };
}

/** The settings a run used, then what it measured. */
export interface BenchResults extends Pick<BenchOptions, 'sizeMiB' | 'runs' | 'sessions' | 'parallel' | 'parallelMiB' | 'intakeMiB'> {
  readonly date: string;
  readonly machine: { readonly cpus: number; readonly node: string };
  readonly gateway: { readonly ran: boolean; readonly note?: string };
  readonly figures: Record<string, Figure>;
  readonly extra: Record<string, Record<string, number>>;
  readonly notes: string[];
}

export function optionsFromEnv(env: NodeJS.ProcessEnv): BenchOptions {
  const int = (v: string | undefined, d: number) => {
    const n = v === undefined || v === '' ? d : Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`bad bench setting: ${v}`);
    return n;
  };
  return {
    sizeMiB: int(env.BENCH_SIZE_MIB, 512),
    runs: int(env.BENCH_RUNS, 5),
    sessions: int(env.BENCH_SESSIONS, 20),
    parallel: int(env.BENCH_PARALLEL, 32),
    parallelMiB: int(env.BENCH_PARALLEL_MIB, 16),
    intakeMiB: env.BENCH_INTAKE_MIB === '0' ? 0 : int(env.BENCH_INTAKE_MIB, 256),
    intakeWorkers: env.BENCH_INTAKE_WORKERS === undefined || env.BENCH_INTAKE_WORKERS === '' ? undefined : env.BENCH_INTAKE_WORKERS === '0' ? 0 : int(env.BENCH_INTAKE_WORKERS, 1),
    intakeBudgetS: int(env.BENCH_INTAKE_BUDGET_S, 240),
    memoryMiB: env.BENCH_MEMORY_MIB === '0' ? 0 : int(env.BENCH_MEMORY_MIB, 1024),
    extras: env.BENCH_EXTRAS !== '0',
  };
}

function figure(unit: string, target: string, ref: number[], gw: number[], perMs: (ms: number) => number): Figure {
  const r = ref.length ? median(ref) : NaN;
  const g = gw.length ? median(gw) : NaN;
  return {
    unit,
    target,
    reference: ref.length ? round(perMs(r)) : null,
    gateway: gw.length ? round(perMs(g)) : null,
    ratio: ref.length && gw.length ? round(r / g, 3) : null,
    samples: { reference: ref.map((x) => round(x, 1)), gateway: gw.map((x) => round(x, 1)) },
  };
}

export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  const log = opts.log ?? (() => undefined);
  const bytes = opts.sizeMiB * 1024 * 1024;
  const work = await mkdtemp(join(tmpdir(), 'passerelle-bench-'));
  // Interrupted (Ctrl-C, timeout): the 512 MiB files go too.
  const removeWork = () => rmSync(work, { recursive: true, force: true });
  process.once('exit', removeWork);
  const notes: string[] = [];
  let sshd: Sshd | undefined;
  let gw: BenchGateway | undefined;
  let gatewayNote: string | undefined;
  try {
    const client = await generateKey(join(work, 'client_ed25519'));
    sshd = await startSshd([client.publicLine]);
    const refKnownHosts = join(work, 'known_hosts_ref');
    await writeFile(refKnownHosts, sshd.knownHostsLine + '\n');
    const ref: SftpTarget = { host: '127.0.0.1', port: sshd.port, user: sshd.user, identity: client.privatePath, knownHosts: refKnownHosts };
    log(`OpenSSH sshd on 127.0.0.1:${sshd.port}`);

    const src = join(work, 'source.bin');
    await makeFile(src, bytes);
    const downRef = join(sshd.dataDir, 'download.bin');
    await makeFile(downRef, bytes);

    if (opts.referenceOnly) gatewayNote = 'not run (reference only)';
    else {
      try {
        // Imported here so a gateway module that does not load yet leaves the reference running.
        const { startBenchGateway } = await import('./gateway.js');
        gw = await startBenchGateway({ work, downloadBytes: bytes });
        log(`Passerelle on 127.0.0.1:${gw.target.port}`);
      } catch (e) {
        gatewayNote = `not runnable: ${e instanceof Error ? e.message : String(e)}`;
        log(`Passerelle ${gatewayNote}`);
      }
    }

    const local = join(work, 'got.bin');
    let i = 0;
    const upRef = async () => {
      const dest = join(sshd!.dataDir, `up-${i++}.bin`);
      const ms = await runBatchOk(ref, [`put ${q(src)} ${q(dest)}`], work);
      await unlink(dest);
      return ms;
    };
    const upGw = gw ? async () => gw!.upload(src, `bench-${i++}.pgp`) : undefined;
    log(`upload ${opts.sizeMiB} MiB × ${opts.runs}`);
    const up = await interleave(opts.runs, upRef, upGw);
    // The gateway runs in this process: its peak RSS so far is the upload's (bench overhead is
    // a few MiB of buffers; the clients are child processes).
    const peakRssMiB = process.resourceUsage().maxRSS / 1024;

    // Many partners at once: N clients each put a small file; aggregate throughput.
    const small = join(work, 'small.bin');
    const smallBytes = opts.parallelMiB * 1024 * 1024;
    await makeFile(small, smallBytes);
    const allAtOnce = (one: (k: number) => Promise<number>) => async () => {
      const start = performance.now();
      await Promise.all(Array.from({ length: opts.parallel }, (_, k) => one(k)));
      return performance.now() - start;
    };
    const parRef = allAtOnce(async (k) => {
      const dest = join(sshd!.dataDir, `par-${k}.bin`);
      const ms = await runBatchOk(ref, [`put ${q(small)} ${q(dest)}`], work);
      await unlink(dest);
      return ms;
    });
    const parGw = gw ? allAtOnce(async () => gw!.upload(small, `bench-${i++}.pgp`)) : undefined;
    log(`parallel ${opts.parallel} × ${opts.parallelMiB} MiB × ${opts.runs}`);
    const par = await interleave(opts.runs, parRef, parGw);

    // Each run writes a new file, as each upload does. Rewriting the previous run's 512 MiB
    // file slowed the client: four gateway downloads in a row into one file 339, 281, 263,
    // 268 MB/s; into a new file each time 345, 331, 332, 345 MB/s.
    const fresh = (download: () => Promise<number>) => async () => {
      const ms = await download();
      await rm(local, { force: true });
      return ms;
    };
    const downRefRun = fresh(async () => runBatchOk(ref, [`get ${q(downRef)} ${q(local)}`], work));
    const downGw = gw ? fresh(async () => gw!.download(local)) : undefined;
    log(`download ${opts.sizeMiB} MiB × ${opts.runs}`);
    const down = await interleave(opts.runs, downRefRun, downGw);

    // One session = TCP connect, key exchange, public-key auth, open the sftp subsystem, one
    // request, close. Sequential, so this is latency-bound: sessions per second.
    const sessionsOf = (t: SftpTarget) => async () => {
      const start = performance.now();
      for (let k = 0; k < opts.sessions; k++) await runBatchOk(t, ['pwd'], work);
      return performance.now() - start;
    };
    log(`sessions ${opts.sessions} × ${opts.runs}`);
    const sess = await interleave(opts.runs, sessionsOf(ref), gw ? sessionsOf(gw.target) : undefined);

    const figures: Record<string, Figure> = {
      upload: figure('MB/s', '≥ 1.0×', up.a, up.b, (ms) => mbPerSec(bytes, ms)),
      download: figure('MB/s', '≥ 1.0×', down.a, down.b, (ms) => mbPerSec(bytes, ms)),
      sessions: figure('sessions/s', '≥ 1.0×', sess.a, sess.b, (ms) => opts.sessions / (ms / 1000)),
      parallel: figure('MB/s', '≥ 0.8×', par.a, par.b, (ms) => mbPerSec(opts.parallel * smallBytes, ms)),
    };
    if (gw?.note) notes.push(gw.note);
    const extra: Record<string, Record<string, number>> = gw ? { gateway: { 'peak RSS MiB (upload, target ≤ 256)': round(peakRssMiB, 1) } } : {};
    if (gw && opts.intakeMiB > 0) {
      const r = await intakeFigure(opts, work, log, notes).catch((e: unknown) => {
        notes.push(`intake: failed: ${e instanceof Error ? e.message : String(e)}`);
        return undefined;
      });
      if (r) {
        figures.intake = r.figure;
        extra.intake = r.extra;
      }
    }

    for (const [name, fn] of opts.extras === false ? [] : ([['audit', 'benchAudit'], ['pgp', 'benchPgp']] as const)) {
      log(`${name}: ${fn}()`);
      const r = await optionalBench(name, fn, notes);
      if (r) extra[name] = r;
    }

    return {
      date: new Date().toISOString(),
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
      sizeMiB: opts.sizeMiB,
      runs: opts.runs,
      sessions: opts.sessions,
      parallel: opts.parallel,
      parallelMiB: opts.parallelMiB,
      intakeMiB: opts.intakeMiB,
      gateway: gw ? { ran: true } : { ran: false, note: gatewayNote ?? 'not run' },
      figures,
      extra,
      notes,
    };
  } finally {
    await gw?.close().catch(() => undefined);
    await sshd?.close().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
    process.removeListener('exit', removeWork);
  }
}

/**
 * Signed+encrypted export: `gpg --decrypt` (A) against upload-to-verdict on the real pipeline (B);
 * then one more upload with ssh2's client for the verdict latency. The gateway runs in a process
 * of its own (bench/intake-gateway.ts): its peak RSS (the kernel's high-water mark, reset before
 * each upload) and CPU time per upload are its alone.
 */
async function intakeFigure(opts: BenchOptions, work: string, log: (l: string) => void, notes: string[]): Promise<{ figure: Figure; extra: Record<string, number> }> {
  const bytes = opts.intakeMiB * 1024 * 1024;
  const { startIntakeBench } = await import('./intake.js');
  const ib = await startIntakeBench(work, bytes, opts.intakeWorkers);
  const a: number[] = [];
  const b: number[] = [];
  const extra: Record<string, number> = {};
  let peakRss = 0;
  const cpu: number[] = [];
  /** Runs one upload, keeping the gateway's peak RSS and CPU seconds during it. */
  const measured = async <T>(upload: () => Promise<T>): Promise<T> => {
    const before = await ib.gatewayUsage();
    const r = await upload();
    const after = await ib.gatewayUsage();
    peakRss = Math.max(peakRss, after.peakRssMiB);
    cpu.push(after.cpuSeconds - before.cpuSeconds);
    return r;
  };
  try {
    log(`intake ${opts.intakeMiB} MiB signed+encrypted CSV × ${opts.runs} (${opts.intakeWorkers ?? 'default'} worker(s))`);
    // Keeps `npm run bench` within its time on a slow pipeline: stop once the gateway runs
    // have used the budget (at least one run always completes), and say so.
    const budgetMs = opts.intakeBudgetS * 1000;
    let spent = 0;
    for (let k = 0; k < opts.runs && (k === 0 || spent < budgetMs); k++) {
      const { file } = await ib.prepare(k);
      a.push(await ib.gpgDecrypt(file));
      const ms = await measured(() => ib.upload(file, k));
      b.push(ms);
      spent += ms;
      await rm(file, { force: true });
    }
    if (b.length < opts.runs) notes.push(`intake: ${b.length} run(s) of ${opts.runs}, time budget ${opts.intakeBudgetS} s reached (BENCH_INTAKE_BUDGET_S)`);
    log('intake: one more upload with ssh2\'s client, for the verdict latency');
    const { file } = await ib.prepare(opts.runs);
    const t = await measured(() => ib.uploadTimed(file, opts.runs));
    await rm(file, { force: true });
    extra['verdict latency s (last WRITE reply to CLOSE reply, target ≤ 1)'] = round(t.verdictMs / 1000, 2);
    extra['upload to verdict MB/s (ssh2 client)'] = round(mbPerSec(bytes, t.totalMs));
    extra['gateway process peak RSS MiB during the intake uploads (target ≤ 256)'] = round(peakRss, 1);
    extra['gateway process CPU s per upload (median)'] = round(median(cpu), 2);
    // What GnuPG itself needs for the cryptography of the same job: decrypt the export, then
    // sign and encrypt as many bytes as the gateway delivered for one upload (every record goes
    // to the observatory and to its commune, as NDJSON with its provenance). No parsing, no
    // validation, no routing: a ceiling no implementation of this job can pass.
    const { bytes: deliveredBytes, files } = await ib.delivered();
    const uploads = b.length + 1;
    const perUpload = Math.round(deliveredBytes / uploads);
    if (files > 0) {
      log(`intake: gpg --sign --encrypt of ${(perUpload / 1e6).toFixed(0)} MB (the deliveries of one upload)`);
      const sealMs = await ib.gpgSeal(perUpload);
      const floorMs = median(a) + sealMs;
      extra['deliveries MB written per upload'] = round(perUpload / 1e6);
      extra['gpg sign+encrypt of those bytes, s'] = round(sealMs / 1000, 2);
      extra['gpg decrypt + sign+encrypt: export MB/s'] = round(mbPerSec(bytes, floorMs));
      extra['gpg decrypt + sign+encrypt: ratio to gpg --decrypt'] = round(median(a) / floorMs, 3);
    }
    const memoryMiB = opts.memoryMiB ?? 0;
    if (memoryMiB > 0) {
      // Lines of ~230 bytes: a 1 GiB export stays under the 5 M records limit, so the whole
      // file is worked on, as a valid one must be.
      const memoryBytes = memoryMiB * 1024 * 1024;
      const { file, records } = await ib.prepare(opts.runs + 1, memoryBytes, 250);
      log(`intake: one ${memoryMiB} MiB export (${records} records), for the gateway's peak RSS`);
      await ib.gatewayUsage();
      const ms = await ib.upload(file, opts.runs + 1);
      const usage = await ib.gatewayUsage();
      await rm(file, { force: true });
      extra[`gateway process peak RSS MiB accepting one ${memoryMiB} MiB export (target ≤ 256)`] = round(usage.peakRssMiB, 1);
      extra[`records of the ${memoryMiB} MiB export`] = records;
      extra[`upload to verdict MB/s, ${memoryMiB} MiB export`] = round(mbPerSec(memoryBytes, ms));
    }
  } finally {
    await ib.close();
  }
  return { figure: figure('MB/s', '≥ 0.5×', a, b, (ms) => mbPerSec(bytes, ms)), extra };
}

/** bench/audit.ts and bench/pgp.ts are written by others; run them when they exist. */
async function optionalBench(name: string, fn: string, notes: string[]): Promise<Record<string, number> | undefined> {
  const here = dirname(fileURLToPath(import.meta.url));
  const file = ['.js', '.ts'].map((ext) => join(here, `${name}${ext}`)).find((f) => existsSync(f));
  if (!file) {
    notes.push(`${name}: bench/${name}.ts not present`);
    return undefined;
  }
  try {
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    const f = mod[fn];
    if (typeof f !== 'function') {
      notes.push(`${name}: ${fn}() not exported`);
      return undefined;
    }
    return (await (f as () => Promise<Record<string, number>>)()) ?? undefined;
  } catch (e) {
    notes.push(`${name}: failed: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

export function renderResults(r: BenchResults): string {
  const fmt = (v: number | null, unit: string) => (v === null ? '—' : `${v} ${unit}`);
  const rows: Row[] = Object.entries(r.figures).map(([name, f]) => ({
    figure:
      name === 'sessions'
        ? `sessions (${r.sessions} sequential)`
        : name === 'parallel'
          ? `parallel ${r.parallel} × ${r.parallelMiB} MiB`
          : name === 'intake'
            ? `intake ${r.intakeMiB} MiB (vs gpg --decrypt)`
            : `${name} ${r.sizeMiB} MiB`,
    reference: fmt(f.reference, f.unit),
    gateway: fmt(f.gateway, f.unit),
    ratio: f.ratio === null ? '—' : `${f.ratio}×`,
    target: f.target,
  }));
  for (const [name, figs] of Object.entries(r.extra)) {
    for (const [k, v] of Object.entries(figs)) {
      rows.push({ figure: `${name}: ${k}`, reference: '', gateway: String(round(v)), ratio: '', target: '' });
    }
  }
  const head = `Passerelle bench — ${r.date}, ${r.machine.cpus} CPUs, Node ${r.machine.node}, cipher aes128-gcm, median of ${r.runs} interleaved runs`;
  const gwLine = r.gateway.ran ? '' : `\nPasserelle: ${r.gateway.note}`;
  const notes = r.notes.length ? `\n${r.notes.map((n) => `note: ${n}`).join('\n')}` : '';
  return `${head}\n\n${formatTable(rows)}${gwLine}${notes}\n`;
}

function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) return process.cwd();
    d = up;
  }
  return d;
}

async function main(): Promise<number> {
  // Ctrl-C or a timeout: exit through process 'exit', where the throwaway sshd is stopped.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const opts = { ...optionsFromEnv(process.env), log: (l: string) => process.stderr.write(`bench: ${l}\n`) };
  const results = await runBench(opts);
  process.stdout.write(renderResults(results));
  const out = join(repoRoot(), 'bench', 'results.json');
  await writeFile(out, JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(`\nwritten: ${out}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (c) => (process.exitCode = c),
    (e: unknown) => {
      process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
