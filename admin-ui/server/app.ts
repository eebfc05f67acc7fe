/**
 * The admin web application. Every request passes, in order: security headers → static assets
 * (public) → session → the route table guard (authentication, role, session lifetime) → CSRF
 * check on every state-changing method → the handler. Handlers can only be registered for
 * routes listed in routes.ts. Errors never echo input: the page shows a reference, the log the
 * detail.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import helmet from 'helmet';
import type { AuditSink } from '../../gateway/audit/events.js';
import type { ConfigSource } from '../../gateway/config/model.js';
import { isStorageFull } from '../../gateway/errors.js';
import type { Logger } from '../../gateway/log.js';
import { accountHandlers } from './accounts.js';
import { actorOf, langOf, LANG_COOKIE, qs, viewContext } from './context.js';
import type { AdminData } from './data.js';
import { t, type Lang } from './i18n.js';
import { pageHandlers } from './pages.js';
import { allowed, assertListed, ruleFor, type Method } from './routes.js';
import { LoginThrottle, type ThrottlePolicy } from './throttle.js';
import type { UserStore } from './users.js';
import { message } from './views/layout.js';

export { startAdminServer, type AdminServer, type AdminServerOptions } from './server.js';

export const SESSION_COOKIE = '__Host-passerelle';
export const IDLE_TIMEOUT_MS = 15 * 60_000;
export const ABSOLUTE_TIMEOUT_MS = 8 * 3_600_000;

export const CSP = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'frame-ancestors': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
};

export interface AdminAppDeps {
  readonly data: AdminData;
  readonly audit: AuditSink;
  readonly users: UserStore;
  readonly config: ConfigSource;
  readonly demo: boolean;
  readonly log: Logger;
  readonly lang?: Lang;
  /** Lock-out policy (defaults: 5 failures per account, 20 per source, 15 min). */
  readonly throttle?: ThrottlePolicy;
  /** Clock, for tests of expiry and of the dashboard window. */
  readonly now?: () => Date;
  /**
   * Host names (without port) accepted in the Host header; anything else is answered 421, which
   * defeats DNS rebinding against the loopback listener. Default: loopback names only.
   */
  readonly allowedHosts?: readonly string[];
  /** Directory of the static assets (default: admin-ui/public next to the sources). */
  readonly publicDir?: string;
}

/** admin-ui/public, found from the source tree or from dist/ (tsc does not copy assets). */
export const LOOPBACK_HOSTS: readonly string[] = ['127.0.0.1', 'localhost', '[::1]'];

/** The host name of a Host header ("127.0.0.1:8443" → "127.0.0.1", "[::1]:8443" → "[::1]"). */
export function hostName(header: string | undefined): string {
  const h = (header ?? '').toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const i = h.lastIndexOf(':');
  return i >= 0 ? h.slice(0, i) : h;
}

