#!/usr/bin/env node
/**
 * `passerelle` — the only place that prints and sets exit codes. Each command lives in its own
 * module under commands/; this file only dispatches.
 */
import { isGatewayError } from '../errors.js';

type CommandModule = { run(argv: string[]): Promise<number> };

// Lazy imports keep `passerelle --help` fast and avoid loading the server for offline commands.
const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  start: { summary: 'run a real deployment: start --config FILE', load: () => import('./commands/start.js') },
  demo: { summary: 'run the Grand Nancy demo deployment (what `npm start` runs)', load: () => import('./commands/demo.js') },
  'check-config': { summary: 'validate a configuration: check-config --config FILE', load: () => import('./commands/check-config.js') },
  validate: { summary: 'check a plaintext export as the gateway would: validate --dataset ID [--partner ID] FILE', load: () => import('./commands/validate.js') },
  'partner-kit': { summary: 'write a partner onboarding kit: partner-kit PARTNER-ID --out DIR [--config FILE]', load: () => import('./commands/partner-kit.js') },
  audit: { summary: 'the audit trail: audit verify|prove N|verify-proof FILE --key PUB|checkpoint|export|keygen', load: () => import('./commands/audit.js') },
  'admin-user': { summary: 'admin UI accounts: admin-user add NAME --role admin|dpo | list | remove NAME [--data DIR]', load: () => import('./commands/admin-user.js') },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(14)} ${c.summary}`);
  return `Usage: passerelle <command> [options]\n\nCommands:\n${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`passerelle: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const mod = await cmd.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (isGatewayError(err)) process.stderr.write(`passerelle: ${err.code}: ${err.message}\n`);
    else process.stderr.write(`passerelle: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
