/**
 * `passerelle demo` (what `npm start` runs): the Grand Nancy example deployment in demo mode,
 * keys from keys-example/, data in ./var (PASSERELLE_DATA), SFTP on 127.0.0.1:2222
 * (PASSERELLE_SFTP_PORT). Prints the host key fingerprint and how to connect as a partner, as
 * a commune and to the admin UI.
 */
import { chmod, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { startGateway } from '../../app.js';
import { projectRoot } from '../../config/project.js';
import { serveUntilSignal, startLines, withAdminUi } from '../serve.js';

const USAGE = 'Usage: passerelle demo\n';

/**
 * git keeps no file modes, so a fresh checkout has the demo private keys readable by all and
 * OpenSSH would refuse them; these keys are public anyway, 0600 only satisfies the client.
 */
async function tightenDemoKeys(keysDir: string): Promise<void> {
  for (const party of await readdir(keysDir, { withFileTypes: true })) {
    if (!party.isDirectory()) continue;
    const key = join(keysDir, party.name, 'ssh_ed25519');
    const st = await stat(key).catch(() => undefined);
    if (st && (st.mode & 0o077) !== 0) await chmod(key, 0o600);
  }
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.length > 0) {
    process.stderr.write(`passerelle demo: argument inattendu / unexpected argument: ${argv[0]}\n${USAGE}`);
    return 2;
  }
  const root = projectRoot();
  const keysDir = join(root, 'keys-example');
  await tightenDemoKeys(keysDir);
  const running = await withAdminUi(await startGateway({ configFile: join(root, 'config', 'grand-nancy', 'passerelle.json'), demo: true }), true);
  const { gateway, admin } = running;
  const { host, port } = gateway.sftp;
  const keyOf = (party: string): string => relative(process.cwd(), join(keysDir, party, 'ssh_ed25519')) || join(keysDir, party, 'ssh_ed25519');
  const sftp = (party: string): string => `sftp -i ${keyOf(party)} -P ${port} ${party}@${host}`;
  // Listening for signals before saying it is up: whoever reads these lines may stop it at once
  // (a SIGTERM sent on seeing them killed it outright once in eight tries).
  const served = serveUntilSignal(running, 'passerelle demo');
  process.stdout.write(
    [
      'Passerelle — démonstration Métropole du Grand Nancy (clés de démonstration, ne rien y confier de réel)',
      ...startLines(running),
      `  Données / data            ${gateway.layout.root}`,
      '',
      'Se connecter / connect:',
      `  en partenaire (police nationale) : ${sftp('police-nationale')}`,
      `  en commune (Ludres)              : ${sftp('ludres')}`,
      `  administration (DPO, admin)      : ${admin?.url ?? '(non démarrée / not started)'}`,
      ...(admin?.demoAccounts ?? []).map(
        (a) => `    compte ${a.role.padEnd(5)} : ${a.name} / mot de passe ${a.password} / TOTP (secret) ${a.totpSecret}`,
      ),
      `  (première connexion SFTP : vérifiez l'empreinte ${gateway.hostKey.fingerprint} / check the fingerprint)`,
      '',
      'Ctrl-C pour arrêter / to stop.',
      '',
    ].join('\n'),
  );
  return served;
}
