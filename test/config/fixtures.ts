/** Test fixtures: a writable copy of the example deployment, and a small real deployment with fresh keys. */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../gateway/config/project.js';

export const ROOT = projectRoot();
export const EXAMPLE = join(ROOT, 'config', 'grand-nancy', 'passerelle.json');

// JSON edit helper: tests mutate parsed config documents; the shape is checked by the loader.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test documents are free-form JSON
export type Json = any;

export interface TempConfig {
  readonly root: string;
  readonly dir: string;
  readonly main: string;
  read(name: string): Json;
  write(name: string, doc: Json): void;
  edit(name: string, fn: (doc: Json) => void): void;
  cleanup(): void;
}

function tempConfig(root: string, dir: string): TempConfig {
  const path = (name: string): string => join(dir, name);
  const read = (name: string): Json => JSON.parse(readFileSync(path(name), 'utf8')) as Json;
  const write = (name: string, doc: Json): void => writeFileSync(path(name), JSON.stringify(doc, null, 2));
  return {
    root,
    dir,
    main: path('passerelle.json'),
    read,
    write,
    edit(name, fn) {
      const doc = read(name);
      fn(doc);
      write(name, doc);
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** A copy of config/grand-nancy and keys-example (demo keys: load with demo: true). */
export function copyExample(): TempConfig {
  const root = mkdtempSync(join(tmpdir(), 'passerelle-config-'));
  cpSync(join(ROOT, 'config', 'grand-nancy'), join(root, 'config', 'grand-nancy'), { recursive: true });
  cpSync(join(ROOT, 'keys-example'), join(root, 'keys-example'), { recursive: true });
  return tempConfig(root, join(root, 'config', 'grand-nancy'));
}

export interface FreshKeys {
  sshPub: string; // path of ssh_ed25519.pub
  sshPriv: string;
  pgpPub: string;
  pgpSec: string;
  fingerprint: string;
}

/** Real keys made with ssh-keygen and gpg (v4 Ed25519 + Cv25519), in `dir`. */
export function makeKeys(gnupgHome: string, dir: string, id: string): FreshKeys {
  mkdirSync(dir, { recursive: true });
  const env = { ...process.env, GNUPGHOME: gnupgHome };
  const sshPriv = join(dir, 'ssh_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${id}@test.invalid`, '-f', sshPriv]);
  const uid = `${id} <${id}@test.invalid>`;
  const gpg = ['--batch', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', ''];
  execFileSync('gpg', [...gpg, '--quick-gen-key', uid, 'ed25519', 'sign', 'never'], { env });
  const colons = execFileSync('gpg', ['--batch', '--with-colons', '--list-keys', '--', uid], { env, encoding: 'utf8' });
  const fingerprint = (colons.split('\n').find((l) => l.startsWith('fpr:')) ?? '').split(':')[9] ?? '';
  execFileSync('gpg', [...gpg, '--quick-add-key', fingerprint, 'cv25519', 'encr', 'never'], { env });
  const pgpPub = join(dir, 'pgp.pub.asc');
  const pgpSec = join(dir, 'pgp.sec.asc');
  writeFileSync(pgpPub, execFileSync('gpg', ['--batch', '--armor', '--export', fingerprint], { env }));
  writeFileSync(pgpSec, execFileSync('gpg', [...gpg, '--armor', '--export-secret-keys', fingerprint], { env }), { mode: 0o600 });
  return { sshPub: `${sshPriv}.pub`, sshPriv, pgpPub, pgpSec, fingerprint };
}

export interface RealDeployment extends TempConfig {
  readonly gateway: FreshKeys;
  readonly partner: FreshKeys;
  readonly recipient: FreshKeys;
  readonly gnupgHome: string;
}

/** A minimal real (non-demo) deployment: one partner, one commune, fresh keys, private keys 0600. */
export function realDeployment(): RealDeployment {
  const root = mkdtempSync(join(tmpdir(), 'passerelle-real-'));
  const gnupgHome = join(root, 'gnupg');
  mkdirSync(gnupgHome, { mode: 0o700 });
  const keys = join(root, 'etc', 'keys');
  const gateway = makeKeys(gnupgHome, join(keys, 'gateway'), 'gateway');
  const partner = makeKeys(gnupgHome, join(keys, 'police'), 'police');
  const recipient = makeKeys(gnupgHome, join(keys, 'ludres'), 'ludres');
  try {
    execFileSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: gnupgHome } });
  } catch {
    // no agent running
  }
  for (const f of [gateway.sshPriv, gateway.pgpSec]) chmodSync(f, 0o600);
  const dir = join(root, 'etc');
  const t = tempConfig(root, dir);
  const dataset = (id: string): Json => ({ id, title: id, format: { kind: 'ndjson' }, schema: 'datasets/main-courante-pm.schema.json', idField: 'id' });
  t.write('passerelle.json', {
    settings: {
      dataDir: '../var',
      keys: { sshHostKey: 'keys/gateway/ssh_ed25519', pgpSecretKey: 'keys/gateway/pgp.sec.asc', pgpPublicKey: 'keys/gateway/pgp.pub.asc' },
    },
    files: { datasets: 'datasets.json', partners: 'partners.json', recipients: 'recipients.json', conventions: 'conventions.json' },
  });
  t.write('datasets.json', { datasets: [dataset('main-courante-pm')] });
  t.write('partners.json', {
    partners: [{ id: 'police', name: 'Police', territory: ['54328'], sshKeys: [{ file: 'keys/police/ssh_ed25519.pub' }], pgpKeys: [{ file: 'keys/police/pgp.pub.asc', fingerprint: partner.fingerprint }] }],
  });
  t.write('recipients.json', {
    recipients: [{ id: 'ludres', name: 'Ludres', territory: ['54328'], sshKeys: [readFileSync(recipient.sshPub, 'utf8').trim()], pgpKey: { file: 'keys/ludres/pgp.pub.asc', fingerprint: recipient.fingerprint } }],
  });
  t.write('conventions.json', {
    conventions: [
      {
        id: 'c1',
        title: 'Convention de test',
        legalReference: 'Délibération de test',
        signedOn: '2024-01-01',
        validFrom: '2024-01-01',
        validTo: '2028-12-31',
        purpose: 'Tests',
        dataCategories: ['faits'],
        retentionDays: 30,
        senders: [{ party: 'police', datasets: ['main-courante-pm'] }],
        recipients: [{ party: 'ludres', datasets: ['main-courante-pm'] }],
      },
    ],
  });
  return { ...t, gateway, partner, recipient, gnupgHome };
}

/** Runs `fn` expecting a rejection; returns the error. */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; detail?: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string; detail?: Record<string, unknown> };
  }
  throw new Error('expected a rejection, got a result');
}
