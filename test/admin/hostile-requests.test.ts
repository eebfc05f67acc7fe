/**
 * Every GET route of the admin UI, signed in as admin (who may see them all), with hostile route
 * parameters and hostile values for every query parameter the pages read (security.md,
 * invariant 8: no user-supplied HTML is ever rendered). Each answer must be a page, a redirect,
 * 400, 403 or 404 — never a 500 — no page may carry the hostile markup unescaped, and what is
 * not a page is a download that is not sniffed. Query parameters given twice (arrays) and
 * bracketed (objects) too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../admin-ui/server/routes.js';
import { Client, startFixture, type Fixture } from './fixture.js';

// Tag names no page uses, so that finding one means it came from the request.
const MARKUP = '<zzx/onload=alert(7)>';
const HOSTILE = [MARKUP, '"><zzq>x', '../../../../etc/passwd', '..%2f..%2fetc%2fpasswd', '\u0000', '%00', '-1', '1e309', 'NaN', '0x10', '9007199254740993', 'x'.repeat(4000), 'ł̷̢͔̅', '2026-02-30', '2026-13-01T25:61:61Z', '*', '%', '\\', "' OR 1=1 --"];
const QUERY = ['type', 'actor', 'outcome', 'from', 'to', 'page', 'format', 'print', 'lang'];

let fx: Fixture;
let client: Client;
beforeAll(async () => {
  fx = await startFixture();
  client = new Client(fx.url);
  expect((await client.login(fx.accounts.admin)).status).toBe(303);
});
afterAll(async () => {
  await fx?.close();
});

function check(path: string, r: { status: number; body: string; headers: Record<string, string | string[] | undefined> }, problems: string[]): void {
  // 403: the static file server's answer to a path that climbs out of its directory.
  if (![200, 302, 303, 400, 403, 404].includes(r.status)) problems.push(`${path}: ${r.status}`);
  const type = String(r.headers['content-type'] ?? '');
  if (type.startsWith('text/html')) {
    // An opening tag of ours, whatever became of the rest: '<' is what must never pass.
    if (/<zz[xq]/i.test(r.body)) problems.push(`${path}: hostile markup in the page`);
  } else if (r.status === 200) {
    // Exports hold audit data, the requests above included (each view is audited): as a
    // download that no browser renders, never as a page.
    if (!/^(text\/csv|application\/x-ndjson|application\/json|text\/css|application\/javascript|text\/javascript)/.test(type)) problems.push(`${path}: served as ${type}`);
    if (r.headers['x-content-type-options'] !== 'nosniff') problems.push(`${path}: no nosniff`);
  }
}

describe('hostile requests to every admin page', () => {
  const gets = ROUTES.filter((r) => r.method === 'GET' && r.path !== '/login');

  it('hostile route parameters', async () => {
    const problems: string[] = [];
    for (const rule of gets.filter((r) => r.path.includes(':'))) {
      for (const h of HOSTILE) {
        const path = rule.path.replace(/:[a-zA-Z]+/, encodeURIComponent(h));
        check(path, await client.get(path), problems);
      }
    }
    expect(problems.slice(0, 10)).toEqual([]);
  });

  it('hostile query parameters, single, repeated and bracketed', async () => {
    const problems: string[] = [];
    for (const rule of gets) {
      const base = rule.path.replace(':uploadId', fx.uploads.accepted).replace(':index', '0').replace(':file', 'app.css');
      for (const name of QUERY) {
        for (const h of HOSTILE) {
          const v = encodeURIComponent(h);
          // Repeated (an array) and bracketed (an object): with the markup only.
          for (const q of h === MARKUP ? [`${name}=${v}`, `${name}=${v}&${name}=${v}`, `${name}[x]=${v}`] : [`${name}=${v}`]) {
            const path = `${base}?${rule.path === '/audit/export' && name !== 'format' ? 'format=csv&' : ''}${q}`;
            check(path, await client.get(path), problems);
          }
        }
      }
    }
    expect(problems.slice(0, 10)).toEqual([]);
  }, 300_000);

  it('the session is still good after all of it', async () => {
    const r = await client.get('/');
    expect(r.status).toBe(200);
  });
});