export function defaultPublicDir(): string {
  const candidates = ['../public/', '../../../admin-ui/public/'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function createAdminApp(deps: AdminAppDeps): express.Application {
  const lang = deps.lang ?? 'fr';
  const now = deps.now ?? (() => new Date());
  const throttle = new LoginThrottle(deps.throttle);
  const pages = pageHandlers({ data: deps.data, audit: deps.audit, lang, demo: deps.demo, now });
  const accounts = accountHandlers({ users: deps.users, audit: deps.audit, throttle, lang, demo: deps.demo, now });
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('query parser', 'simple');

  const hosts = new Set((deps.allowedHosts ?? LOOPBACK_HOSTS).map((h) => h.toLowerCase()));
  app.use((req, res, next) => {
    if (hosts.has(hostName(req.headers.host))) return next();
    res.status(421).type('text/plain').send('Misdirected Request');
  });
  app.use(
    helmet({
      contentSecurityPolicy: { useDefaults: false, directives: CSP },
      strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
      referrerPolicy: { policy: 'no-referrer' },
      xFrameOptions: { action: 'deny' },
      crossOriginEmbedderPolicy: true,
    }),
  );
  app.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  app.use('/assets', express.static(deps.publicDir ?? defaultPublicDir(), { index: false, dotfiles: 'deny', fallthrough: false, redirect: false }));
  app.use(
    session({
      name: SESSION_COOKIE,
      // A fresh secret per process: sessions do not survive a restart, by design (memory store).
      secret: randomBytes(32).toString('hex'),
      resave: false,
      saveUninitialized: false,
      rolling: true,
      cookie: { secure: true, httpOnly: true, sameSite: 'strict', path: '/', maxAge: IDLE_TIMEOUT_MS },
    }),
  );
  app.use((req, res, next) => {
    const q = qs(req, 'lang');
    if (q && q === langOf(req, lang)) res.cookie(LANG_COOKIE, q, { secure: true, httpOnly: true, sameSite: 'strict', path: '/' });
    next();
  });
  app.use(express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 }));

  const fail = (req: Request, res: Response, status: number, key: 'err_forbidden' | 'err_not_found' | 'err_csrf' | 'err_bad_request') => {
    const c = viewContext(req, res, lang, deps.demo);
    res.status(status).type('html').send(message(c, t(c.lang, key), t(c.lang, key)));
  };

  // The guard: the route table decides, for every request, before any handler.
  app.use((req, res, next) => {
    void (async () => {
      const rule = ruleFor(req.method, req.path);
      const s = req.session;
      if (s.user) {
        const current = await deps.users.get(s.user.name);
        const expired = now().getTime() - (s.loginAt ?? 0) > ABSOLUTE_TIMEOUT_MS;
        if (!current || current.role !== s.user.role || expired) {
          await new Promise<void>((r) => s.regenerate(() => r()));
        }
      }
      const role = req.session.user?.role;
      if (!rule) return req.session.user ? fail(req, res, 404, 'err_not_found') : res.redirect(303, '/login');
      if (allowed(rule, role)) return next();
      if (!role) return req.method === 'GET' ? res.redirect(303, '/login') : fail(req, res, 401, 'err_forbidden');
      await deps.audit.append({ type: 'admin.access_denied', actor: actorOf(req), outcome: 'failure', details: { method: req.method, route: rule.path } });
      fail(req, res, 403, 'err_forbidden');
    })().catch(next);
  });

  // CSRF: synchronizer token on every state-changing request, plus a same-origin check.
  app.use((req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
    // With Referrer-Policy no-referrer, browsers send "Origin: null" on same-origin form posts:
    // only a real, different origin is refused here; the token is the primary defence.
    const origin = req.headers.origin === 'null' ? undefined : req.headers.origin;
    const crossSite = req.headers['sec-fetch-site'] === 'cross-site';
    const sent = (req.body as Record<string, unknown> | undefined)?.['_csrf'] ?? req.headers['x-csrf-token'];
    if (crossSite || (origin !== undefined && origin !== `https://${req.headers.host ?? ''}`) || !sameToken(typeof sent === 'string' ? sent : undefined, req.session.csrf)) {
      void deps.audit
        .append({ type: 'admin.csrf_refused', actor: actorOf(req), outcome: 'failure', details: { method: req.method, path: req.path.slice(0, 128) } })
        .then(() => fail(req, res, 403, 'err_csrf'), next);
      return;
    }
    next();
  });

  const on = (method: Method, path: string, handler: (req: Request, res: Response) => unknown) => {
    assertListed(method, path);
    const wrapped = (req: Request, res: Response, next: NextFunction) => {
      Promise.resolve(handler(req, res)).catch(next);
    };
    if (method === 'GET') app.get(path, wrapped);
    else app.post(path, wrapped);
  };
  on('GET', '/login', accounts.loginForm);
  on('POST', '/login', accounts.login);
  on('POST', '/logout', accounts.logout);
  on('GET', '/', pages.dashboard);
  on('GET', '/audit', pages.audit);
  on('GET', '/audit/export', pages.exportAudit);
  on('GET', '/transfer', pages.transferLookup);
  on('GET', '/transfer/:uploadId', pages.transfer);
  on('GET', '/proof/:index', pages.proof);
  on('GET', '/register', pages.register);
  on('GET', '/parties', pages.parties);
  on('GET', '/users', accounts.list);
  on('POST', '/users', accounts.create);
  on('POST', '/users/:name/delete', accounts.remove);

  app.use((req: Request, res: Response) => fail(req, res, 404, 'err_not_found'));
  // Errors: a reference for the operator's log; nothing from the request is echoed.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = typeof (err as { status?: unknown })?.status === 'number' ? (err as { status: number }).status : 500;
    const ref = randomBytes(6).toString('hex');
    deps.log.error({ ref, status, path: req.path, err: err instanceof Error ? { name: err.name, message: err.message, code: (err as { code?: unknown }).code } : String(err) }, 'admin UI error');
    if (res.headersSent) return void res.destroy();
    const c = viewContext(req, res, lang, deps.demo);
    // A full disk is said as such: nothing that needs an audit entry can happen until room is
    // freed, and the operator must know that rather than look up a reference.
    if (isStorageFull(err)) {
      const text = t(c.lang, 'err_storage_full', { ref });
      return void res.status(503).type('html').send(message(c, text, text));
    }
    const text = status < 500 ? t(c.lang, status === 404 ? 'err_not_found' : 'err_bad_request') : t(c.lang, 'err_internal', { ref });
    res.status(status < 500 && status >= 400 ? status : 500).type('html').send(message(c, text, text));
  });
  return app;
}
