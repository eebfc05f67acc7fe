import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/config/load.js';
import { MAX_KEY_FILE_BYTES } from '../../gateway/config/keys.js';
import { formatSignerKey, generateSignerKey } from '../../gateway/audit/notekey.js';
import type { ConfigProblem } from '../../gateway/config/problems.js';
import { realDeployment, rejection, ROOT, type RealDeployment } from './fixtures.js';

const DEMO = join(ROOT, 'keys-example');

describe('private keys and demo keys', () => {
  let t: RealDeployment;
  let original: Record<string, unknown>;
  beforeAll(() => {
    t = realDeployment();
    original = Object.fromEntries(['passerelle.json', 'partners.json', 'recipients.json'].map((f) => [f, t.read(f)]));
  });
  afterAll(() => t.cleanup());
  beforeEach(() => {
    for (const [f, doc] of Object.entries(original)) t.write(f, doc);
    for (const f of [t.gateway.sshPriv, t.gateway.pgpSec]) chmodSync(f, 0o600);
  });

  it('a real deployment with fresh keys, mode 0600, loads outside demo mode', async () => {
    const config = await loadConfig(t.main, { demo: false });
    expect(config.settings.demo).toBe(false);
    expect(config.partners.get('police')?.pgpKeys[0]?.fingerprint).toBe(t.partner.fingerprint);
    expect(config.recipients.get('ludres')?.sshKeys[0]).toMatch(/^ssh-ed25519 \S+ ludres@test\.invalid$/);
  });

  it('refuses a host key readable by others (0644) outside demo mode: KEY_PERMISSIONS', async () => {
    chmodSync(t.gateway.sshPriv, 0o644);
    const err = await rejection(loadConfig(t.main, { demo: false }));
    expect(err.code).toBe('KEY_PERMISSIONS');
    expect(err.detail).toMatchObject({ file: t.main, path: '/settings/keys/sshHostKey' });
    expect(err.message).toMatch(/mode 0644, 0600 exigé/);
  });

  it('refuses a group-readable OpenPGP secret key (0640), accepts 0400', async () => {
    chmodSync(t.gateway.pgpSec, 0o640);
    const err = await rejection(loadConfig(t.main, { demo: false }));
    expect(err.code).toBe('KEY_PERMISSIONS');
    expect(err.detail).toMatchObject({ path: '/settings/keys/pgpSecretKey' });
    chmodSync(t.gateway.pgpSec, 0o400);
    await expect(loadConfig(t.main, { demo: false })).resolves.toBeDefined();
  });

  it('refuses a checkpoint key readable by others, or that is no key, when it exists', async () => {
    t.edit('passerelle.json', (d) => (d.settings.keys.checkpointKey = 'keys/gateway/checkpoint.key'));
    await expect(loadConfig(t.main, { demo: false })).resolves.toBeDefined(); // not created yet: the audit module makes it
    const file = join(t.dir, 'keys', 'gateway', 'checkpoint.key');
    writeFileSync(file, `# a comment\n${formatSignerKey(generateSignerKey('passerelle.test/audit'))}\n`, { mode: 0o644 });
    chmodSync(file, 0o644);
    await expect(loadConfig(t.main, { demo: false })).rejects.toMatchObject({ code: 'KEY_PERMISSIONS', detail: { path: '/settings/keys/checkpointKey' } });
    chmodSync(file, 0o600);
    await expect(loadConfig(t.main, { demo: false })).resolves.toBeDefined();
    writeFileSync(file, 'not a real key\n');
    await expect(loadConfig(t.main, { demo: false })).rejects.toMatchObject({ code: 'CONFIG_UNREADABLE', detail: { path: '/settings/keys/checkpointKey' } });
  });

  it('refuses an admin TLS key readable by others, or a key or certificate that does not parse, when they exist', async () => {
    t.edit('passerelle.json', (d) => (d.settings.admin = { tlsCert: 'tls/cert.pem', tlsKey: 'tls/key.pem' }));
    await expect(loadConfig(t.main, { demo: false })).resolves.toBeDefined(); // generated at first start
    mkdirSync(join(t.dir, 'tls'));
    const key = join(t.dir, 'tls', 'key.pem');
    writeFileSync(key, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    chmodSync(key, 0o604);
    await expect(loadConfig(t.main, { demo: false })).rejects.toMatchObject({ code: 'KEY_PERMISSIONS', detail: { path: '/settings/admin/tlsKey' } });
    chmodSync(key, 0o600);
    await expect(loadConfig(t.main, { demo: false })).resolves.toBeDefined();
    writeFileSync(join(t.dir, 'tls', 'cert.pem'), 'not a certificate\n');
    await expect(loadConfig(t.main, { demo: false })).rejects.toMatchObject({ code: 'CONFIG_UNREADABLE', detail: { path: '/settings/admin/tlsCert' } });
    writeFileSync(key, 'not a real key\n');
    await expect(loadConfig(t.main, { demo: false })).rejects.toMatchObject({ code: 'CONFIG_UNREADABLE', detail: { path: '/settings/admin/tlsKey' } });
  });

  it('refuses a key file that is a device or too large to be a key, before reading it', async () => {
    t.edit('passerelle.json', (d) => (d.settings.keys.checkpointKey = '/dev/zero'));
    await expect(loadConfig(t.main, { demo: false })).rejects.toMatchObject({ code: 'CONFIG_UNREADABLE', detail: { problem: expect.stringMatching(/pas un fichier ordinaire : \/dev\/zero/) } });
    const big = join(t.dir, 'big.pub.asc');
    writeFileSync(big, Buffer.alloc(MAX_KEY_FILE_BYTES + 1, 0x41));
    t.edit('passerelle.json', (d) => {
      delete d.settings.keys.checkpointKey;
      d.settings.keys.pgpPublicKey = 'big.pub.asc';
    });
    await expect(loadConfig(t.main, { demo: false })).rejects.toMatchObject({ detail: { path: '/settings/keys/pgpPublicKey', problem: expect.stringMatching(/fichier trop grand pour une clé/) } });
  });

  it('does not enforce permissions in demo mode', async () => {
    chmodSync(t.gateway.sshPriv, 0o644);
    chmodSync(t.gateway.pgpSec, 0o644);
    await expect(loadConfig(t.main, { demo: true })).resolves.toBeDefined();
  });

  it('refuses a gateway key from keys-example/ outside demo mode (DEMO-ONLY marker), accepts it in demo mode', async () => {
    t.edit('passerelle.json', (d) => (d.settings.keys.sshHostKey = join(DEMO, 'gateway', 'ssh_host_ed25519')));
    const err = await rejection(loadConfig(t.main, { demo: false }));
    expect(err.code).toBe('DEMO_KEY_REFUSED');
    expect(err.detail).toMatchObject({ path: '/settings/keys/sshHostKey' });
    await expect(loadConfig(t.main, { demo: true })).resolves.toBeDefined();
  });

  it('refuses demo keys copied out of keys-example/ by their fingerprints (PGP and SSH)', async () => {
    copyFileSync(join(DEMO, 'sdis54', 'pgp.pub.asc'), join(t.dir, 'copied.asc'));
    copyFileSync(join(DEMO, 'sdis54', 'ssh_ed25519.pub'), join(t.dir, 'copied.pub'));
    const fpr = execFileSync('gpg', ['--batch', '--with-colons', '--show-keys', join(t.dir, 'copied.asc')], { encoding: 'utf8' })
      .split('\n')
      .find((l) => l.startsWith('fpr:'))
      ?.split(':')[9];
    t.edit('partners.json', (d) => {
      d.partners[0].pgpKeys = [{ file: 'copied.asc', fingerprint: fpr }];
      d.partners[0].sshKeys = [{ file: 'copied.pub' }];
    });
    const err = await rejection(loadConfig(t.main, { demo: false }));
    expect(err.code).toBe('DEMO_KEY_REFUSED');
    const problems = (err.detail?.['problems'] ?? []) as ConfigProblem[];
    expect(problems.map((p) => `${p.code} ${p.path}`).sort()).toEqual(['DEMO_KEY_REFUSED /partners/0/pgpKeys/0/file', 'DEMO_KEY_REFUSED /partners/0/sshKeys/0/file']);
    expect(problems[0]?.problem).toMatch(/DEMO-FINGERPRINTS/);
  });

  it('refuses a passphrase-protected gateway secret key', async () => {
    const env = { ...process.env, GNUPGHOME: t.gnupgHome };
    const uid = 'protected <protected@test.invalid>';
    execFileSync('gpg', ['--batch', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', 'secret', '--quick-gen-key', uid, 'ed25519', 'sign', 'never'], { env });
    const sec = execFileSync('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', 'secret', '--armor', '--export-secret-keys', '--', uid], { env });
    const pub = execFileSync('gpg', ['--batch', '--armor', '--export', '--', uid], { env });
    execFileSync('gpgconf', ['--kill', 'gpg-agent'], { env });
    writeFileSync(join(t.dir, 'protected.sec.asc'), sec, { mode: 0o600 });
    writeFileSync(join(t.dir, 'protected.pub.asc'), pub);
    t.edit('passerelle.json', (d) => {
      d.settings.keys.pgpSecretKey = 'protected.sec.asc';
      d.settings.keys.pgpPublicKey = 'protected.pub.asc';
    });
    const err = await rejection(loadConfig(t.main, { demo: false }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.detail).toMatchObject({ path: '/settings/keys/pgpSecretKey' });
    expect(err.message).toMatch(/protégée par une phrase de passe/);
  });
});
