import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { datasetsReceivable, datasetsSendable } from '../../gateway/config/conventions.js';
import { loadConfig, loadConfigReport } from '../../gateway/config/load.js';
import type { ConfigProblem } from '../../gateway/config/problems.js';
import { copyExample, rejection, ROOT, type Json, type TempConfig } from './fixtures.js';

interface Case {
  name: string;
  file: string;
  mutate: (doc: Json, t: TempConfig) => void;
  code?: string;
  path: string;
  problem: RegExp;
}

const CASES: Case[] = [
  { name: 'unknown key', file: 'partners.json', mutate: (d) => (d.partners[1].couleur = 'bleu'), path: '/partners/1/couleur', problem: /propriété inconnue « couleur »/ },
  { name: 'unknown key in settings', file: 'passerelle.json', mutate: (d) => (d.settings.limits.maxConections = 3), path: '/settings/limits/maxConections', problem: /propriété inconnue/ },
  { name: 'wrong type', file: 'passerelle.json', mutate: (d) => (d.settings.limits.maxConnections = '1000'), path: '/settings/limits/maxConnections', problem: /type attendu : integer/ },
  { name: 'missing property', file: 'recipients.json', mutate: (d) => delete d.recipients[4].pgpKey, path: '/recipients/4', problem: /propriété obligatoire « pgpKey » absente/ },
  { name: 'bad enum', file: 'conventions.json', mutate: (d) => (d.conventions[0].validation = 'lenient'), path: '/conventions/0/validation', problem: /valeur non autorisée/ },
  { name: 'bad date', file: 'conventions.json', mutate: (d) => (d.conventions[1].validTo = '2028-02-30'), path: '/conventions/1/validTo', problem: /format « date » invalide/ },
  { name: 'upper-case id', file: 'partners.json', mutate: (d) => (d.partners[0].id = 'Police-Nationale'), path: '/partners/0/id', problem: /format invalide/ },
  { name: 'bad territory (4 digits)', file: 'recipients.json', mutate: (d) => (d.recipients[2].territory = ['5432']), path: '/recipients/2/territory/0', problem: /format invalide/ },
  { name: 'bad territory ("20" is no département)', file: 'partners.json', mutate: (d) => (d.partners[3].territory = ['20']), path: '/partners/3/territory/0', problem: /format invalide/ },
  { name: 'unknown format kind', file: 'datasets.json', mutate: (d) => (d.datasets[1].format = { kind: 'xml' }), path: '/datasets/1/format/kind', problem: /valeur non autorisée \(attendu : "csv", "ndjson", "json"\)/ },
  { name: 'csv without delimiter', file: 'datasets.json', mutate: (d) => delete d.datasets[0].format.delimiter, path: '/datasets/0/format', problem: /« delimiter » absente/ },
  { name: 'unknown dataset in a convention', file: 'conventions.json', mutate: (d) => (d.conventions[0].senders[0].datasets = ['faits-4002']), path: '/conventions/0/senders/0/datasets/0', problem: /jeu de données inconnu : faits-4002/ },
  { name: 'unknown party in a convention', file: 'conventions.json', mutate: (d) => (d.conventions[2].recipients[0].party = 'laxxou'), path: '/conventions/2/recipients/0/party', problem: /destinataire inconnu : laxxou/ },
  { name: 'recipient as sender', file: 'conventions.json', mutate: (d) => (d.conventions[0].senders[0].party = 'nancy'), path: '/conventions/0/senders/0/party', problem: /nancy est un destinataire, pas un partenaire/ },
  { name: 'duplicate id across partners and recipients', file: 'recipients.json', mutate: (d) => d.recipients.push({ ...d.recipients[3], id: 'transport' }), path: '/recipients/21/id', problem: /identifiant de partie en double : transport/ },
  { name: 'duplicate dataset id', file: 'datasets.json', mutate: (d) => d.datasets.push(d.datasets[0]), path: '/datasets/5/id', problem: /en double : faits-4001/ },
  { name: 'validTo before validFrom', file: 'conventions.json', mutate: (d) => (d.conventions[2].validTo = '2023-12-31'), path: '/conventions/2/validTo', problem: /antérieure au début/ },
  { name: 'fingerprint mismatch', file: 'partners.json', mutate: (d) => (d.partners[0].pgpKeys[0].fingerprint = d.partners[1].pgpKeys[0].fingerprint), path: '/partners/0/pgpKeys/0/fingerprint', problem: /ne correspond pas à la clé du fichier/ },
  { name: 'secret key instead of public', file: 'recipients.json', mutate: (d) => (d.recipients[1].pgpKey.file = d.recipients[1].pgpKey.file.replace('pub', 'sec')), path: '/recipients/1/pgpKey/file', problem: /clé privée, une clé publique est attendue/ },
  { name: 'bad SSH key line', file: 'partners.json', mutate: (d) => (d.partners[2].sshKeys = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBROKEN comment']), path: '/partners/2/sshKeys/0', problem: /clé SSH illisible/ },
  { name: 'DSA SSH key refused', file: 'partners.json', mutate: (d) => (d.partners[2].sshKeys = [DSA_KEY]), path: '/partners/2/sshKeys/0', problem: /type de clé SSH refusé : ssh-dss/ },
  { name: 'missing key file', code: 'CONFIG_UNREADABLE', file: 'recipients.json', mutate: (d) => (d.recipients[0].sshKeys = [{ file: 'nope.pub' }]), path: '/recipients/0/sshKeys/0/file', problem: /fichier introuvable/ },
  { name: 'missing dataset schema', file: 'datasets.json', mutate: (d) => (d.datasets[2].schema = 'datasets/absent.schema.json'), path: '/datasets/2/schema', problem: /schéma introuvable/ },
  { name: 'coordinates required when code_insee optional', file: 'datasets.json', mutate: (d) => delete d.datasets[3].coordinates, path: '/datasets/3/inseeOptional', problem: /exige des coordonnées/ },
  { name: 'public key file in place of the gateway secret key', code: 'CONFIG_UNREADABLE', file: 'passerelle.json', mutate: (d) => (d.settings.keys.pgpSecretKey = d.settings.keys.pgpPublicKey), path: '/settings/keys/pgpSecretKey', problem: /clé OpenPGP secrète illisible/ },
  { name: 'gateway public key of another key', file: 'passerelle.json', mutate: (d) => (d.settings.keys.pgpPublicKey = '../../keys-example/nancy/pgp.pub.asc'), path: '/settings/keys/pgpPublicKey', problem: /n'est pas celle de la clé secrète/ },
];

const DSA_KEY =
  'ssh-dss AAAAB3NzaC1kc3MAAACBAMq5EcIFdfJPhyfNMJjm+VxSgMbBzIUWfbbCK8dTdqxqv7Jj/zr/c2KLyXVMPQc4Rj3JtOgA7H5aWcxIgBmYBbnUF+EHhKg5IHi2gXgsBxrGrGZJ3hgSkFXHlaAuU7PSkIO/3N6oZzPqfIjmV2THpJbKTyydV0+2Db2vQc5iiYtjAAAAFQCRo8qNDvCbGNnpgCI42L1ApXcxOQAAAIEAojt/MUc5+YjdZh5hHrUTr2AHxhFRRakGufX3h8bhGLpuZ56h6KBTGpKC4fdzF5gUjcz7Yq5wtM/ll1grYpSgHLHiSn4x7zkrOtd03eHqeOqFJc3vx4vxxqKNCkBdBdoH0s5a1ldWwfp0VYCWFJTbHlXLb7Ap0TOTKhGWdtZ6TCMAAACAJiUkG9+ThmuMvmXg7tJUh4+jJcNVlhZaC7Mz6JvHI7UyDMZCRdY7DPyPd6hMk29gHW7Izw9vM3AkyGJ2Tuzmsa3fdjrOLvA26ugO1GTfGTBBjjSQzlLaqENjFfpsVOOnwqn5+P8kVhhPNT0a6WfG+FfM4ErSl8OwSP9Hm3gPErE= dsa-key';

describe('a broken configuration', () => {
  let t: TempConfig;
  beforeEach(() => {
    t = copyExample();
  });
  afterEach(() => t.cleanup());

  for (const c of CASES) {
    it(`${c.name}: names ${c.file} ${c.path}`, async () => {
      t.edit(c.file, (d) => c.mutate(d, t));
      const err = await rejection(loadConfig(t.main, { demo: true }));
      const problems = (err.detail?.['problems'] ?? []) as ConfigProblem[];
      expect(err.code).toBe(c.code ?? 'CONFIG_INVALID');
      expect(problems.map((p) => `${basename(p.file)} ${p.path} ${p.problem}`)).toHaveLength(1);
      const [p] = problems;
      expect(p?.file).toBe(join(t.dir, c.file));
      expect(p?.path).toBe(c.path);
      expect(p?.problem).toMatch(c.problem);
      // the message names the file, the JSON Pointer and the problem
      expect(err.message).toContain(`${join(t.dir, c.file)} ${c.path} : `);
      expect(err.detail).toMatchObject({ file: join(t.dir, c.file), path: c.path });
    });
  }

  it('lists several problems in several files, not just the first', async () => {
    t.edit('partners.json', (d) => (d.partners[1].couleur = 'bleu'));
    t.edit('recipients.json', (d) => (d.recipients[2].territory = ['5432']));
    t.edit('datasets.json', (d) => (d.datasets[0].idField = 7));
    const err = await rejection(loadConfig(t.main, { demo: true }));
    const paths = ((err.detail?.['problems'] ?? []) as ConfigProblem[]).map((p) => `${basename(p.file)} ${p.path}`).sort();
    expect(paths).toEqual(['datasets.json /datasets/0/idField', 'partners.json /partners/1/couleur', 'recipients.json /recipients/2/territory/0']);
    expect(err.message).toMatch(/configuration invalide \(3 problèmes\)/);
  });

  it('reports JSON syntax errors as CONFIG_UNREADABLE, naming the file', async () => {
    writeFileSync(join(t.dir, 'conventions.json'), readFileSync(join(t.dir, 'conventions.json'), 'utf8').replace('"conventions": [', '"conventions": [,'));
    const err = await rejection(loadConfig(t.main, { demo: true }));
    expect(err.code).toBe('CONFIG_UNREADABLE');
    expect(err.detail).toMatchObject({ file: join(t.dir, 'conventions.json'), path: '' });
    expect(err.message).toMatch(/JSON invalide/);
  });

  it('reports a missing configuration file', async () => {
    t.edit('passerelle.json', (d) => (d.files.partners = 'partenaires.json'));
    const err = await rejection(loadConfig(t.main, { demo: true }));
    expect(err.code).toBe('CONFIG_UNREADABLE');
    expect(err.detail).toMatchObject({ file: join(t.dir, 'partenaires.json'), problem: 'fichier introuvable' });
  });

  it('loads an expired convention, which then grants nothing', async () => {
    const now = new Date('2026-11-28T10:00:00Z');
    t.edit('conventions.json', (d) => (d.conventions[2].validTo = '2025-12-31'));
    const { config, warnings } = await loadConfigReport(t.main, { demo: true, now });
    expect(config.conventions[2]?.validTo).toBe('2025-12-31');
    expect(datasetsReceivable(config, 'laxou', now)).toEqual([]);
    expect(datasetsReceivable(config, 'laxou', new Date('2025-06-01T00:00:00Z'))).toEqual(['interventions-sdis', 'main-courante-pm']);
    expect(warnings.map((w) => w.problem)).toEqual([
      "convention laxou-2024 expirée depuis le 2025-12-31 : elle n'autorise aucun échange",
      "laxou n'est cité par aucune convention en vigueur : aucun échange possible",
    ]);
  });

  it('takes SSH keys given inline or as authorized_keys-style files with comments', async () => {
    const line = readFileSync(join(t.root, 'keys-example', 'nancy', 'ssh_ed25519.pub'), 'utf8').trim();
    const other = readFileSync(join(t.root, 'keys-example', 'laxou', 'ssh_ed25519.pub'), 'utf8').trim();
    writeFileSync(join(t.dir, 'nancy.keys'), `# clés de Nancy\n${line}\n\n${other}\n`);
    t.edit('recipients.json', (d) => (d.recipients.find((r: Json) => r.id === 'nancy').sshKeys = [{ file: 'nancy.keys' }, other]));
    const { config, warnings } = await loadConfigReport(t.main, { demo: true });
    expect(config.recipients.get('nancy')?.sshKeys).toEqual([line, other]); // listed twice, kept once
    // Laxou's key now also opens Nancy's account: allowed, but said
    expect(warnings.map((w) => w.problem)).toEqual(['la même clé SSH est enregistrée pour laxou, nancy : son détenteur peut se connecter sous chacun de ces noms']);
  });

  it('applies documented defaults to optional fields', async () => {
    t.edit('passerelle.json', (d) => {
      delete d.settings.sftp;
      delete d.settings.audit;
      delete d.settings.dataDir;
      d.settings.limits = { maxFileBytes: 1024 };
    });
    t.edit('datasets.json', (d) => (d.datasets[0].format = { kind: 'csv', delimiter: ';' }));
    t.edit('conventions.json', (d) => delete d.conventions[0].validation);
    const config = await loadConfig(t.main, { demo: true });
    expect(config.settings.sftp).toEqual({ host: '127.0.0.1', port: 2222 });
    expect(config.settings.dataDir).toBe(join(t.dir, 'var'));
    expect(config.settings.limits.maxFileBytes).toBe(1024);
    expect(config.settings.limits.maxConnections).toBe(1000);
    expect(config.settings.audit.retentionDays).toBe(365);
    expect(config.datasets.get('faits-4001')?.format).toEqual({ kind: 'csv', delimiter: ';', encoding: 'utf-8', maxLineBytes: 65536 });
    expect(config.conventions[0]?.validation).toBe('all_or_nothing');
    expect(datasetsSendable(config, 'transport', new Date('2026-11-28T00:00:00Z'))).toEqual(['incidents-transport']);
  });

  it('the committed schemas are the ones used (sanity: ROOT has them)', () => {
    expect(JSON.parse(readFileSync(join(ROOT, 'schemas', 'config', 'passerelle.schema.json'), 'utf8')).$schema).toBe('https://json-schema.org/draft/2020-12/schema');
  });
});
