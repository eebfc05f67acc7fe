/**
 * `passerelle admin-user add NAME --role admin|dpo | list | remove NAME [--data DIR]` — admin UI
 * accounts from the command line (the first admin outside demo mode). The work is in
 * admin-ui/server/users-command.ts; this module prints and opens the audit trail, when one
 * exists, so that the change is recorded (actor = the local OS user).
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { adminUserCommand } from '../../../admin-ui/server/users-command.js';
import { openAuditLog, type AuditLog } from '../../audit/log.js';
import { AUDIT_DB_FILE, openSqliteAuditStore } from '../../audit/store.js';
import { silentLogger } from '../../log.js';
import { dataLayout } from '../../paths.js';

async function openTrail(dataDir: string): Promise<AuditLog | undefined> {
  const dir = dataLayout(dataDir).audit;
  if (!existsSync(join(dir, AUDIT_DB_FILE))) return undefined;
  const store = openSqliteAuditStore(dir, { readonly: true });
  const origin = await store.getMeta('origin');
  await store.close();
  if (origin === undefined) return undefined;
  return openAuditLog({ dir, origin, checkpointKeyFile: null, checkpointIntervalMs: 60_000, log: silentLogger() });
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { data: { type: 'string' }, role: { type: 'string' } } });
  const dataDir = resolve(values.data ?? process.env['PASSERELLE_DATA'] ?? './var');
  const args = values.role !== undefined ? [...positionals, '--role', values.role] : positionals;
  const audit = args[0] === 'list' ? undefined : await openTrail(dataDir);
  if (!audit && args[0] !== 'list') process.stderr.write(`(pas de journal d'audit dans ${dataDir} : changement non journalisé / no audit trail yet)\n`);
  try {
    return await adminUserCommand(args, { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }, { dataDir, ...(audit ? { audit } : {}), env: process.env, actor: userInfo().username });
  } finally {
    await audit?.close();
  }
}
