/**
 * `passerelle admin-user add|list|remove`: account management from the command line, needed for
 * the first admin account outside demo mode. The CLI module wraps this (it owns printing): it
 * passes `io`, the data directory and, when the gateway's audit log is available, the sink.
 */
import { generateURI } from 'otplib';
import type { AuditSink } from '../../gateway/audit/events.js';
import { dataLayout } from '../../gateway/paths.js';
import { openUserStore, randomPassword, ROLES, USER_NAME, type Role } from './users.js';

export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

export const ADMIN_USER_USAGE = `usage : passerelle admin-user add NOM --role admin|dpo
        passerelle admin-user list
        passerelle admin-user remove NOM
Le mot de passe est lu dans PASSERELLE_ADMIN_PASSWORD (12 caractères au moins) ou tiré au hasard et affiché.
`;

export async function adminUserCommand(argv: readonly string[], io: CommandIo, deps: { dataDir: string; audit?: AuditSink; env?: NodeJS.ProcessEnv; actor?: string }): Promise<number> {
  const [verb, name, ...rest] = argv;
  const store = await openUserStore(dataLayout(deps.dataDir).admin, { requireTotp: true });
  const actor = { id: deps.actor ?? 'cli', kind: 'admin' as const };
  if (verb === 'list' && name === undefined) {
    for (const u of await store.list()) io.out(`${u.name}\t${u.role}\t${u.totpSecret ? 'totp' : 'sans totp'}\t${u.createdAt}\n`);
    return 0;
  }
  if (verb === 'add' && name !== undefined && rest.length === 2 && rest[0] === '--role') {
    const role = rest[1] as Role;
    if (!USER_NAME.test(name) || !ROLES.includes(role)) {
      io.err(`nom ou rôle invalide\n${ADMIN_USER_USAGE}`);
      return 2;
    }
    if (await store.get(name)) {
      io.err(`le compte ${name} existe déjà\n`);
      return 1;
    }
    const given = deps.env?.['PASSERELLE_ADMIN_PASSWORD'];
    if (given !== undefined && given.length < 12) {
      io.err('PASSERELLE_ADMIN_PASSWORD : 12 caractères au moins\n');
      return 2;
    }
    const password = given ?? randomPassword();
    const user = await store.create({ name, role, password, totp: true });
    await deps.audit?.append({ type: 'admin.user.created', actor, outcome: 'success', details: { name, role, via: 'cli' } });
    const secret = user.totpSecret ?? '';
    io.out(`compte ${name} (${role}) créé\n`);
    if (given === undefined) io.out(`mot de passe : ${password}\n`);
    io.out(`secret TOTP (à saisir dans l'application d'authentification) : ${secret}\n`);
    io.out(`URI : ${generateURI({ issuer: 'Passerelle', label: name, secret })}\n`);
    return 0;
  }
  if (verb === 'remove' && name !== undefined && rest.length === 0) {
    const removed = await store.remove(name);
    await deps.audit?.append({ type: 'admin.user.deleted', actor, outcome: removed ? 'success' : 'failure', details: { name, via: 'cli' } });
    if (!removed) io.err(`pas de compte ${name}\n`);
    return removed ? 0 : 1;
  }
  io.err(ADMIN_USER_USAGE);
  return 2;
}
