/**
 * Login, logout and account management. A login regenerates the session (no fixation), every
 * attempt is audited, and a locked account or source is refused before the password is checked.
 */
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { AuditSink } from '../../gateway/audit/events.js';
import { actorOf, addressOf, sourceOf, viewContext } from './context.js';
import { t, type Lang } from './i18n.js';
import type { LoginThrottle } from './throttle.js';
import { ROLES, USER_NAME, type Role, type UserStore } from './users.js';
import { loginPage, usersPage } from './views/account.js';

export interface AccountDeps { readonly users: UserStore; readonly audit: AuditSink; readonly throttle: LoginThrottle; readonly lang: Lang; readonly demo: boolean; readonly now: () => Date }

export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

function field(req: Request, name: string, max: number): string {
  const v = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v.slice(0, max) : '';
}

function regenerate(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((e) => (e ? reject(e as Error) : resolve())));
}

export function accountHandlers(d: AccountDeps) {
  const ctx = (req: Request, res: Response) => viewContext(req, res, d.lang, d.demo);

  return {
    loginForm(req: Request, res: Response) {
      if (req.session.user) return void res.redirect(303, '/');
      req.session.csrf ??= newCsrfToken();
      res.type('html').send(loginPage(ctx(req, res)));
    },

    async login(req: Request, res: Response) {
      // The name is attacker-controlled: bounded and kept as data (audit details, escaped in views).
      const name = field(req, 'username', 64);
      const password = field(req, 'password', 256);
      const code = field(req, 'totp', 16);
      const now = d.now().getTime();
      const c = ctx(req, res);
      const lockedMs = d.throttle.lockedFor(name, addressOf(req), now);
      if (lockedMs > 0) {
        await d.audit.append({ type: 'admin.login_failed', actor: { id: name || '(vide)', kind: 'unknown', source: sourceOf(req) }, outcome: 'failure', details: { reason: 'locked' } });
        return void res.status(429).type('html').send(loginPage(c, t(c.lang, 'login_locked', { minutes: Math.ceil(lockedMs / 60_000) })));
      }
      const user = USER_NAME.test(name) ? await d.users.authenticate(name, password, code, d.now()) : null;
      if (!user) {
        const locked = d.throttle.fail(name, addressOf(req), now);
        await d.audit.append({ type: 'admin.login_failed', actor: { id: name || '(vide)', kind: 'unknown', source: sourceOf(req) }, outcome: 'failure', details: { reason: 'bad_credentials', locked } });
        return void res.status(401).type('html').send(loginPage(c, t(c.lang, 'login_failed')));
      }
      d.throttle.succeed(name);
      await regenerate(req);
      req.session.user = { name: user.name, role: user.role };
      req.session.csrf = newCsrfToken();
      req.session.loginAt = now;
      await d.audit.append({ type: 'admin.login', actor: actorOf(req), outcome: 'success', details: { role: user.role } });
      res.redirect(303, `/?lang=${c.lang}`);
    },

    async logout(req: Request, res: Response) {
      await d.audit.append({ type: 'admin.logout', actor: actorOf(req), outcome: 'success' });
      await new Promise<void>((resolve) => req.session.destroy(() => resolve()));
      res.clearCookie('__Host-passerelle', { path: '/', secure: true, httpOnly: true, sameSite: 'strict' });
      res.redirect(303, '/login');
    },

    async list(req: Request, res: Response) {
      await d.audit.append({ type: 'admin.page.viewed', actor: actorOf(req), outcome: 'success', details: { page: 'users' } });
      res.type('html').send(usersPage(ctx(req, res), await d.users.list()));
    },

    async create(req: Request, res: Response) {
      const c = ctx(req, res);
      const name = field(req, 'name', 64);
      const role = field(req, 'role', 16) as Role;
      const password = field(req, 'password', 256);
      const refuse = async (reason: string) => {
        await d.audit.append({ type: 'admin.user.created', actor: actorOf(req), outcome: 'failure', details: { name, role, reason } });
        res.status(400).type('html').send(usersPage(c, await d.users.list(), { ok: false, text: t(c.lang, 'users_error', { reason }) }));
      };
      if (!USER_NAME.test(name)) return refuse('name');
      if (!ROLES.includes(role)) return refuse('role');
      if (password.length < 12) return refuse('password');
      if (await d.users.get(name)) return refuse('exists');
      const user = await d.users.create({ name, role, password, totp: true });
      await d.audit.append({ type: 'admin.user.created', actor: actorOf(req), outcome: 'success', details: { name, role } });
      res.status(201).type('html').send(usersPage(c, await d.users.list(), { ok: true, text: t(c.lang, 'users_created_ok', { name, secret: user.totpSecret ?? '' }) }));
    },

    async remove(req: Request, res: Response) {
      const name = String(req.params['name'] ?? '');
      if (!USER_NAME.test(name) || name === req.session.user?.name) return void res.status(400).end();
      const removed = await d.users.remove(name);
      await d.audit.append({ type: 'admin.user.deleted', actor: actorOf(req), outcome: removed ? 'success' : 'failure', details: { name } });
      res.redirect(303, '/users');
    },
  };
}
