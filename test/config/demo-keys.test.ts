import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCommunes } from '../../gateway/config/communes.js';
import { loadConfig } from '../../gateway/config/load.js';
import { EXAMPLE, ROOT } from './fixtures.js';

const KEYS = join(ROOT, 'keys-example');
const PARTNERS = ['police-nationale', 'police-municipale-ludres', 'bailleur-social', 'sdis54', 'transport'];

describe('keys-example/', () => {
  it('has SSH and OpenPGP keys for every demo party and the gateway, marked DEMO-ONLY', async () => {
    const communes = await loadCommunes();
    const parties = [...PARTNERS, 'observatoire', ...communes.communes.map((c) => c.slug)];
    expect(parties).toHaveLength(26);
    for (const p of parties) {
      for (const f of ['ssh_ed25519', 'ssh_ed25519.pub', 'pgp.sec.asc', 'pgp.pub.asc']) expect(existsSync(join(KEYS, p, f)), `${p}/${f}`).toBe(true);
    }
    for (const f of ['ssh_host_ed25519', 'ssh_host_ed25519.pub', 'pgp.sec.asc', 'pgp.pub.asc']) expect(existsSync(join(KEYS, 'gateway', f)), f).toBe(true);
    expect(statSync(join(KEYS, 'DEMO-ONLY')).isFile()).toBe(true);
    const readme = readFileSync(join(KEYS, 'README.md'), 'utf8');
    expect(readme).toMatch(/DÉMONSTRATION UNIQUEMENT/);
    expect(readme).toMatch(/Never use them in production/);
  });

  it('OpenPGP keys are v4 Ed25519 (sign) + Cv25519 (encrypt) without passphrase, as GnuPG reads them', () => {
    for (const p of ['gateway', 'ludres', 'sdis54']) {
      const colons = execFileSync('gpg', ['--batch', '--with-colons', '--show-keys', join(KEYS, p, 'pgp.sec.asc')], { encoding: 'utf8' });
      expect(colons).toMatch(/^sec:-:255:22:[0-9A-F]{16}:\d+:::-:::scESC?:(?:[^:]*:){4}ed25519:/m);
      expect(colons).toMatch(/^ssb:-:255:18:[0-9A-F]{16}:\d+::::::e:(?:[^:]*:){4}cv25519:/m);
      const packets = execFileSync('gpg', ['--batch', '--list-packets', join(KEYS, p, 'pgp.sec.asc')], { encoding: 'utf8' });
      expect(packets).toMatch(/:secret key packet:\n\s+version 4, algo 22/);
      expect(packets).toMatch(/:secret sub key packet:\n\s+version 4, algo 18/);
      expect(packets).not.toMatch(/version 6|protect|S2K/i); // no passphrase: the secret MPIs are in clear
    }
  });

  it('SSH keys parse with ssh-keygen and have no passphrase', () => {
    const pub = execFileSync('ssh-keygen', ['-y', '-P', '', '-f', join(KEYS, 'ludres', 'ssh_ed25519')], { encoding: 'utf8' });
    expect(readFileSync(join(KEYS, 'ludres', 'ssh_ed25519.pub'), 'utf8')).toContain(pub.trim().split(' ')[1] ?? 'x');
    expect(execFileSync('ssh-keygen', ['-l', '-f', join(KEYS, 'gateway', 'ssh_host_ed25519.pub')], { encoding: 'utf8' })).toMatch(/ED25519/);
  });

  it('DEMO-FINGERPRINTS lists every key the example configuration pins', async () => {
    const list = readFileSync(join(KEYS, 'DEMO-FINGERPRINTS'), 'utf8');
    const config = await loadConfig(EXAMPLE, { demo: true });
    for (const p of config.partners.values()) for (const k of p.pgpKeys) expect(list).toContain(k.fingerprint);
    for (const r of config.recipients.values()) expect(list).toContain(r.pgpKey.fingerprint);
    const gw = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(KEYS, 'gateway', 'ssh_host_ed25519.pub')], { encoding: 'utf8' }).split(' ')[1];
    expect(list).toContain(`ssh gateway ${gw}`);
  });
});
