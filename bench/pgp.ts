/**
 * OpenPGP decrypt+verify throughput: openMessage against `gpg --decrypt` of the same file
 * (performance.md "intake" reference): a signed and encrypted export made by GnuPG (Ed25519 /
 * Cv25519, AES-256, no compression), decrypted to nowhere. Interleaved A B A B, medians.
 *
 * Run alone: `npx tsx bench/pgp.ts`. Environment: BENCH_PGP_MIB (default 256), BENCH_RUNS (default 5).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, openSync, writeSync, closeSync, rmSync, createReadStream, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openMessage, DEFAULT_MAX_AGE_MS } from '../gateway/pgp/open.js';
import { readPrivateKey, readPublicKeys } from '../gateway/pgp/keys.js';
import { interleave, mbPerSec, median, round } from './stats.js';

function gpg(home: string, args: string[]): Buffer {
  const r = spawnSync('gpg', ['--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', '--trust-model', 'always', ...args], {
    env: { ...process.env, GNUPGHOME: home }, maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`gpg ${args.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout;
}

function timeGpgDecrypt(home: string, file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn('gpg', ['--batch', '--yes', '--trust-model', 'always', '--output', '/dev/null', '--decrypt', file], {
      env: { ...process.env, GNUPGHOME: home }, stdio: 'ignore',
    });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`gpg --decrypt exited ${code}`))));
  });
}

export async function benchPgp(): Promise<Record<string, number>> {
  const sizeMiB = Number(process.env['BENCH_PGP_MIB'] ?? 256);
  const runs = Number(process.env['BENCH_RUNS'] ?? 5);
  const dir = mkdtempSync(join(tmpdir(), 'passerelle-bench-pgp-'));
  try {
    const home = join(dir, 'gnupg');
    mkdirSync(home, { mode: 0o700 });
    for (const uid of ['gateway <gateway@bench.test>', 'partner <partner@bench.test>']) {
      gpg(home, ['--quick-gen-key', uid, 'ed25519', 'sign', 'never']);
      gpg(home, ['--quick-add-key', gpg(home, ['--with-colons', '--list-keys', uid]).toString().split('\n').find((l) => l.startsWith('fpr:'))?.split(':')[9] ?? '', 'cv25519', 'encr', 'never']);
    }
    const plain = join(dir, 'export.ndjson');
    const block = Buffer.from(Array.from({ length: 8192 }, () => `{"id":"${randomBytes(8).toString('hex')}","commune":"54395","v":"${randomBytes(16).toString('base64')}"}\n`).join(''));
    const fd = openSync(plain, 'w');
    for (let written = 0; written < sizeMiB * 1024 * 1024; written += block.length) writeSync(fd, block);
    closeSync(fd);
    const file = join(dir, 'export.ndjson.pgp');
    gpg(home, ['--local-user', '<partner@bench.test>', '--recipient', '<gateway@bench.test>', '--compress-algo', 'none', '--sign', '--encrypt', '--output', file, plain]);
    rmSync(plain);
    const plainBytes = statSync(file).size;
    const decryptionKey = await readPrivateKey(gpg(home, ['--armor', '--export-secret-keys', '<gateway@bench.test>']).toString());
    const senderKeys = await readPublicKeys(gpg(home, ['--armor', '--export', '<partner@bench.test>']).toString());

    const ours = async (): Promise<number> => {
      const t0 = performance.now();
      const opened = openMessage(createReadStream(file, { highWaterMark: 1 << 20 }), {
        decryptionKey, senderKeys, now: new Date(), maxAgeMs: DEFAULT_MAX_AGE_MS, maxDecompressedBytes: 4 * 1024 * 1024 * 1024,
      });
      for await (const chunk of opened.plaintext) void chunk;
      await opened.result;
      return performance.now() - t0;
    };
    const { a, b } = await interleave(runs, () => timeGpgDecrypt(home, file), ours);
    const gpgMBps = mbPerSec(plainBytes, median(a));
    const oursMBps = mbPerSec(plainBytes, median(b));
    return {
      size_MiB: sizeMiB,
      gpg_decrypt_MBps: round(gpgMBps, 1),
      openMessage_MBps: round(oursMBps, 1),
      ratio_vs_gpg: round(oursMBps / gpgMBps, 3),
    };
  } finally {
    spawnSync('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: join(dir, 'gnupg') } });
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await benchPgp();
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}
