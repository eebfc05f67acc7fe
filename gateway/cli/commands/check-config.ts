/**
 * `passerelle check-config --config FILE [--demo]`: loads the configuration exactly as `start`
 * (or `demo`) would and prints "configuration valide" with a summary, or every problem (file,
 * JSON path, problem). Exit 0 when valid, 1 when not, 2 on a usage error.
 */
import { parseArgs } from 'node:util';
import { isConventionValid } from '../../config/conventions.js';
import { loadConfigReport } from '../../config/load.js';
import { formatProblem, problemsOf } from '../../config/problems.js';
import { isGatewayError } from '../../errors.js';

const USAGE = 'Usage: passerelle check-config --config FILE [--demo]\n';

export async function run(argv: string[]): Promise<number> {
  let values: { config?: string; demo?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, demo: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`passerelle check-config: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.config === undefined) {
    process.stderr.write(`passerelle check-config: --config FILE est obligatoire\n${USAGE}`);
    return 2;
  }
  const now = new Date();
  try {
    const { config, warnings } = await loadConfigReport(values.config, { demo: values.demo === true, now });
    const inForce = config.conventions.filter((c) => isConventionValid(c, now)).length;
    const lines = [
      `configuration valide : ${config.file}${config.settings.demo ? ' (mode démo)' : ''}`,
      `  jeux de données : ${config.datasets.size}`,
      `  partenaires     : ${config.partners.size}`,
      `  destinataires   : ${config.recipients.size}`,
      `  conventions     : ${config.conventions.length} dont ${inForce} en vigueur`,
      `  SFTP ${config.settings.sftp.host}:${config.settings.sftp.port}, administration https://${config.settings.admin.host}:${config.settings.admin.port}`,
      ...warnings.map((w) => `  avertissement : ${w.file}${w.path === '' ? '' : ' ' + w.path} : ${w.problem}`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  } catch (e) {
    if (!isGatewayError(e)) throw e;
    const problems = problemsOf(e);
    process.stderr.write(`configuration invalide : ${problems.length} problème(s)\n${problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}\n`);
    return 1;
  }
}
