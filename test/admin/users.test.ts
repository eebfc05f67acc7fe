import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'otplib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adminUserCommand } from '../../admin-ui/server/users-command.js';
import { openUserStore } from '../../admin-ui/server/users.js';
import { ArrayAuditData } from './array-audit.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'passerelle-admin-users-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) } };
}

describe('user store', () => {
  it('stores argon2id hashes in a 0600 file, never the password', async () => {
    const store = await openUserStore(join(dir, 'admin'), { requireTotp: true });
    const u = await store.create({ name: 'alice', role: 'dpo', password: 'correct horse battery', totp: true });
    const file = join(dir, 'admin', 'users.json');
    const text = await readFile(file, 'utf8');
    expect(text).toContain('$argon2id$');
    expect(text).not.toContain('correct horse battery');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const code = await generate({ secret: u.totpSecret! });
    expect((await store.authenticate('alice', 'correct horse battery', code))?.role).toBe('dpo');
    expect(await store.authenticate('alice', 'wrong password!', code)).toBeNull();
    expect(await store.authenticate('alice', 'correct horse battery', '000000' === code ? '111111' : '000000')).toBeNull();
    expect(await store.authenticate('bob', 'correct horse battery', code)).toBeNull();
    // Reopened from disk: same accounts.
    const again = await openUserStore(join(dir, 'admin'), { requireTotp: true });
    expect((await again.list()).map((x) => x.name)).toEqual(['alice']);
  });

  it('refuses weak or malformed accounts and accounts without TOTP when TOTP is required', async () => {
    const store = await openUserStore(join(dir, 'admin'), { requireTotp: true });
    await expect(store.create({ name: 'bob', role: 'dpo', password: 'short', totp: true })).rejects.toThrow('too short');
    await expect(store.create({ name: '<b>', role: 'dpo', password: 'long enough password', totp: true })).rejects.toThrow('invalid user name');
    await expect(store.create({ name: 'bob', role: 'root' as 'dpo', password: 'long enough password', totp: true })).rejects.toThrow('invalid role');
    await expect(store.create({ name: 'bob', role: 'dpo', password: 'long enough password', totp: false })).rejects.toThrow('TOTP required');
  });
});

describe('admin-user command', () => {
  it('adds the first admin with a TOTP secret, lists and removes it, each audited', async () => {
    const audit = new ArrayAuditData();
    const a = io();
    expect(await adminUserCommand(['add', 'chef', '--role', 'admin'], a.io, { dataDir: dir, audit, env: {} })).toBe(0);
    const text = a.out.join('');
    const password = /mot de passe : (\S+)/.exec(text)?.[1];
    const secret = /secret TOTP .*: ([A-Z2-7]+)/.exec(text)?.[1];
    expect(text).toContain('otpauth://totp/Passerelle:chef?');
    const store = await openUserStore(join(dir, 'admin'), { requireTotp: true });
    expect((await store.authenticate('chef', password!, await generate({ secret: secret! })))?.role).toBe('admin');
    const l = io();
    expect(await adminUserCommand(['list'], l.io, { dataDir: dir })).toBe(0);
    expect(l.out.join('')).toMatch(/^chef\tadmin\ttotp\t/);
    expect(await adminUserCommand(['add', 'chef', '--role', 'dpo'], io().io, { dataDir: dir, env: {} })).toBe(1);
    expect(await adminUserCommand(['remove', 'chef'], io().io, { dataDir: dir, audit })).toBe(0);
    expect(audit.entries.map((e) => e.type)).toEqual(['admin.user.created', 'admin.user.deleted']);
    expect(JSON.stringify(audit.entries)).not.toContain(password!);
  });

  it('takes the password from the environment and rejects bad arguments', async () => {
    const a = io();
    expect(await adminUserCommand(['add', 'dpo1', '--role', 'dpo'], a.io, { dataDir: dir, env: { PASSERELLE_ADMIN_PASSWORD: 'from the environment' } })).toBe(0);
    expect(a.out.join('')).not.toContain('mot de passe');
    expect(await adminUserCommand(['add', 'dpo2', '--role', 'dpo'], io().io, { dataDir: dir, env: { PASSERELLE_ADMIN_PASSWORD: 'short' } })).toBe(2);
    expect(await adminUserCommand(['add', 'x', '--role', 'god'], io().io, { dataDir: dir, env: {} })).toBe(2);
    expect(await adminUserCommand(['frobnicate'], io().io, { dataDir: dir })).toBe(2);
  });
});

describe('passerelle admin-user (the real CLI)', () => {
  it('creates an account usable for login and records it in the existing audit trail', async () => {
    const { spawnSync } = await import('node:child_process');
    const { openAuditLog } = await import('../../gateway/audit/log.js');
    const { silentLogger } = await import('../../gateway/log.js');
    const auditDir = join(dir, 'audit');
    const opts = { dir: auditDir, origin: 'passerelle.test/audit', checkpointKeyFile: join(auditDir, 'checkpoint.key'), checkpointIntervalMs: 3_600_000, log: silentLogger() };
    const first = await openAuditLog(opts);
    await first.append({ type: 'gateway.start', actor: { id: 'gateway', kind: 'gateway' }, outcome: 'info' });
    await first.close();
    const root = join(import.meta.dirname, '..', '..');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'gateway', 'cli', 'main.ts'), 'admin-user', 'add', 'chef', '--role', 'admin', '--data', dir], { cwd: root, encoding: 'utf8', env: { ...process.env, PASSERELLE_ADMIN_PASSWORD: 'a long enough password' } });
    expect(r.status, r.stderr).toBe(0);
    const secret = /secret TOTP .*: ([A-Z2-7]+)/.exec(r.stdout)?.[1];
    const store = await openUserStore(join(dir, 'admin'), { requireTotp: true });
    expect((await store.authenticate('chef', 'a long enough password', await generate({ secret: secret! })))?.role).toBe('admin');
    const log = await openAuditLog(opts);
    try {
      const [rec] = await log.query({ type: 'admin.user.created' });
      expect(rec?.entry.details).toMatchObject({ name: 'chef', role: 'admin', via: 'cli' });
      expect(rec?.entry.actor?.kind).toBe('admin');
    } finally {
      await log.close();
    }
  });
});
