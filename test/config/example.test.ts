import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCommunes } from '../../gateway/config/communes.js';
import { datasetsReceivable, datasetsSendable, receivingGrants } from '../../gateway/config/conventions.js';
import { DEFAULT_LIMITS } from '../../gateway/config/defaults.js';
import { loadConfig, loadConfigReport } from '../../gateway/config/load.js';
import { EXAMPLE, ROOT } from './fixtures.js';

const NOW = new Date('2026-11-28T12:00:00Z');
const ALL5 = ['faits-4001', 'incidents-transport', 'incivilites-bailleur', 'interventions-sdis', 'main-courante-pm'];

describe('the Grand Nancy example deployment', () => {
  it('loads in demo mode with no warning', async () => {
    const { config, warnings } = await loadConfigReport(EXAMPLE, { demo: true, now: NOW });
    expect(warnings).toEqual([]);
    expect([...config.datasets.keys()].sort()).toEqual(ALL5);
    expect([...config.partners.keys()]).toEqual(['police-nationale', 'police-municipale-ludres', 'bailleur-social', 'sdis54', 'transport']);
    expect(config.recipients.size).toBe(21);
    expect(config.settings.demo).toBe(true);
    expect(config.settings.dataDir).toBe(join(ROOT, 'var'));
    expect(config.settings.sftp).toEqual({ host: '127.0.0.1', port: 2222 });
    expect(config.settings.admin).toEqual({ host: '127.0.0.1', port: 8443 });
    expect(config.settings.limits).toEqual(DEFAULT_LIMITS);
    expect(config.settings.audit).toEqual({ origin: 'passerelle.grand-nancy.example/audit', retentionDays: 365, checkpointIntervalMs: 60000 });
    expect(config.settings.keys.checkpointKey).toBe('../../keys-example/gateway/checkpoint.key');
  });

  it('has the datasets of datasets.md', async () => {
    const config = await loadConfig(EXAMPLE, { demo: true });
    expect(config.datasets.get('faits-4001')?.format).toEqual({ kind: 'csv', delimiter: ';', encoding: 'utf-8', maxLineBytes: 65536 });
    expect(config.datasets.get('faits-4001')?.coordinates).toEqual({ crs: 'EPSG:2154', xField: 'x', yField: 'y' });
    expect(config.datasets.get('main-courante-pm')?.format).toEqual({ kind: 'ndjson', maxLineBytes: 65536 });
    expect(config.datasets.get('incidents-transport')?.format).toMatchObject({ kind: 'csv', delimiter: ',' });
    const sdis = config.datasets.get('interventions-sdis');
    expect(sdis?.format).toEqual({ kind: 'json', recordsPath: 'interventions', envelopeSchema: 'datasets/interventions-sdis.envelope.schema.json' });
    expect(sdis?.inseeOptional).toBe(true);
    expect(sdis?.coordinates).toEqual({ crs: 'EPSG:4326', xField: 'lon', yField: 'lat' });
    expect(config.datasets.get('faits-4001')?.inseeOptional).toBe(false);
  });

  it('has one recipient per commune, id = slug of its name, territory = its INSEE code', async () => {
    const config = await loadConfig(EXAMPLE, { demo: true });
    const communes = await loadCommunes();
    for (const c of communes.communes) expect(config.recipients.get(c.slug)?.territory).toEqual([c.insee]);
    for (const id of ['ludres', 'nancy', 'vandoeuvre-les-nancy', 'laxou', 'saint-max', 'essey-les-nancy', 'fleville-devant-nancy']) {
      expect(config.recipients.has(id)).toBe(true);
    }
    expect([...(config.recipients.get('observatoire')?.territory ?? [])].sort()).toEqual(communes.communes.map((c) => c.insee).sort());
  });

  it('grants what product.md says', async () => {
    const config = await loadConfig(EXAMPLE, { demo: true });
    expect(datasetsReceivable(config, 'laxou', NOW)).toEqual(['interventions-sdis', 'main-courante-pm']);
    expect(datasetsReceivable(config, 'observatoire', NOW)).toEqual(ALL5);
    for (const id of config.recipients.keys()) if (id !== 'laxou') expect(datasetsReceivable(config, id, NOW), id).toEqual(ALL5);
    expect(datasetsSendable(config, 'police-nationale', NOW)).toEqual(['faits-4001']);
    expect(datasetsSendable(config, 'police-municipale-ludres', NOW)).toEqual(['main-courante-pm']);
    expect(datasetsSendable(config, 'sdis54', NOW)).toEqual(['interventions-sdis']);
    expect(config.partners.get('police-municipale-ludres')?.territory).toEqual(['54328']);
    expect(config.partners.get('sdis54')?.territory).toEqual(['54']);
    // SDIS records may go to all 20 communes and the observatory; faits-4001 to all but Laxou
    expect(receivingGrants(config, 'sdis54', 'interventions-sdis', NOW)).toHaveLength(21);
    const pn = receivingGrants(config, 'police-nationale', 'faits-4001', NOW).map((g) => g.recipientId);
    expect(pn).toHaveLength(20);
    expect(pn).not.toContain('laxou');
    expect(pn).toContain('ludres');
    const main = config.conventions.find((c) => c.legalReference.includes('Métropole du Grand Nancy'));
    expect(main?.retentionDays).toBe(365);
    expect(config.conventions.some((c) => c.legalReference.includes('Délibération n° 2010/03-12 du conseil municipal de Ludres'))).toBe(true);
  });

  it('pins fingerprints that gpg reads from the key files, police-nationale with a second RSA-3072 key', async () => {
    const config = await loadConfig(EXAMPLE, { demo: true });
    const pn = config.partners.get('police-nationale');
    expect(pn?.pgpKeys).toHaveLength(2);
    for (const ref of pn?.pgpKeys ?? []) {
      const colons = execFileSync('gpg', ['--batch', '--with-colons', '--show-keys', join(config.dir, ref.file)], { encoding: 'utf8' });
      expect(colons).toContain(`fpr:::::::::${ref.fingerprint}:`);
    }
    const rsa = execFileSync('gpg', ['--batch', '--with-colons', '--show-keys', join(config.dir, pn?.pgpKeys[1]?.file ?? '')], { encoding: 'utf8' });
    expect(rsa).toMatch(/^pub:-:3072:1:/m);
  });

  it('resolves SSH key files to key lines', async () => {
    const config = await loadConfig(EXAMPLE, { demo: true });
    const ludres = config.recipients.get('ludres');
    expect(ludres?.sshKeys).toEqual([readFileSync(join(ROOT, 'keys-example', 'ludres', 'ssh_ed25519.pub'), 'utf8').trim()]);
    expect(ludres?.sshKeys[0]).toMatch(/^ssh-ed25519 AAAA/);
  });

  it('is deeply frozen', async () => {
    const config = await loadConfig(EXAMPLE, { demo: true });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.settings.limits)).toBe(true);
    expect(Object.isFrozen(config.conventions[0]?.senders[0]?.datasets)).toBe(true);
    expect(Object.isFrozen(config.partners.get('sdis54')?.territory)).toBe(true);
    expect(() => (config.partners as Map<string, unknown>).delete('sdis54')).toThrow(TypeError);
    expect(() => (config.recipients as Map<string, unknown>).set('x', {})).toThrow(TypeError);
    expect(config.partners.has('sdis54')).toBe(true);
  });

  it('is refused outside demo mode: every demo key is named', async () => {
    await expect(loadConfig(EXAMPLE, { demo: false })).rejects.toMatchObject({
      code: 'DEMO_KEY_REFUSED',
      detail: { path: '/settings/keys/sshHostKey' },
    });
  });
});
