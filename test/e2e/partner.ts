/**
 * The partners' side of an end-to-end test: one GnuPG home holding their secret keys and the
 * gateway's public key, a work directory, and the SFTP target the client helpers need.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestGateway } from '../helpers/gateway.js';
import type { PsftpTarget } from '../sftp/harness.js';

const KEYS = join(import.meta.dirname, '..', '..', 'keys-example');

export interface PartnerSide {
  readonly work: string;
  readonly target: PsftpTarget;
  /** The gateway's OpenPGP fingerprint (to encrypt to). */
  readonly gatewayFpr: string;
  /** gpg in the partners' home, batch mode. */
  gpg(args: string[], input?: Buffer | string): Buffer;
}

export async function partnerSide(tg: TestGateway, partners: readonly string[]): Promise<PartnerSide> {
  const work = join(tg.dir, 'work');
  const gnupg = join(tg.dir, 'gnupg');
  mkdirSync(work);
  mkdirSync(gnupg, { mode: 0o700 });
  const gpg = (args: string[], input?: Buffer | string): Buffer =>
    execFileSync('gpg', ['--homedir', gnupg, '--batch', '--yes', '--quiet', '--trust-model', 'always', ...args], { input, maxBuffer: 1 << 28 });
  gpg(['--import', ...partners.map((p) => join(KEYS, p, 'pgp.sec.asc')), join(KEYS, 'gateway', 'pgp.pub.asc')]);
  const gatewayFpr = /^fpr:+([0-9A-F]{40}):/m.exec(execFileSync('gpg', ['--with-colons', '--show-keys', join(KEYS, 'gateway', 'pgp.pub.asc')]).toString())?.[1] ?? '';
  const keys: Record<string, { privateKey: string }> = {};
  for (const p of partners) keys[p] = { privateKey: await tg.key(p) };
  const target: PsftpTarget = { dir: tg.dir, port: tg.port, keys, knownHosts: tg.knownHosts, fingerprint: tg.fingerprint };
  return { work, target, gatewayFpr, gpg };
}
