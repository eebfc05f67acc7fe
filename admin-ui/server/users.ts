/**
 * Local admin accounts: a JSON file in dataDir/admin (0600), argon2id password hashes, a TOTP
 * secret per account (required outside demo mode). Writes go to a temporary file then rename,
 * so a crash never leaves a half-written store. One process owns the file.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hash, verify, Algorithm } from '@node-rs/argon2';
import { generateSecret, verify as verifyTotp } from 'otplib';

export type Role = 'admin' | 'dpo';
export const ROLES: readonly Role[] = ['admin', 'dpo'];

export interface AdminUser {
  readonly name: string;
  readonly role: Role;
  readonly passwordHash: string;
  /** Base32 TOTP secret; null only for demo accounts created without one. */
  readonly totpSecret: string | null;
  readonly createdAt: string;
}

export interface NewUser { readonly name: string; readonly role: Role; readonly password: string; readonly totp: boolean }

export interface UserStore {
  get(name: string): Promise<AdminUser | null>;
  list(): Promise<readonly AdminUser[]>;
  /** Creates the account; returns it with its TOTP secret (shown once to the admin). */
  create(user: NewUser): Promise<AdminUser>;
  remove(name: string): Promise<boolean>;
  /** Checks password and TOTP code (each code once); a missing account costs a hash like a present one. */
  authenticate(name: string, password: string, code: string, now?: Date): Promise<AdminUser | null>;
}

export const USER_NAME = /^[a-z][a-z0-9._-]{1,31}$/;
const ARGON = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export function randomPassword(): string {
  return randomBytes(12).toString('base64url');
}

/**
 * TOTP code check, one 30 s step of tolerance either side for clock drift. Returns the time step
 * the code belongs to, or null. `afterStep`: steps up to it are refused (RFC 6238 §5.2: a code
 * is accepted once).
 */
export async function checkTotp(secret: string, code: string, now: Date = new Date(), afterStep?: number): Promise<number | null> {
  if (!/^\d{6}$/.test(code)) return null;
  try {
    const epoch = Math.floor(now.getTime() / 1000);
    const r = await verifyTotp({ secret, token: code, epoch, epochTolerance: 30, ...(afterStep !== undefined ? { afterTimeStep: afterStep } : {}) });
    if (!r.valid) return null;
    // The functional API's result type covers HOTP too; a TOTP result carries its time step.
    return 'timeStep' in r ? r.timeStep : Math.floor(epoch / 30) + r.delta;
  } catch {
    return null; // a malformed stored secret authenticates nobody
  }
}

export async function openUserStore(adminDir: string, options: { requireTotp: boolean }): Promise<UserStore> {
  const file = join(adminDir, 'users.json');
  await mkdir(adminDir, { recursive: true, mode: 0o700 });
  let users: AdminUser[] = [];
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (Array.isArray(parsed)) users = parsed as AdminUser[];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  // Last TOTP step accepted per account, so a code cannot be replayed (memory: one process).
  const lastStep = new Map<string, number>();
  // A dummy hash so that an unknown name costs the same work as a known one.
  const dummy = await hash(randomPassword(), ARGON);
  let chain: Promise<unknown> = Promise.resolve();
  const save = (): Promise<void> => {
    const next = chain.then(async () => {
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(users, null, 2), { mode: 0o600 });
      await chmod(tmp, 0o600);
      await rename(tmp, file);
    });
    chain = next.catch(() => undefined);
    return next;
  };
  return {
    get: async (name) => users.find((u) => u.name === name) ?? null,
    list: async () => [...users],
    async create(u) {
      if (!USER_NAME.test(u.name)) throw new Error('invalid user name');
      if (!ROLES.includes(u.role)) throw new Error('invalid role');
      if (users.some((x) => x.name === u.name)) throw new Error('user exists');
      if (u.password.length < 12) throw new Error('password too short');
      if (options.requireTotp && !u.totp) throw new Error('TOTP required');
      const user: AdminUser = { name: u.name, role: u.role, passwordHash: await hash(u.password, ARGON), totpSecret: u.totp ? generateSecret() : null, createdAt: new Date().toISOString() };
      users = [...users, user];
      await save();
      return user;
    },
    async remove(name) {
      const before = users.length;
      users = users.filter((u) => u.name !== name);
      if (users.length === before) return false;
      await save();
      return true;
    },
    async authenticate(name, password, code, now = new Date()) {
      const user = users.find((u) => u.name === name);
      const ok = await verify(user?.passwordHash ?? dummy, password).catch(() => false);
      if (!user || !ok) return null;
      if (user.totpSecret === null) return options.requireTotp ? null : user;
      const step = await checkTotp(user.totpSecret, code, now, lastStep.get(name));
      if (step === null) return null;
      lastStep.set(name, step);
      return user;
    },
  };
}

export interface DemoAccount { readonly name: string; readonly role: Role; readonly password: string; readonly totpSecret: string }

/**
 * Demo mode: (re)creates `admin` and `dpo` with fresh random passwords and TOTP secrets, which
 * the caller prints. Never called outside demo mode.
 */
export async function createDemoAccounts(store: UserStore): Promise<DemoAccount[]> {
  const out: DemoAccount[] = [];
  for (const role of ROLES) {
    await store.remove(role);
    const password = randomPassword();
    const user = await store.create({ name: role, role, password, totp: true });
    out.push({ name: role, role, password, totpSecret: user.totpSecret ?? '' });
  }
  return out;
}
