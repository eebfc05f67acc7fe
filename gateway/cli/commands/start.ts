/**
 * `passerelle start --config FILE`: a real deployment (demo keys refused, private keys must be
 * 0600). Prints where SFTP listens and the SSH host key fingerprint, runs until SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startGateway } from '../../app.js';
import { serveUntilSignal, startLines, withAdminUi } from '../serve.js';

const USAGE = 'Usage: passerelle start --config FILE\n';

export async function run(argv: string[]): Promise<number> {
  let values: { config?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, strict: true }));
  } catch (e) {
    process.stderr.write(`passerelle start: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.config === undefined) {
    process.stderr.write(`passerelle start: --config FILE est obligatoire / is required\n${USAGE}`);
    return 2;
  }
  const running = await withAdminUi(await startGateway({ configFile: values.config, demo: false }), false);
  // Listening for signals before saying it is up: whoever reads that line may stop it at once.
  const served = serveUntilSignal(running, 'passerelle');
  process.stdout.write(['Passerelle démarrée / started', ...startLines(running), ''].join('\n'));
  return served;
}
