/**
 * `passerelle partner-kit PARTNER-ID --out DIR [--config FILE] [--demo] [--host H] [--port P]`
 * Writes a partner's onboarding kit (see gateway/kit/kit.ts). Without --config, the Grand Nancy
 * demo configuration is used (demo mode implied).
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { applyEnv } from '../../config/env.js';
import { loadConfig } from '../../config/load.js';
import { projectRoot } from '../../config/project.js';
import { buildKit } from '../../kit/kit.js';
import { kitInputFromConfig } from '../../kit/inputs.js';
import { writeKit } from '../../kit/write.js';

const USAGE = 'usage: passerelle partner-kit PARTNER-ID --out DIR [--config FILE] [--demo] [--host H] [--port P]\n';

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        config: { type: 'string' },
        demo: { type: 'boolean', default: false },
        host: { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    process.stderr.write(`passerelle partner-kit: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const partnerId = positionals[0];
  if (positionals.length !== 1 || partnerId === undefined || !values.out) {
    process.stderr.write(USAGE);
    return 2;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    process.stderr.write(`passerelle partner-kit: port invalide / invalid port: ${values.port}\n`);
    return 2;
  }
  const configFile = values.config ?? join(projectRoot(), 'config', 'grand-nancy', 'passerelle.json');
  const demo = values.demo || values.config === undefined;
  // Same settings as the running gateway: in demo mode PASSERELLE_SFTP_PORT moves the port.
  const config = await loadConfig(configFile, { demo, adjustSettings: (s) => applyEnv(s, process.env) });
  const input = await kitInputFromConfig(config, partnerId, {
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(port !== undefined ? { port } : {}),
  });
  const out = resolve(values.out);
  const written = await writeKit(out, buildKit(input));
  process.stdout.write(
    `Kit partenaire « ${partnerId} » écrit dans ${out} / partner kit written:\n` +
      written.map((f) => `  ${f}\n`).join('') +
      `Empreinte OpenPGP de la passerelle / gateway OpenPGP fingerprint: ${input.gatewayPgpFingerprint}\n` +
      `Clé d'hôte SSH / SSH host key: ${input.hostKey.fingerprint}\n` +
      `Jeux de données / datasets: ${input.datasets.map((d) => d.id).join(', ')}\n`,
  );
  return 0;
}
