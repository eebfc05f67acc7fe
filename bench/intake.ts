/**
 * The "intake" figure (performance.md): a signed+encrypted faits-4001 CSV export (GnuPG, no
 * compression), uploaded by the OpenSSH client to the whole gateway with its real pipeline —
 * upload start to verdict, including decrypt, verify, parse, validate, route, re-encrypt for
 * every recipient and publish — against `gpg --decrypt` of the same file. Each run sends a
 * different export, so none is a duplicate of an earlier one.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { projectRoot } from '../gateway/config/project.js';
import { readGatewayPgp } from '../gateway/kit/inputs.js';
import { demoIdentity, BENCH_DATASET, BENCH_PARTNER } from './gateway.js';
import { runBatchOk, q, type SftpTarget } from './sftp.js';
import { uploadTimed, type LatencyRun } from './latency.js';
import type { IntakeGatewayReady } from './intake-gateway.js';

/** The 20 INSEE codes of the demo territory (records spread over every commune). */
const INSEE = ['54025', '54165', '54184', '54197', '54257', '54265', '54274', '54300', '54304', '54328',
  '54339', '54357', '54395', '54439', '54482', '54495', '54498', '54526', '54547', '54578'];

/**
 * Writes a valid faits-4001 CSV of at least `bytes` bytes; ids carry `tag` so files differ.
 * `lineBytes`: the addresses are made longer (within the schema's 200 characters) so that lines
 * are about that long: a large export keeps under the records limit.
 */
export async function writeExport(path: string, bytes: number, tag: string, lineBytes = 0): Promise<number> {
  const out = createWriteStream(path);
  const day = new Date(Date.now() - 5 * 86_400_000).toISOString().slice(0, 10);
  let written = 0;
  let n = 0;
  // The usual line is ~90 bytes; the rest of the wanted length goes into the address.
  const extra = Math.max(0, Math.min(160, lineBytes - 90));
  const suffix = extra > 0 ? `, ${'résidence des Tilleuls, bâtiment B, escalier 3, '.repeat(4)}`.slice(0, extra) : '';
  const header = 'id_fait;date_faits;heure_faits;index_4001;code_insee;adresse;x;y;tentative\n';
  out.write(header);
  written += header.length;
  while (written < bytes) {
    let chunk = '';
    for (let k = 0; k < 1000; k++, n++) {
      // A street-level address, as real exports carry: ~90 bytes a line keeps 256 MiB under
      // the 5 M records limit.
      chunk += `${tag}-${n};${day};21:30;${(n % 90) + 1};${INSEE[n % INSEE.length]};${(n % 180) + 1} avenue du Général Leclerc${suffix};;;${n % 2}\n`;
    }
    written += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
  return n;
}

/**
 * gpg in batch mode; resolves with its wall time (ms). With `feedBytes`, that many bytes (a
 * random block, repeated) are written to its standard input.
 */
function gpg(home: string, args: readonly string[], feedBytes?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn('gpg', ['--homedir', home, '--batch', '--quiet', '--yes', '--trust-model', 'always', ...args], { stdio: [feedBytes === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err.length < 2000 ? (err += d.toString()) : undefined));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(performance.now() - start) : reject(new Error(`gpg ${args.join(' ')}: ${err.trim()}`))));
    const stdin = child.stdin;
    if (feedBytes === undefined || stdin === null) return;
    stdin.on('error', () => undefined); // gpg failing early: its exit code says why
    const block = randomBytes(1 << 20);
    void (async () => {
      for (let left = feedBytes; left > 0; left -= block.length) {
        if (!stdin.write(left >= block.length ? block : block.subarray(0, left))) await once(stdin, 'drain');
      }
      stdin.end();
    })();
  });
}

/** " (receipt: CODE message)" from the newest receipt, to say why a bench upload was refused. */
async function newestReceiptReason(dir: string): Promise<string> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();
  const last = names.at(-1);
  if (!last) return '';
  const r = JSON.parse(await readFile(join(dir, last), 'utf8')) as { code?: string; message?: string };
  return ` (receipt: ${r.code ?? '?'} ${r.message ?? ''})`;
}

export interface IntakeBench {
  /**
   * Makes export number `k` (plaintext, then signed+encrypted); returns its path and record
   * count. `size` and `lineBytes` (see writeExport) for another size than the bench's.
   */
  prepare(k: number, size?: number, lineBytes?: number): Promise<{ file: string; records: number }>;
  /** Reference: gpg --decrypt (and verify) to /dev/null with the gateway's key. */
  gpgDecrypt(file: string): Promise<number>;
  /** The gateway: sftp put until the verdict (the client exits 0 only when accepted). */
  upload(file: string, k: number): Promise<number>;
  /** The same with ssh2's client, which shows when the last WRITE was answered (verdict latency). */
  uploadTimed(file: string, k: number): Promise<LatencyRun>;
  /** The gateway process's peak RSS since the last call (or its start) and its CPU time so far. */
  gatewayUsage(): Promise<GatewayUsage>;
  /** Bytes of the deliveries in the outbox (every recipient, every upload) and their count. */
  delivered(): Promise<{ bytes: number; files: number }>;
  /**
   * Reference: `gpg --sign --encrypt` (no compression) of `bytes` bytes fed on its standard input,
   * signed with the gateway's key: the cryptography of the deliveries, without any record work.
   */
  gpgSeal(bytes: number): Promise<number>;
  close(): Promise<void>;
}

export interface GatewayUsage {
  readonly peakRssMiB: number;
  readonly cpuSeconds: number;
}

