import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

// The real command, in a child process, against the example configuration (config/grand-nancy).
function validate(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'gateway', 'cli', 'main.ts'), 'validate', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const fixture = (...p: string[]): string => join(ROOT, 'test', 'fixtures', 'datasets', ...p);
const tmp = mkdtempSync(join(tmpdir(), 'passerelle-validate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('passerelle validate', () => {
  it('exits 0 on a valid export and prints where each record would go', () => {
    const r = validate('--dataset', 'interventions-sdis', fixture('valid', 'interventions-sdis.json'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Partenaire\s+: sdis54/);
    expect(r.stdout).toMatch(/VALIDE/);
    expect(r.stdout).toMatch(/observatoire\s+3/);
    expect(r.stdout).toMatch(/laxou\s+1/);
    expect(r.stdout).toMatch(/sans destinataire\s+2/);
  });

  it('exits 1 and prints the receipt\'s errors (record, line, field, code, French message)', () => {
    const r = validate('--dataset', 'faits-4001', fixture('corpus', 'faits-4001', 'SCHEMA_INVALID@3__index-96.csv'));
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/REFUSÉ \(SCHEMA_INVALID\)/);
    expect(r.stdout).toContain('enregistrement 2, ligne 3, /index_4001 : SCHEMA_INVALID');
    expect(r.stdout).toContain('valeur exclue');
  });

  it('checks the territory of the partner given with --partner', () => {
    const file = join(tmp, 'pm.ndjson');
    writeFileSync(file, JSON.stringify({ id: 'PM-1', horodatage: '2026-03-14T22:10:00+01:00', categorie: 'rixe', code_insee: '54395', suite: 'aucune' }) + '\n');
    const r = validate('--dataset', 'main-courante-pm', '--partner', 'police-municipale-ludres', file);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('OUTSIDE_TERRITORY');
    const json = validate('--json', '--dataset', 'main-courante-pm', '--partner', 'police-municipale-ludres', file);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, code: 'OUTSIDE_TERRITORY', errors: [{ recordNo: 1, line: 1, field: '/code_insee' }] });
  });

  it('names the wrong delimiter and the Windows-1252 encoding', () => {
    const d = validate('--dataset', 'faits-4001', fixture('corpus', 'faits-4001', 'FORMAT_HEADER@1__wrong-delimiter-comma.csv'));
    expect(d.status).toBe(1);
    expect(d.stdout).toContain('séparateur incorrect');
    const e = validate('--dataset', 'faits-4001', fixture('corpus', 'faits-4001', 'FORMAT_ENCODING@3__windows-1252.csv'));
    expect(e.stdout).toContain('Windows-1252');
    expect(e.stdout).toContain('ligne 3');
  });

  it('refuses an encrypted file (made by gpg) or a missing one with a hint, exit 2', () => {
    const home = join(tmp, 'gnupg');
    mkdirSync(home, { mode: 0o700 });
    const out = join(tmp, 'export.csv.gpg');
    const gpg = spawnSync('gpg', ['--homedir', home, '--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', 'x', '--symmetric', '-o', out, fixture('valid', 'faits-4001.csv')], { encoding: 'utf8' });
    spawnSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
    expect(gpg.status, gpg.stderr).toBe(0);
    const r = validate('--dataset', 'faits-4001', out);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('OpenPGP chiffré');
    const missing = validate('--dataset', 'faits-4001', join(tmp, 'absent.csv'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('introuvable');
  });

  it('exits 2 on a usage error or an unknown dataset', () => {
    expect(validate(fixture('valid', 'faits-4001.csv')).status).toBe(2);
    const r = validate('--dataset', 'nope', fixture('valid', 'faits-4001.csv'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('faits-4001');
  });
});
