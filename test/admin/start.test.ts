/** startAdminUi: the one call the gateway process makes, over a real AuditLog, in demo and real mode. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAdminUi, type RunningAdminUi } from '../../admin-ui/server/index.js';
import { openAuditLog, type AuditLog } from '../../gateway/audit/log.js';
import { silentLogger } from '../../gateway/log.js';
import { Client, makeConfig, staticConfig } from './fixture.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function boot(demo: boolean): Promise<{ ui: RunningAdminUi; log: AuditLog }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'passerelle-admin-start-'));
  const confDir = await mkdtemp(join(tmpdir(), 'passerelle-admin-start-conf-'));
  cleanup.push(() => rm(dataDir, { recursive: true, force: true }), () => rm(confDir, { recursive: true, force: true }));
  const log = await openAuditLog({ dir: join(dataDir, 'audit'), origin: 'passerelle.test/audit', checkpointKeyFile: join(dataDir, 'audit', 'checkpoint.key'), checkpointIntervalMs: 3_600_000, log: silentLogger() });
  cleanup.push(() => log.close());
  await log.append({ type: 'gateway.start', actor: { id: 'gateway', kind: 'gateway' }, outcome: 'info' });
  await log.checkpoint();
  const ui = await startAdminUi({ config: staticConfig(await makeConfig(confDir)), audit: log, dataDir, demo, log: silentLogger(), host: '127.0.0.1', port: 0 });
  cleanup.push(() => ui.close());
  return { ui, log };
}

describe('startAdminUi', () => {
  it('in demo mode creates admin and dpo with TOTP, and the DPO can sign in and see a verified trail', async () => {
    const { ui, log } = await boot(true);
    expect(ui.demoAccounts.map((a) => [a.name, a.role])).toEqual([['admin', 'admin'], ['dpo', 'dpo']]);
    expect(ui.demoAccounts.every((a) => /^[A-Z2-7]{16,}$/.test(a.totpSecret) && a.password.length >= 12)).toBe(true);
    expect(ui.url).toBe(`https://127.0.0.1:${ui.server.port}/`);
    const c = new Client(ui.url);
    expect((await c.login(ui.demoAccounts[1]!)).status).toBe(303);
    const home = await c.get('/');
    expect(home.body).toMatch(/Vérification du journal : réussie/);
    expect(home.body).toContain(ui.fingerprint);
    expect(await log.count({ type: 'admin.login' })).toBe(1);
  });

  it('outside demo mode creates no account', async () => {
    const { ui } = await boot(false);
    expect(ui.demoAccounts).toEqual([]);
    const r = await new Client(ui.url).login({ name: 'admin', password: 'whatever-password', totpSecret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' });
    expect(r.status).toBe(401);
  });
});