interface GatewayProcess {
  readonly ready: IntakeGatewayReady;
  usage(): Promise<GatewayUsage>;
  close(): Promise<void>;
}

/** bench/intake-gateway.ts in a child process (under tsx when the bench itself runs from source). */
async function startGatewayProcess(work: string, workers: number | undefined): Promise<GatewayProcess> {
  const entry = new URL(import.meta.url.endsWith('.ts') ? './intake-gateway.ts' : './intake-gateway.js', import.meta.url);
  const args = [...(entry.pathname.endsWith('.ts') ? ['--import', 'tsx'] : []), entry.pathname, JSON.stringify({ work, workers })];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err.length < 4000 ? (err += d.toString()) : undefined));
  const exited = once(child, 'exit');
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    void exited.then(([code]) => reject(new Error(`intake gateway exited (${String(code)}) before listening: ${err.trim()}`)));
  });
  const pid = child.pid as number;
  const ticks = Number(process.env.CLK_TCK ?? 100); // USER_HZ: 100 on Linux
  return {
    ready: JSON.parse(line) as IntakeGatewayReady,
    async usage() {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const hwmKiB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
      // utime and stime: fields 14 and 15, counted after the command name's closing parenthesis.
      const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
      const cpuTicks = Number(stat[11]) + Number(stat[12]);
      // "5" resets the peak (VmHWM) to the current RSS, so each call gives the peak since the last.
      await writeFile(`/proc/${pid}/clear_refs`, '5');
      return { peakRssMiB: hwmKiB / 1024, cpuSeconds: cpuTicks / ticks };
    },
    async close() {
      child.stdin.end();
      await exited;
    },
  };
}

/** `workers` undefined: the gateway's own default (one per core but one). */
export async function startIntakeBench(work: string, bytes: number, workers: number | undefined): Promise<IntakeBench> {
  const root = projectRoot();
  const keys = join(root, 'keys-example');
  const partnerHome = join(work, 'gnupg-partner');
  const gatewayHome = join(work, 'gnupg-gateway');
  for (const h of [partnerHome, gatewayHome]) await mkdir(h, { recursive: true, mode: 0o700 });
  await gpg(partnerHome, ['--import', join(keys, BENCH_PARTNER, 'pgp.sec.asc'), join(keys, 'gateway', 'pgp.pub.asc')]);
  await gpg(gatewayHome, ['--import', join(keys, 'gateway', 'pgp.sec.asc'), join(keys, BENCH_PARTNER, 'pgp.pub.asc')]);

  const gateway = await startGatewayProcess(work, workers);
  const knownHosts = join(work, 'known_hosts_intake');
  await writeFile(knownHosts, gateway.ready.knownHostsLine + '\n');
  const target: SftpTarget = { host: '127.0.0.1', port: gateway.ready.port, user: BENCH_PARTNER, identity: await demoIdentity(root, BENCH_PARTNER, work), knownHosts };
  // The key the demo configuration gives the gateway, imported above for gpg's reference run.
  const gwFpr = (await readGatewayPgp(join(keys, 'gateway', 'pgp.pub.asc'))).fingerprint;

  return {
    async prepare(k, size = bytes, lineBytes = 0) {
      const plain = join(work, `export-${k}.csv`);
      const records = await writeExport(plain, size, `B${k}`, lineBytes);
      const file = `${plain}.gpg`;
      await gpg(partnerHome, ['-z', '0', '--recipient', gwFpr, '--sign', '--encrypt', '--output', file, plain]);
      await rm(plain, { force: true });
      return { file, records };
    },
    gpgDecrypt: (file) => gpg(gatewayHome, ['--output', '/dev/null', '--decrypt', file]),
    async upload(file, k) {
      try {
        return await runBatchOk(target, [`put ${q(file)} /inbox/${BENCH_DATASET}/export-${k}.csv.gpg`], work);
      } catch (e) {
        const why = await newestReceiptReason(join(gateway.ready.receipts, BENCH_PARTNER));
        throw new Error(`${e instanceof Error ? e.message : String(e)}${why}`, { cause: e });
      }
    },
    async uploadTimed(file, k) {
      const r = await uploadTimed(target, file, `/inbox/${BENCH_DATASET}/export-${k}.csv.gpg`);
      if (r.refusal !== undefined) throw new Error(`refused: ${r.refusal}${await newestReceiptReason(join(gateway.ready.receipts, BENCH_PARTNER))}`);
      return r;
    },
    gatewayUsage: () => gateway.usage(),
    async delivered() {
      let bytes = 0;
      let files = 0;
      for (const recipient of await readdir(gateway.ready.outbox)) {
        const dir = join(gateway.ready.outbox, recipient, BENCH_DATASET);
        for (const name of await readdir(dir).catch(() => [] as string[])) {
          if (!name.endsWith('.ndjson.pgp')) continue;
          bytes += (await stat(join(dir, name))).size;
          files++;
        }
      }
      return { bytes, files };
    },
    gpgSeal: (bytes) => gpg(gatewayHome, ['-z', '0', '--local-user', gwFpr, '--recipient', gwFpr, '--sign', '--encrypt', '--output', '/dev/null'], bytes),
    async close() {
      await gateway.close();
      for (const h of [partnerHome, gatewayHome]) {
        await new Promise((r) => spawn('gpgconf', ['--homedir', h, '--kill', 'all'], { stdio: 'ignore' }).once('close', r).once('error', r));
      }
    },
  };
}
