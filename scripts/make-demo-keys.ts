/**
 * Generates the DEMO keys of the Grand Nancy deployment into keys-example/ and re-pins the
 * OpenPGP fingerprints in config/grand-nancy/. Re-runnable: keys that exist are kept (the
 * committed keys make the demo deterministic); `--force` regenerates everything.
 *
 *   npx tsx scripts/make-demo-keys.ts [--force]
 *
 * Needs gpg 2.2+ and ssh-keygen. OpenPGP keys are v4 Ed25519 (sign) + Cv25519 (encrypt), made in
 * a throwaway GNUPGHOME, no passphrase. police-nationale also gets an RSA-3072 key so intake
 * tests can use GnuPG RSA keys. The checkpoint key (keys-example/gateway/checkpoint.*) belongs
 * to the audit module and is not made here.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCommunes } from '../gateway/config/communes.js';
import { projectRoot } from '../gateway/config/project.js';

interface DemoParty {
  id: string;
  name: string;
}

const PARTNERS: DemoParty[] = [
  { id: 'police-nationale', name: 'Police nationale - DIPN 54' },
  { id: 'police-municipale-ludres', name: 'Police municipale de Ludres' },
  { id: 'bailleur-social', name: 'Bailleur social du Grand Nancy' },
  { id: 'sdis54', name: 'SDIS de Meurthe-et-Moselle' },
  { id: 'transport', name: 'Reseau de transport du Grand Nancy' },
];

const root = projectRoot();
const keysDir = join(root, 'keys-example');
const force = process.argv.includes('--force');

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): string {
  return execFileSync(cmd, args, { encoding: 'utf8', env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function gpgFingerprints(colons: string): string[] {
  return colons.split('\n').filter((l) => l.startsWith('fpr:')).map((l) => l.split(':')[9] ?? '');
}

function makeSsh(file: string, comment: string): void {
  if (!force && existsSync(file) && existsSync(`${file}.pub`)) return;
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  chmodSync(file, 0o600);
}

function makePgp(home: string, dir: string, base: string, uid: string, algo: 'ed25519' | 'rsa3072'): void {
  const sec = join(dir, `${base}.sec.asc`);
  const pub = join(dir, `${base}.pub.asc`);
  if (!force && existsSync(sec) && existsSync(pub)) return;
  const env = { ...process.env, GNUPGHOME: home };
  const gpg = ['--batch', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', ''];
  run('gpg', [...gpg, '--quick-gen-key', uid, algo, 'sign', 'never'], env);
  const fpr = gpgFingerprints(run('gpg', ['--batch', '--with-colons', '--list-keys', '--', uid], env))[0];
  if (!fpr) throw new Error(`no key made for ${uid}`);
  run('gpg', [...gpg, '--quick-add-key', fpr, algo === 'ed25519' ? 'cv25519' : 'rsa3072', 'encr', 'never'], env);
  writeFileSync(pub, run('gpg', ['--batch', '--armor', '--export', fpr], env));
  writeFileSync(sec, run('gpg', [...gpg, '--armor', '--export-secret-keys', fpr], env), { mode: 0o600 });
  chmodSync(sec, 0o600);
}

function pgpFingerprint(file: string): string {
  const fpr = gpgFingerprints(run('gpg', ['--batch', '--with-colons', '--show-keys', file]))[0];
  if (!fpr) throw new Error(`no fingerprint in ${file}`);
  return fpr.toUpperCase();
}

function sshFingerprint(pubFile: string): string {
  return run('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile]).split(' ')[1] ?? '';
}

/** Rewrites every `{ file, fingerprint }` pin of a config file to the key file's fingerprint. */
function repin(configFile: string): void {
  if (!existsSync(configFile)) return;
  const dir = join(configFile, '..');
  const doc: unknown = JSON.parse(readFileSync(configFile, 'utf8'));
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o['file'] === 'string' && typeof o['fingerprint'] === 'string' && o['file'].endsWith('.asc')) {
        o['fingerprint'] = pgpFingerprint(join(dir, o['file']));
      }
      Object.values(o).forEach(walk);
    }
  };
  walk(doc);
  writeFileSync(configFile, `${JSON.stringify(doc, null, 2)}\n`);
}

async function main(): Promise<void> {
  const communes = await loadCommunes();
  const parties: DemoParty[] = [
    ...PARTNERS,
    { id: 'observatoire', name: 'Observatoire de la securite - Metropole du Grand Nancy' },
    ...communes.communes.map((c) => ({ id: c.slug, name: `Commune de ${c.name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/œ/g, 'oe')}` })),
  ];
  const home = mkdtempSync(join(tmpdir(), 'passerelle-demo-gnupg-'));
  chmodSync(home, 0o700);
  const lines = ['# Fingerprints of the DEMO keys in keys-example/ (refused outside demo mode).', '# kind party fingerprint'];
  try {
    const gw = join(keysDir, 'gateway');
    mkdirSync(gw, { recursive: true });
    makeSsh(join(gw, 'ssh_host_ed25519'), 'passerelle-demo-host');
    makePgp(home, gw, 'pgp', 'Passerelle Grand Nancy (DEMO) <passerelle@demo.passerelle.invalid>', 'ed25519');
    lines.push(`ssh gateway ${sshFingerprint(join(gw, 'ssh_host_ed25519.pub'))}`, `pgp gateway ${pgpFingerprint(join(gw, 'pgp.pub.asc'))}`);
    for (const p of parties) {
      const dir = join(keysDir, p.id);
      mkdirSync(dir, { recursive: true });
      const email = `${p.id}@demo.passerelle.invalid`;
      makeSsh(join(dir, 'ssh_ed25519'), email);
      makePgp(home, dir, 'pgp', `${p.name} (DEMO) <${email}>`, 'ed25519');
      lines.push(`ssh ${p.id} ${sshFingerprint(join(dir, 'ssh_ed25519.pub'))}`, `pgp ${p.id} ${pgpFingerprint(join(dir, 'pgp.pub.asc'))}`);
      if (p.id === 'police-nationale') {
        makePgp(home, dir, 'pgp-rsa3072', `${p.name} RSA (DEMO) <${email}>`, 'rsa3072');
        lines.push(`pgp ${p.id} ${pgpFingerprint(join(dir, 'pgp-rsa3072.pub.asc'))}`);
      }
    }
  } finally {
    try {
      run('gpgconf', ['--kill', 'gpg-agent'], { ...process.env, GNUPGHOME: home });
    } catch {
      // no agent was started
    }
    rmSync(home, { recursive: true, force: true });
  }
  writeFileSync(join(keysDir, 'DEMO-FINGERPRINTS'), `${lines.join('\n')}\n`);
  writeFileSync(
    join(keysDir, 'DEMO-ONLY'),
    'DEMO ONLY - these keys are public. Passerelle refuses any key under this directory outside demo mode.\n',
  );
  for (const f of ['partners.json', 'recipients.json']) repin(join(root, 'config', 'grand-nancy', f));
  process.stdout.write(`demo keys ready in ${keysDir} (${parties.length + 1} parties)\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`make-demo-keys: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
