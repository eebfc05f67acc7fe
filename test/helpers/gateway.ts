/**
 * A whole gateway for tests: the example Grand Nancy configuration in demo mode, SFTP on
 * 127.0.0.1 port 0, a fresh temp data directory, the demo parties' SSH keys copied 0600 (git
 * does not keep modes, and OpenSSH refuses a private key others can read), and a known_hosts
 * file with the gateway's host key. `stop()` closes the gateway and removes the temp dir.
 */
import { chmod, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type GatewayOptions, type RunningGateway } from '../../gateway/app.js';
import { projectRoot } from '../../gateway/config/project.js';
import type { GatewaySettings, Limits } from '../../gateway/config/model.js';
import { silentLogger } from '../../gateway/log.js';

export interface TestGatewayOptions {
  /** Configuration file; default the example deployment config/grand-nancy/passerelle.json (demo mode). */
  readonly configFile?: string;
  readonly demo?: boolean;
  readonly limits?: Partial<Limits>;
  readonly intake?: GatewayOptions['intake'];
  /** Worker threads of the default (real) intake; default 0: in-thread, lighter for tests. */
  readonly intakeWorkers?: number;
  readonly audit?: GatewayOptions['audit'];
  readonly log?: GatewayOptions['log'];
  /** An existing directory to run in (its data/ kept from a previous gateway: a restart); not removed by stop(). */
  readonly dir?: string;
}

export interface TestGateway {
  readonly gateway: RunningGateway;
  readonly host: string;
  readonly port: number;
  /** "SHA256:…" of the host key. */
  readonly fingerprint: string;
  readonly knownHostsLine: string;
  /** Path of a known_hosts file holding only this gateway's key. */
  readonly knownHosts: string;
  readonly dataDir: string;
  /** Directory of this gateway (data, keys, known_hosts); removed by stop() unless it was given. */
  readonly dir: string;
  /** Path of a 0600 copy of the demo party's SSH private key (keys-example/<id>/ssh_ed25519). */
  key(partyId: string): Promise<string>;
  /** OpenSSH `sftp`/`scp` options (port as -P) for `partyId`: batch mode, strict host key checking against `knownHosts`. */
  sftpOptions(partyId: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startTestGateway(o: TestGatewayOptions = {}): Promise<TestGateway> {
  const root = projectRoot();
  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), 'passerelle-gw-')));
  const removeDir = async (): Promise<void> => {
    if (!o.dir) await rm(dir, { recursive: true, force: true });
  };
  const dataDir = join(dir, 'data');
  const adjustSettings = (s: GatewaySettings): GatewaySettings => ({
    ...s,
    dataDir,
    sftp: { host: '127.0.0.1', port: 0 },
    admin: { ...s.admin, host: '127.0.0.1', port: 0 },
    limits: { ...s.limits, ...o.limits },
  });
  let gateway: RunningGateway;
  try {
    gateway = await startGateway({
      configFile: o.configFile ?? join(root, 'config', 'grand-nancy', 'passerelle.json'),
      demo: o.demo ?? true,
      log: o.log ?? silentLogger(),
      env: {},
      adjustSettings,
      intakeWorkers: o.intakeWorkers ?? 0,
      ...(o.intake ? { intake: o.intake } : {}),
      ...(o.audit ? { audit: o.audit } : {}),
    });
  } catch (e) {
    await removeDir();
    throw e;
  }
  const knownHosts = join(dir, 'known_hosts');
  await writeFile(knownHosts, `${gateway.knownHostsLine}\n`);
  const keys = new Map<string, string>();
  const key = async (partyId: string): Promise<string> => {
    const have = keys.get(partyId);
    if (have) return have;
    const dest = join(dir, `${partyId}_ssh_ed25519`);
    await copyFile(join(root, 'keys-example', partyId, 'ssh_ed25519'), dest);
    await chmod(dest, 0o600);
    keys.set(partyId, dest);
    return dest;
  };
  return {
    gateway,
    host: gateway.sftp.host,
    port: gateway.sftp.port,
    fingerprint: gateway.hostKey.fingerprint,
    knownHostsLine: gateway.knownHostsLine,
    knownHosts,
    dataDir,
    dir,
    key,
    sftpOptions: async (partyId) => [
      '-F', '/dev/null',
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${knownHosts}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'IdentitiesOnly=yes',
      '-o', 'IdentityAgent=none',
      '-o', `User=${partyId}`,
      '-i', await key(partyId),
      '-P', String(gateway.sftp.port),
    ],
    stop: async () => {
      await gateway.close();
      await removeDir();
    },
  };
}
