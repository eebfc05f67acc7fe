import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyExample, EXAMPLE, ROOT, type TempConfig } from './fixtures.js';

const run = promisify(execFile);

/** Runs the real CLI (TypeScript sources through tsx); returns exit code and output. */
async function passerelle(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'gateway', 'cli', 'main.ts'), ...args], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

describe('passerelle check-config', () => {
  let t: TempConfig;
  beforeAll(() => {
    t = copyExample();
  });
  afterAll(() => t.cleanup());

  it('says "configuration valide" with a summary for the demo configuration', async () => {
    const r = await passerelle('check-config', '--config', EXAMPLE, '--demo');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('configuration valide');
    expect(r.stdout).toMatch(/jeux de données : 5\n/);
    expect(r.stdout).toMatch(/partenaires\s+: 5\n/);
    expect(r.stdout).toMatch(/destinataires\s+: 21\n/);
    expect(r.stdout).toMatch(/conventions\s+: 3 dont 3 en vigueur/);
  });

  it('refuses the demo keys without --demo, exit 1', async () => {
    const r = await passerelle('check-config', '--config', EXAMPLE);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^configuration invalide : \d+ problème\(s\)/);
    expect(r.stderr).toContain(`${EXAMPLE} /settings/keys/sshHostKey : clé de démonstration`);
    expect(r.stderr).toContain('[DEMO_KEY_REFUSED]');
  });

  it('lists every problem of a broken configuration, naming file and JSON path', async () => {
    t.edit('partners.json', (d) => (d.partners[0].territoire = ['54']));
    t.edit('conventions.json', (d) => (d.conventions[1].retentionDays = 0));
    const r = await passerelle('check-config', '--config', t.main, '--demo');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(t.dir, 'partners.json')} /partners/0/territoire : propriété inconnue « territoire » [CONFIG_INVALID]`);
    expect(r.stderr).toContain(`${join(t.dir, 'conventions.json')} /conventions/1/retentionDays : doit être ≥ 1 [CONFIG_INVALID]`);
  });

  it('prints warnings for conventions not in force', async () => {
    t.edit('partners.json', (d) => delete d.partners[0].territoire);
    t.edit('conventions.json', (d) => {
      d.conventions[1].retentionDays = 365;
      d.conventions[2].validTo = '2024-12-31';
    });
    const r = await passerelle('check-config', '--config', t.main, '--demo');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/conventions\s+: 3 dont 2 en vigueur/);
    expect(r.stdout).toContain('avertissement');
    expect(r.stdout).toContain('convention laxou-2024 expirée depuis le 2024-12-31');
  });

  it('usage errors exit 2', async () => {
    expect((await passerelle('check-config')).code).toBe(2);
    expect((await passerelle('check-config', '--config', EXAMPLE, '--bogus')).code).toBe(2);
  });
});
