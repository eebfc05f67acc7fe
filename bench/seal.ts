/**
 * Delivery sealing throughput (sign + encrypt for one recipient): sealNative (node:crypto) against
 * sealForRecipient (openpgp.js) on the same NDJSON, with GnuPG's `--sign --encrypt` and `--decrypt`
 * of the same size as references (the intake target is stated against `gpg --decrypt`); then a
 * fan-out like the intake's (6 recipients at once, half the data each) on the calling thread and
 * in a pool of 2 worker threads. CPU figures (process.cpuUsage) hold up better on a busy machine. Keys:
 * v4 Ed25519 gateway, Ed25519 + Cv25519 recipient. Interleaved runs, medians; MB = 10^6 bytes of
 * plaintext.
 *
 * Run alone: `npx tsx bench/seal.ts`. Environment: BENCH_SEAL_MIB (default 100), BENCH_RUNS
 * (default 5), BENCH_SEAL_OPENPGP_RUNS (default 2: openpgp.js is slow).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import * as openpgp from 'openpgp';
import { sealNative } from '../gateway/pgp/seal-native.js';
import { createSealPool } from '../gateway/pgp/native-seal/pool.js';
import { sealForRecipient, type SealOptions } from '../gateway/pgp/seal.js';
import { interleave, mbPerSec, median, round } from './stats.js';

const gpgBase = ['--batch', '--yes', '--no-tty', '--trust-model', 'always'];

function gpgSync(home: string, args: string[], input?: string): void {
  const r = spawnSync('gpg', [...gpgBase, ...args], { env: { ...process.env, GNUPGHOME: home }, input });
  if (r.status !== 0) throw new Error(`gpg ${args.join(' ')}: ${r.stderr.toString()}`);
}

/** Milliseconds that one gpg run takes (output to /dev/null). */
function timeGpg(home: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn('gpg', [...gpgBase, '--output', '/dev/null', ...args], { env: { ...process.env, GNUPGHOME: home }, stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`gpg ${args.join(' ')} exited ${code}`))));
  });
}

async function* chunks(data: Buffer, size = 1 << 16): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < data.length; off += size) yield data.subarray(off, off + size);
}

async function timeSeal(seal: () => Readable): Promise<number> {
  const t0 = performance.now();
  await pipeline(seal(), new Writable({ write: (_c, _e, cb) => cb() }));
  return performance.now() - t0;
}

export async function benchSeal(): Promise<Record<string, number>> {
  const sizeMiB = Number(process.env['BENCH_SEAL_MIB'] ?? 100);
  const runs = Number(process.env['BENCH_RUNS'] ?? 5);
  const openpgpRuns = Number(process.env['BENCH_SEAL_OPENPGP_RUNS'] ?? 2);
  const dir = mkdtempSync(join(tmpdir(), 'passerelle-bench-seal-'));
  try {
    const home = join(dir, 'gnupg');
    mkdirSync(home, { mode: 0o700 });
    const make = (name: string) => openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name, email: `${name}@bench.test` }], format: 'object', config: { v6Keys: false } });
    const [gateway, recipient] = await Promise.all([make('gateway'), make('recipient')]);
    for (const k of [gateway, recipient]) gpgSync(home, ['--import'], k.privateKey.armor());
    const opts: SealOptions = { recipientKey: recipient.publicKey, signingKey: gateway.privateKey };

    const block = Buffer.from(Array.from({ length: 8192 }, () => `{"id":"${randomBytes(8).toString('hex')}","commune":"54395","v":"${randomBytes(16).toString('base64')}"}\n`).join(''));
    const data = Buffer.alloc(sizeMiB * 1024 * 1024);
    for (let off = 0; off < data.length; off += block.length) block.copy(data, off);
    const plain = join(dir, 'records.ndjson');
    writeFileSync(plain, data);
    const sealed = join(dir, 'records.ndjson.pgp');
    await pipeline(sealNative(chunks(data), opts), createWriteStream(sealed));

    const native = await interleave(runs,
      () => timeSeal(() => sealNative(chunks(data), opts)),
      () => timeGpg(home, ['--local-user', '<gateway@bench.test>', '--recipient', '<recipient@bench.test>', '--compress-algo', 'none', '--sign', '--encrypt', plain]));
    const decrypt = await interleave(runs, () => timeGpg(home, ['--decrypt', sealed]));
    let cpu = 0;
    const cpuTimed = async (): Promise<number> => {
      const c0 = process.cpuUsage();
      const ms = await timeSeal(() => sealNative(chunks(data), opts));
      const c = process.cpuUsage(c0);
      cpu += (c.user + c.system) / 1000;
      return ms;
    };
    await interleave(runs, cpuTimed);
    const half = data.subarray(0, data.length >> 1);
    const pool = createSealPool(2);
    const fanOut = async (seal: typeof sealNative): Promise<number> => {
      const t0 = performance.now();
      await Promise.all(Array.from({ length: 6 }, () => pipeline(seal(chunks(half), opts), new Writable({ write: (_c, _e, cb) => cb() }))));
      return performance.now() - t0;
    };
    const six = await interleave(runs, () => fanOut(sealNative), () => fanOut((p, o) => pool.seal(p, o))).finally(() => pool.close());
    const js = await interleave(openpgpRuns, () => timeSeal(() => sealForRecipient(chunks(data), opts)));
    const mbps = (ms: number[]) => mbPerSec(data.length, median(ms));
    const nativeMBps = mbps(native.a);
    return {
      size_MiB: sizeMiB,
      sealNative_MBps: round(nativeMBps, 1),
      openpgpjs_seal_MBps: round(mbps(js.a), 1),
      sealNative_cpu_MBps: round(mbPerSec(data.length * runs, cpu), 1),
      six_recipients_in_thread_MBps: round(mbPerSec(6 * half.length, median(six.a)), 1),
      six_recipients_pool2_MBps: round(mbPerSec(6 * half.length, median(six.b)), 1),
      gpg_sign_encrypt_MBps: round(mbps(native.b), 1),
      gpg_decrypt_MBps: round(mbps(decrypt.a), 1),
      native_vs_openpgpjs: round(nativeMBps / mbps(js.a), 2),
      native_vs_gpg_sign_encrypt: round(nativeMBps / mbps(native.b), 3),
      native_vs_gpg_decrypt: round(nativeMBps / mbps(decrypt.a), 3),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await benchSeal();
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}
