/**
 * One call for the gateway process (`passerelle start` / the demo) to run the admin UI next to
 * the SFTP server: accounts, data adapters over the configuration and the running audit log,
 * the app, the HTTPS listener. The caller prints the URL, the fingerprint and, in demo mode,
 * the demo accounts (only gateway/cli prints).
 */
import { resolve } from 'node:path';
import type { AuditLog } from '../../gateway/audit/log.js';
import { parseVerifierKey } from '../../gateway/audit/notekey.js';
import { openSqliteAuditStore } from '../../gateway/audit/store.js';
import { verifyAuditStore } from '../../gateway/audit/verify.js';
import type { ConfigSource } from '../../gateway/config/model.js';
import type { Logger } from '../../gateway/log.js';
import { dataLayout } from '../../gateway/paths.js';
import { createAdminApp, LOOPBACK_HOSTS } from './app.js';
import { auditLogReader } from './audit-adapter.js';
import { createAdminData } from './data.js';
import type { Lang } from './i18n.js';
import { startAdminServer, type AdminServer } from './server.js';
import { createDemoAccounts, openUserStore, type DemoAccount } from './users.js';

export interface AdminUiOptions {
  readonly config: ConfigSource;
  /** The running gateway's audit log: the UI reads it and writes its own events through it. */
  readonly audit: AuditLog;
  readonly dataDir: string;
  readonly demo: boolean;
  readonly log: Logger;
  /** Defaults: settings.admin of the configuration. */
  readonly host?: string;
  readonly port?: number;
  readonly allowRemote?: boolean;
  /** With allowRemote: the host names users type (added to the loopback names for the Host check). */
  readonly publicHostnames?: readonly string[];
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly lang?: Lang;
}

export interface RunningAdminUi {
  readonly server: AdminServer;
  readonly url: string;
  readonly fingerprint: string;
  /** Demo mode only: the accounts to print (passwords and TOTP secrets); empty otherwise. */
  readonly demoAccounts: readonly DemoAccount[];
  close(): Promise<void>;
}

export async function startAdminUi(o: AdminUiOptions): Promise<RunningAdminUi> {
  const settings = o.config.current().settings;
  const layout = dataLayout(o.dataDir);
  const users = await openUserStore(layout.admin, { requireTotp: !o.demo });
  const demoAccounts = o.demo ? await createDemoAccounts(users) : [];
  const store = openSqliteAuditStore(layout.audit, { readonly: true });
  const verifierKey = o.audit.verifierKey ?? '';
  const key = verifierKey ? parseVerifierKey(verifierKey) : null;
  const reader = auditLogReader({
    log: o.audit,
    verifierKey,
    verify: async () => (key ? verifyAuditStore(store, { key, origin: settings.audit?.origin }) : { ok: false, entries: 0, purged: 0, checkpoints: 0, uncheckpointed: 0 }),
  });
  const data = createAdminData({ config: o.config, audit: reader });
  const host = o.host ?? settings.admin?.host ?? '127.0.0.1';
  const allowedHosts = [...LOOPBACK_HOSTS, ...(o.allowRemote ? [host.includes(':') ? `[${host}]` : host, ...(o.publicHostnames ?? [])] : [])];
  const app = createAdminApp({ data, audit: o.audit, users, config: o.config, demo: o.demo, log: o.log, allowedHosts, ...(o.lang ? { lang: o.lang } : {}) });
  // Configured certificate paths are relative to the configuration directory.
  const tlsCert = o.tlsCert ?? (settings.admin?.tlsCert ? resolve(o.config.current().dir, settings.admin.tlsCert) : undefined);
  const tlsKey = o.tlsKey ?? (settings.admin?.tlsKey ? resolve(o.config.current().dir, settings.admin.tlsKey) : undefined);
  const server = await startAdminServer({
    app, host, port: o.port ?? settings.admin?.port ?? 8443, dataDir: o.dataDir, allowRemote: o.allowRemote === true,
    ...(tlsCert && tlsKey ? { tlsCert, tlsKey } : {}),
  });
  if (server.replacedCertificate) {
    o.log.warn({ movedTo: server.replacedCertificate, fingerprint: server.fingerprint }, 'admin UI certificate unusable (refused by OpenSSL or half missing): a new one was made, its fingerprint changes');
  }
  o.log.info({ host, port: server.port, fingerprint: server.fingerprint }, 'admin UI listening');
  return {
    server,
    url: `https://${host.includes(':') ? `[${host}]` : host}:${server.port}/`,
    fingerprint: server.fingerprint,
    demoAccounts,
    async close() {
      await server.close();
      await store.close();
    },
  };
}
