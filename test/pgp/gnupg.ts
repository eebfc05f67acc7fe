/**
 * A throw-away GnuPG home for tests: key generation (Ed25519/Cv25519, RSA, with expiry or at a
 * faked time), export, revocation, and running gpg/sq on files. Everything lives in one temp dir.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunResult { status: number; stdout: Buffer; stderr: string }

export function run(cmd: string, args: string[], opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv } = {}): RunResult {
  const r = spawnSync(cmd, args, { input: opts.input, env: opts.env ?? process.env, maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

export interface GenOptions {
  /** 'ed25519' (Ed25519 + Cv25519 subkey), 'rsa3072', 'rsa2048'. */
  algo?: 'ed25519' | 'rsa3072' | 'rsa2048' | 'dsa';
  /** gpg expiry spec ('never', '1d', …). */
  expire?: string;
  /** Seconds since the epoch: make the key at this (faked) time. */
  at?: number;
}

export class GnuPG {
  readonly dir: string;
  readonly home: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'passerelle-pgp-'));
    this.home = join(this.dir, 'gnupg');
    mkdirSync(this.home, { mode: 0o700 });
    this.env = { ...process.env, GNUPGHOME: this.home, LC_ALL: 'C' };
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  gpg(args: string[], input?: Buffer | string): RunResult {
    return run('gpg', ['--batch', '--yes', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', '--trust-model', 'always', ...args], { input, env: this.env });
  }

  /** Runs gpg and throws with its stderr if it fails. */
  gpgOk(args: string[], input?: Buffer | string): Buffer {
    const r = this.gpg(args, input);
    if (r.status !== 0) throw new Error(`gpg ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  }

  /** Generates a key; returns its primary fingerprint. */
  genKey(email: string, opts: GenOptions = {}): string {
    const algo = opts.algo ?? 'ed25519';
    const faked = opts.at === undefined ? [] : ['--faked-system-time', `${opts.at}!`];
    const expire = opts.expire ?? 'never';
    const uid = `${email.split('@')[0]} <${email}>`;
    if (algo === 'ed25519') {
      this.gpgOk([...faked, '--quick-gen-key', uid, 'ed25519', 'sign', expire]);
    } else {
      this.gpgOk([...faked, '--quick-gen-key', uid, algo === 'dsa' ? 'dsa2048' : algo, 'sign', expire]);
    }
    const fpr = this.fingerprint(email);
    const sub = algo === 'ed25519' ? 'cv25519' : algo === 'dsa' ? 'elg2048' : algo;
    this.gpgOk([...faked, '--quick-add-key', fpr, sub, 'encr', expire]);
    return fpr;
  }

  fingerprint(email: string): string {
    const out = this.gpgOk(['--with-colons', '--list-keys', `<${email}>`]).toString();
    const line = out.split('\n').find((l) => l.startsWith('fpr:'));
    if (line === undefined) throw new Error(`no key for ${email}`);
    return line.split(':')[9] as string;
  }

  exportPublic(who: string): string {
    return this.gpgOk(['--armor', '--export', who]).toString();
  }

  exportSecret(who: string): string {
    return this.gpgOk(['--armor', '--export-secret-keys', who]).toString();
  }

  /** Imports the revocation certificate gpg made at key generation: the key becomes revoked. */
  revoke(fpr: string): void {
    const dir = join(this.home, 'openpgp-revocs.d');
    const file = readdirSync(dir).find((f) => f.startsWith(fpr));
    if (file === undefined) throw new Error(`no revocation certificate for ${fpr}`);
    // gpg stores it with a ':' in front of the armor line so it cannot be imported by accident.
    const cert = readFileSync(join(dir, file), 'utf8').replace(/^:-----BEGIN/m, '-----BEGIN');
    this.gpgOk(['--import'], cert);
  }

  write(name: string, data: Buffer | string): string {
    const p = this.path(name);
    writeFileSync(p, data);
    return p;
  }

  read(name: string): Buffer {
    return readFileSync(this.path(name));
  }

  cleanup(): void {
    // gpg started an agent for this home: stop it rather than leave it to notice the rm.
    run('gpgconf', ['--kill', 'all'], { env: this.env });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
