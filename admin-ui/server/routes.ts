/**
 * Every route of the admin UI and who may use it: the one table the server enforces. A handler
 * can only be registered for a (method, path) listed here (`assertListed`), and the guard looks
 * the request up in the same table, so a route cannot exist without a rule.
 */
import type { Role } from './users.js';

export type Method = 'GET' | 'POST';
export type Access = 'public' | readonly Role[];

export interface RouteRule { readonly method: Method; readonly path: string; readonly access: Access }

const BOTH: readonly Role[] = ['admin', 'dpo'];
const ADMIN: readonly Role[] = ['admin'];

export const ROUTES: readonly RouteRule[] = [
  { method: 'GET', path: '/login', access: 'public' },
  { method: 'POST', path: '/login', access: 'public' },
  { method: 'GET', path: '/assets/:file', access: 'public' },
  { method: 'POST', path: '/logout', access: BOTH },
  { method: 'GET', path: '/', access: BOTH },
  { method: 'GET', path: '/audit', access: BOTH },
  { method: 'GET', path: '/audit/export', access: BOTH },
  { method: 'GET', path: '/transfer', access: BOTH },
  { method: 'GET', path: '/transfer/:uploadId', access: BOTH },
  { method: 'GET', path: '/proof/:index', access: BOTH },
  { method: 'GET', path: '/register', access: BOTH },
  { method: 'GET', path: '/parties', access: BOTH },
  { method: 'GET', path: '/users', access: ADMIN },
  { method: 'POST', path: '/users', access: ADMIN },
  { method: 'POST', path: '/users/:name/delete', access: ADMIN },
];

function matches(pattern: string, path: string): boolean {
  const p = pattern.split('/');
  const s = path.split('/');
  if (p.length !== s.length) return false;
  return p.every((seg, i) => (seg.startsWith(':') ? (s[i] ?? '') !== '' : seg === s[i]));
}

/** The rule for a request, or undefined (then: 404 for a signed-in user, login otherwise). */
export function ruleFor(method: string, path: string): RouteRule | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  return ROUTES.find((r) => r.method === m && matches(r.path, path));
}

export function assertListed(method: Method, path: string): RouteRule {
  const r = ROUTES.find((x) => x.method === method && x.path === path);
  if (!r) throw new Error(`route ${method} ${path} has no access rule`);
  return r;
}

export function allowed(rule: RouteRule, role: Role | undefined): boolean {
  return rule.access === 'public' || (role !== undefined && rule.access.includes(role));
}
