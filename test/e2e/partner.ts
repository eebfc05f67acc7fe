/** A partner's side of an end-to-end test: its GnuPG home with its key and the gateway's, a work directory, its SFTP target. */
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
  /** gpg in the partner's home, batch mode. */
  gpg(args: string[], input?: Buffer): Buffer;
}

export async function partnerSide(tg: TestGateway, partner: string): Promise<PartnerSide> {
  const work = join(tg.dir, 'work');
  const gnupg = join(tg.dir, 'gnupg');
  mkdirSync(work);
  mkdirSync(gnupg, { mode: 0o700 });
  const gpg = (args: string[], input?: Buffer): Buffer =>
    execFileSync('gpg', ['--homedir', gnupg, '--batch', '--yes', '--quiet', '--trust-model', 'always', ...args], { input });
  gpg(['--import', join(KEYS, partner, 'pgp.sec.asc')]);
  gpg(['--import', join(KEYS, 'gateway', 'pgp.pub.asc')]);
  const gatewayFpr = /^fpr:+([0-9A-F]{40}):/m.exec(execFileSync('gpg', ['--with-colons', '--show-keys', join(KEYS, 'gateway', 'pgp.pub.asc')]).toString())?.[1] ?? '';
  const target: PsftpTarget = { dir: tg.dir, port: tg.port, keys: { [partner]: { privateKey: await tg.key(partner) } }, knownHosts: tg.knownHosts, fingerprint: tg.fingerprint };
  return { work, target, gatewayFpr, gpg };
}
