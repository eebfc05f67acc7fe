/**
 * The register and the parties page over the committed Grand Nancy demo configuration: every
 * party's OpenPGP key file is read and matches its pinned fingerprint, and the SSH fingerprints
 * are those ssh-keygen computes from the keys in keys-example/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildParties } from '../../admin-ui/server/parties.js';
import { buildRegister } from '../../admin-ui/server/register.js';
import { loadConfig } from '../../gateway/config/load.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('admin views over the demo configuration', () => {
  it('lists every party with readable, pinned keys and ssh-keygen fingerprints', async () => {
    const config = await loadConfig(join(ROOT, 'config', 'grand-nancy', 'passerelle.json'), { demo: true });
    const parties = await buildParties(config, new Date());
    expect(parties.filter((p) => p.kind === 'partner').map((p) => p.id).sort()).toEqual(['bailleur-social', 'police-municipale-ludres', 'police-nationale', 'sdis54', 'transport']);
    expect(parties.filter((p) => p.kind === 'recipient')).toHaveLength(21);
    for (const p of parties) {
      expect(p.pgp.length, p.id).toBeGreaterThan(0);
      for (const k of p.pgp) expect(['ok', 'expiring'], `${p.id} ${k.file}`).toContain(k.status);
      const pub = join(ROOT, 'keys-example', p.id, 'ssh_ed25519.pub');
      if (!existsSync(pub)) continue;
      const expected = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pub], { encoding: 'utf8' }).split(' ')[1];
      expect(p.ssh.map((s) => s.fingerprint), p.id).toContain(expected);
    }
  });

  it('derives one register row per convention, in force, with senders, recipients and retention', async () => {
    const config = await loadConfig(join(ROOT, 'config', 'grand-nancy', 'passerelle.json'), { demo: true });
    const rows = buildRegister(config, new Date());
    expect(rows.length).toBe(config.conventions.length);
    for (const r of rows) {
      expect(r.legalReference.length, r.conventionId).toBeGreaterThan(0);
      expect(r.senders.length).toBeGreaterThan(0);
      expect(r.recipients.length).toBeGreaterThan(0);
      expect(r.retentionDays).toBeGreaterThan(0);
    }
    const laxou = rows.find((r) => r.recipients.some((g) => g.party === 'laxou'));
    expect(laxou?.recipients.find((g) => g.party === 'laxou')?.datasets.slice().sort()).toEqual(['interventions-sdis', 'main-courante-pm']);
  });
});
