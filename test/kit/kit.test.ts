import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../gateway/config/load.js';
import { projectRoot } from '../../gateway/config/project.js';
import { buildKit, checkKitInput, knownHostsLine, type KitInput } from '../../gateway/kit/kit.js';
import { kitInputFromConfig } from '../../gateway/kit/inputs.js';
import { writeKit } from '../../gateway/kit/write.js';
import { isGatewayError } from '../../gateway/errors.js';
import type { GatewayConfig } from '../../gateway/config/model.js';

const run = promisify(execFile);
const root = projectRoot();
const keys = join(root, 'keys-example');

/** Primary-key fingerprints (and whether a secret key is present) as GnuPG reads a key file. */
async function gpgShowKeys(file: string, home: string): Promise<{ fprs: string[]; secret: boolean }> {
  const { stdout } = await run('gpg', ['--homedir', home, '--batch', '--with-colons', '--show-keys', file]);
  const lines = stdout.split('\n');
  const fprs: string[] = [];
  lines.forEach((l, i) => {
    if ((l.startsWith('pub:') || l.startsWith('sec:')) && lines[i + 1]?.startsWith('fpr:')) fprs.push(lines[i + 1]!.split(':')[9]!);
  });
  return { fprs, secret: lines.some((l) => l.startsWith('sec:') || l.startsWith('ssb:')) };
}

async function sshFingerprintOf(file: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', file]);
  return stdout.split(' ')[1]!;
}

describe('partner kit for police-nationale (demo configuration)', () => {
  let work: string;
  let kitDir: string;
  let config: GatewayConfig;
  let input: KitInput;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'passerelle-test-kit-'));
    kitDir = join(work, 'kit');
    config = await loadConfig(join(root, 'config', 'grand-nancy', 'passerelle.json'), { demo: true });
    input = await kitInputFromConfig(config, 'police-nationale');
    await writeKit(kitDir, buildKit(input));
  }, 30_000);
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('writes the five files, the script executable', async () => {
    for (const f of ['known_hosts', 'passerelle.pub.asc', 'EMPREINTES.txt', 'envoyer.sh', 'README.md']) {
      expect((await stat(join(kitDir, f))).isFile(), f).toBe(true);
    }
    expect((await stat(join(kitDir, 'envoyer.sh'))).mode & 0o111).toBe(0o111);
  });

  it('has a send script bash accepts, using gpg sign+encrypt to the gateway and sftp -b', async () => {
    await run('bash', ['-n', join(kitDir, 'envoyer.sh')]);
    const script = await readFile(join(kitDir, 'envoyer.sh'), 'utf8');
    expect(script).toContain(`EMPREINTE_PASSERELLE='${input.gatewayPgpFingerprint}'`);
    expect(script).toMatch(/--sign --encrypt/);
    expect(script).toMatch(/sftp -q -b/);
    expect(script).toContain("COMPTE='police-nationale'");
    expect(script).toContain("JEUX='faits-4001'");
  });

  it('the script refuses a dataset the partner may not send, before doing anything', async () => {
    const err = await run('bash', [join(kitDir, 'envoyer.sh'), 'main-courante-pm', '/etc/hostname']).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toContain('non autorisé');
  });

  it('pins the gateway SSH host key in known_hosts as OpenSSH reads it', async () => {
    const line = (await readFile(join(kitDir, 'known_hosts'), 'utf8')).trim();
    const pub = (await readFile(join(keys, 'gateway', 'ssh_host_ed25519.pub'), 'utf8')).trim().split(' ');
    expect(line).toBe(`[127.0.0.1]:2222 ${pub[0]} ${pub[1]}`);
    // OpenSSH finds the host entry and computes the same fingerprint as the gateway's key.
    const { stdout } = await run('ssh-keygen', ['-F', '[127.0.0.1]:2222', '-f', join(kitDir, 'known_hosts')]);
    expect(stdout).toContain(pub[1]!);
    expect(await sshFingerprintOf(join(kitDir, 'known_hosts'))).toBe(await sshFingerprintOf(join(keys, 'gateway', 'ssh_host_ed25519.pub')));
    expect(input.hostKey.fingerprint).toBe(await sshFingerprintOf(join(keys, 'gateway', 'ssh_host_ed25519.pub')));
  });

  it("contains the gateway's OpenPGP public key, and only public material", async () => {
    const home = await mkdtemp(join(work, 'gnupg-'));
    const kit = await gpgShowKeys(join(kitDir, 'passerelle.pub.asc'), home);
    const gw = await gpgShowKeys(join(keys, 'gateway', 'pgp.pub.asc'), home);
    expect(kit.fprs).toEqual(gw.fprs);
    expect(kit.fprs).toEqual([input.gatewayPgpFingerprint]);
    expect(kit.secret).toBe(false);
    const fingerprints = await readFile(join(kitDir, 'EMPREINTES.txt'), 'utf8');
    expect(fingerprints.replace(/ /g, '')).toContain(input.gatewayPgpFingerprint);
    expect(fingerprints).toContain(input.hostKey.fingerprint);
  });

  it('names the partner signing key registered in the configuration', async () => {
    const pinned = config.partners.get('police-nationale')!.pgpKeys.map((k) => k.fingerprint.toUpperCase());
    expect(input.partnerPgpFingerprints).toEqual(pinned);
    const home = await mkdtemp(join(work, 'gnupg-'));
    const own = await gpgShowKeys(join(keys, 'police-nationale', 'pgp.pub.asc'), home);
    expect(pinned).toContain(own.fprs[0]);
  });

  it('takes --host and --port for the known_hosts line', async () => {
    const other = await kitInputFromConfig(config, 'police-nationale', { host: 'passerelle.example.fr', port: 22 });
    expect(knownHostsLine(other)).toMatch(/^passerelle\.example\.fr ssh-ed25519 AAAA/);
    const p = await kitInputFromConfig(config, 'police-nationale', { host: 'sftp.example.fr', port: 2022 });
    expect(knownHostsLine(p)).toMatch(/^\[sftp\.example\.fr\]:2022 ssh-ed25519 /);
  });

  it('lists only the datasets the partner may send (Ludres municipal police)', async () => {
    const pm = await kitInputFromConfig(config, 'police-municipale-ludres');
    expect(pm.datasets.map((d) => d.id)).toEqual(['main-courante-pm']);
  });

  it('refuses an unknown partner and a recipient id with a coded error', async () => {
    for (const id of ['inconnu', 'ludres']) {
      const e = await kitInputFromConfig(config, id).catch((x: unknown) => x);
      expect(isGatewayError(e, 'CONFIG_INVALID'), id).toBe(true);
    }
  });

  it('refuses values that could break out of the script quoting', () => {
    for (const host of ["a';rm -rf /;'", 'a b', '$(id)', 'host\nX']) {
      expect(() => checkKitInput({ ...input, host }), host).toThrow(/hôte/);
    }
    for (const host of ['0.0.0.0', '::']) expect(() => checkKitInput({ ...input, host }), host).toThrow(/--host/);
    expect(() => checkKitInput({ ...input, host: '::1' })).not.toThrow();
    expect(() => checkKitInput({ ...input, partnerId: "x'y" })).toThrow();
    expect(() => checkKitInput({ ...input, gatewayPgpFingerprint: "ABC'" })).toThrow();
    expect(() => checkKitInput({ ...input, port: 70000 })).toThrow();
    expect(() => checkKitInput({ ...input, datasets: [] })).toThrow();
  });
});
