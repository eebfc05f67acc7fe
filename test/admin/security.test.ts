import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../admin-ui/server/routes.js';
import { startAdminServer } from '../../admin-ui/server/app.js';
import { Client, startFixture, XSS, type Fixture } from './fixture.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

/** A concrete path for a route pattern. */
function concrete(path: string): string {
  return (path === '/audit/export' ? '/audit/export?format=csv' : path).replace(':uploadId', fx.uploads.accepted).replace(':index', '0').replace(':name', 'nobody').replace(':file', 'app.css');
}

async function session(role: 'admin' | 'dpo' | 'anonymous'): Promise<{ client: Client; csrf: string }> {
  const client = new Client(fx.url);
  if (role === 'anonymous') {
    const page = await client.get('/login');
    return { client, csrf: Client.csrf(page.body) };
  }
  const r = await client.login(fx.accounts[role]);
  expect(r.status).toBe(303);
  const home = await client.get('/');
  return { client, csrf: Client.csrf(home.body) };
}

describe('role × route matrix', () => {
  for (const role of ['anonymous', 'dpo', 'admin'] as const) {
    describe(`as ${role}`, () => {
      for (const rule of ROUTES) {
        if (rule.method === 'POST' && (rule.path === '/login' || rule.path === '/logout')) continue; // covered below
        it(`${rule.method} ${rule.path}`, async () => {
          const { client, csrf } = await session(role);
          const path = concrete(rule.path);
          const r = rule.method === 'GET' ? await client.get(path) : await client.request('POST', path, { form: { _csrf: csrf, name: 'newuser', role: 'dpo', password: 'a-long-password-123' } });
          const allowed = rule.access === 'public' || (role !== 'anonymous' && rule.access.includes(role));
          if (allowed) {
            expect(r.status, r.body.slice(0, 300)).toBeLessThan(400);
          } else if (role === 'anonymous') {
            if (rule.method === 'GET') {
              expect(r.status).toBe(303);
              expect(r.headers.location).toBe('/login');
            } else expect(r.status).toBe(401);
          } else {
            expect(r.status).toBe(403);
          }
        });
      }
    });
  }

  it('refuses an unknown route with 404 when signed in and sends anonymous users to the login', async () => {
    const { client } = await session('dpo');
    expect((await client.get('/etc/passwd')).status).toBe(404);
    const anon = await new Client(fx.url).get('/admin/../users');
    expect([303, 404]).toContain(anon.status);
  });

  it('audits a refused access with the route', async () => {
    const { client } = await session('dpo');
    const before = fx.audit.entries.length;
    expect((await client.get('/users')).status).toBe(403);
    const denied = fx.audit.entries.slice(before).find((e) => e.type === 'admin.access_denied');
    expect(denied?.actor.id).toBe('dpo');
    expect(denied?.details['route']).toBe('/users');
  });
});

describe('CSRF', () => {
  it('refuses a POST without the token, with a wrong token, and cross-origin', async () => {
    const { client, csrf } = await session('admin');
    const form = { name: 'csrfvictim', role: 'admin', password: 'a-long-password-123' };
    expect((await client.request('POST', '/users', { form })).status).toBe(403);
    expect((await client.request('POST', '/users', { form: { ...form, _csrf: `${csrf.slice(0, -1)}${csrf.endsWith('A') ? 'B' : 'A'}` } })).status).toBe(403);
    expect((await client.request('POST', '/users', { form: { ...form, _csrf: csrf }, headers: { origin: 'https://evil.example' } })).status).toBe(403);
    expect(await fx.users.get('csrfvictim')).toBeNull();
    expect(fx.audit.entries.filter((e) => e.type === 'admin.csrf_refused').length).toBeGreaterThanOrEqual(3);
    // The same request with the token goes through (the check is what refused it above).
    expect((await client.request('POST', '/users', { form: { ...form, _csrf: csrf } })).status).toBe(201);
    expect((await fx.users.get('csrfvictim'))?.role).toBe('admin');
  });

  it('refuses the login form without its token', async () => {
    const c = new Client(fx.url);
    await c.get('/login');
    const r = await c.request('POST', '/login', { form: { username: 'admin', password: fx.accounts.admin.password, totp: '000000' } });
    expect(r.status).toBe(403);
  });

  it('refuses logout without the token (no forced logout)', async () => {
    const { client } = await session('dpo');
    expect((await client.request('POST', '/logout', { form: {} })).status).toBe(403);
    expect((await client.get('/')).status).toBe(200);
  });
});

describe('sessions', () => {
  it('changes the session id at login (no fixation) and ends it at logout', async () => {
    const c = new Client(fx.url);
    const form = await c.get('/login');
    const before = c.jar.get('__Host-passerelle');
    expect(before).toBeDefined();
    const r = await c.request('POST', '/login', { form: { _csrf: Client.csrf(form.body), username: 'dpo', password: fx.accounts.dpo.password, totp: await fx.accounts.dpo.nextCode!() } });
    expect(r.status).toBe(303);
    const after = c.jar.get('__Host-passerelle');
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    // The pre-login id is worthless: a client holding it is not signed in.
    const attacker = new Client(fx.url);
    attacker.jar.set('__Host-passerelle', before!);
    expect((await attacker.get('/')).status).toBe(303);
    const home = await c.get('/');
    expect(home.status).toBe(200);
    const out = await c.request('POST', '/logout', { form: { _csrf: Client.csrf(home.body) } });
    expect(out.status).toBe(303);
    const replay = new Client(fx.url);
    replay.jar.set('__Host-passerelle', after!);
    expect((await replay.get('/')).status).toBe(303);
    expect(fx.audit.entries.some((e) => e.type === 'admin.logout' && e.actor.id === 'dpo')).toBe(true);
  });

  it('sets the session cookie Secure, HttpOnly, SameSite=Strict, __Host- prefixed', async () => {
    const r = await new Client(fx.url).get('/login');
    const set = ([] as string[]).concat(r.headers['set-cookie'] ?? []).find((c) => c.startsWith('__Host-passerelle='));
    expect(set).toMatch(/; Path=\//);
    expect(set).toMatch(/; HttpOnly/);
    expect(set).toMatch(/; Secure/);
    expect(set).toMatch(/; SameSite=Strict/);
    expect(set).not.toMatch(/Domain=/i);
  });

  it('expires the cookie after 15 minutes of inactivity (Max-Age 900, renewed on each request)', async () => {
    const c = new Client(fx.url);
    const r = await c.login(fx.accounts.dpo);
    const set = ([] as string[]).concat(r.headers['set-cookie'] ?? []).find((x) => x.startsWith('__Host-passerelle='));
    const expires = Date.parse(/Expires=([^;]+)/.exec(set ?? '')?.[1] ?? '');
    const date = Date.parse(String(r.headers['date']));
    expect(Math.round((expires - date) / 60_000)).toBe(15);
    const again = await c.get('/');
    expect(([] as string[]).concat(again.headers['set-cookie'] ?? []).some((x) => x.startsWith('__Host-passerelle='))).toBe(true);
  });

  it('ends a session 8 hours after login even when active, and when the account is removed', async () => {
    const lfx = await startFixture();
    try {
      const c = new Client(lfx.url);
      expect((await c.login(lfx.accounts.dpo)).status).toBe(303);
      expect((await c.get('/')).status).toBe(200);
      lfx.advance(8 * 3_600_000 + 60_000);
      expect((await c.get('/')).status).toBe(303);
      const a = new Client(lfx.url);
      expect((await a.login(lfx.accounts.admin)).status).toBe(303);
      expect((await a.get('/users')).status).toBe(200);
      await lfx.users.remove('admin');
      expect((await a.get('/users')).status).toBe(303);
    } finally {
      await lfx.close();
    }
  });

  it('accepts a TOTP code once (no replay), then a later code', async () => {
    const code = await fx.accounts.admin.nextCode!();
    expect((await new Client(fx.url).login(fx.accounts.admin, code)).status).toBe(303);
    expect((await new Client(fx.url).login(fx.accounts.admin, code)).status).toBe(401);
    expect((await new Client(fx.url).login(fx.accounts.admin)).status).toBe(303);
  });

  it('requires the TOTP code: right password with a wrong code fails', async () => {
    const c = new Client(fx.url);
    const r = await c.login(fx.accounts.admin, '000000');
    expect(r.status).toBe(401);
    expect((await c.get('/')).status).toBe(303);
  });
});

describe('login brute force', () => {
  it('locks the account after 5 failures, even for the right password, and audits each', async () => {
    const lfx = await startFixture();
    try {
      const c = new Client(lfx.url);
      for (let i = 0; i < 5; i++) expect((await c.login({ ...lfx.accounts.dpo, password: `wrong-${i}` })).status).toBe(401);
      const locked = await c.login(lfx.accounts.dpo);
      expect(locked.status).toBe(429);
      expect(locked.body).toContain('Trop de tentatives');
      // The other account from another client is not locked (per-source limit is higher).
      expect((await new Client(lfx.url).login(lfx.accounts.admin)).status).toBe(303);
      const failed = lfx.audit.entries.filter((e) => e.type === 'admin.login_failed');
      expect(failed).toHaveLength(6);
      expect(failed.at(-1)?.details['reason']).toBe('locked');
      expect(failed.some((e) => e.details['locked'] === true)).toBe(true);
      expect(JSON.stringify(failed)).not.toContain('wrong-');
    } finally {
      await lfx.close();
    }
  });

  it('locks a source that tries many accounts', async () => {
    const lfx = await startFixture({ throttle: { maxFailuresPerAccount: 5, maxFailuresPerSource: 3, windowMs: 60_000, lockMs: 60_000 } });
    try {
      for (let i = 0; i < 3; i++) expect((await new Client(lfx.url).login({ name: `user${i}`, password: 'x', totpSecret: lfx.accounts.dpo.totpSecret })).status).toBe(401);
      expect((await new Client(lfx.url).login(lfx.accounts.admin)).status).toBe(429);
    } finally {
      await lfx.close();
    }
  });
});

describe('hostile strings are rendered inert', () => {
  it('escapes partner names, file names, dataset values and messages on every page', async () => {
    const { client } = await session('dpo');
    const pages = ['/', '/audit', `/audit?actor=${encodeURIComponent('police-municipale-ludres')}`, `/transfer/${fx.uploads.rejected}`, '/register', '/parties', `/audit?type=${encodeURIComponent(XSS)}`];
    for (const p of pages) {
      const r = await client.get(p);
      expect(r.body, p).not.toContain('<script>alert');
      expect(r.body, p).not.toContain('<img src=x');
      if (r.status === 200 && p !== '/') expect(r.body, p).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    }
  });

  it('shows the rejected upload\'s chain, including the commit sftp/ records under refs.upload', async () => {
    const { client } = await session('dpo');
    const r = await client.get(`/transfer/${fx.uploads.rejected}`);
    expect(r.status).toBe(200);
    expect(r.body).toContain('<code>sftp.upload.committed</code>');
    expect(r.body).toContain('<code>upload.rejected</code>');
    expect(r.body).toContain('clientName</span>=<span class="v">&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('answers a malformed filter with 400 and does not echo it', async () => {
    const { client } = await session('dpo');
    const r = await client.get(`/audit?from=${encodeURIComponent('<script>')}`);
    expect(r.status).toBe(400);
    expect(r.body).not.toContain('<script>');
  });

  it('neutralises formulas in CSV exports', async () => {
    const { client } = await session('dpo');
    fx.audit.add({ type: 'upload.rejected', actor: { id: '=HYPERLINK("http://evil")', kind: 'unknown' }, outcome: 'failure', refs: {}, details: {} });
    const r = await client.get('/audit/export?format=csv&outcome=failure');
    expect(r.status).toBe(200);
    expect(r.body).toContain(`"'=HYPERLINK(""http://evil"")"`);
  });
});

describe('security headers', () => {
  it('sends a strict CSP, HSTS, no-referrer, nosniff, frame denial', async () => {
    const r = await new Client(fx.url).get('/login');
    const csp = String(r.headers['content-security-policy']);
    for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"]) expect(csp).toContain(d);
    expect(csp).not.toContain('unsafe-inline');
    expect(r.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(r.headers['referrer-policy']).toBe('no-referrer');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['x-powered-by']).toBeUndefined();
    expect(r.headers['cache-control']).toBe('no-store');
  });

  it('has no inline script or style in any page', async () => {
    const { client } = await session('admin');
    for (const p of ['/', '/audit', `/transfer/${fx.uploads.accepted}`, '/register', '/parties', '/users', '/login']) {
      const body = (await client.get(p)).body;
      expect(body, p).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(body, p).not.toMatch(/\sstyle=/);
      expect(body, p).not.toMatch(/<[a-zA-Z][^>]*\son[a-z]+\s*=/);
    }
  });
});

describe('listener', () => {
  it('answers 421 to a foreign Host header (DNS rebinding) and serves loopback names', async () => {
    const c = new Client(fx.url);
    expect((await c.get('/login', { host: `evil.example:${fx.server.port}` })).status).toBe(421);
    expect((await c.get('/login', { host: `127.0.0.1.evil.example:${fx.server.port}` })).status).toBe(421);
    expect((await c.get('/login', { host: `localhost:${fx.server.port}` })).status).toBe(200);
  });

  it('refuses a non-loopback address unless allowRemote is set', async () => {
    await expect(startAdminServer({ app: (await import('express')).default(), host: '0.0.0.0', port: 0, dataDir: fx.dataDir })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('serves HTTPS only, with a certificate whose fingerprint is shown in the footer', async () => {
    const { X509Certificate } = await import('node:crypto');
    const { readFile, stat } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const pem = await readFile(join(fx.dataDir, 'admin', 'tls-cert.pem'), 'utf8');
    const cert = new X509Certificate(pem);
    expect(cert.fingerprint256).toBe(fx.server.fingerprint);
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
    expect((await stat(join(fx.dataDir, 'admin', 'tls-key.pem'))).mode & 0o777).toBe(0o600);
    expect((await new Client(fx.url).get('/login')).body).toContain(fx.server.fingerprint);
    // Plain HTTP on the same port is not served.
    const plain = await fetch(`http://127.0.0.1:${fx.server.port}/login`).then((r) => r.status, () => 'refused');
    expect(plain).not.toBe(200);
  });
});

describe('a full disk (the audit trail cannot be written)', () => {
  it('a login is refused with 503 and says why, in French first; it works again once the trail can be written', async () => {
    const client = new Client(fx.url);
    fx.audit.failing = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    try {
      const r = await client.login(fx.accounts.dpo);
      expect(r.status).toBe(503);
      expect(r.body).toContain('Espace disque insuffisant sur la passerelle');
      expect(r.body).not.toContain('database or disk is full');
    } finally {
      fx.audit.failing = undefined;
    }
    const again = await new Client(fx.url).login(fx.accounts.dpo);
    expect(again.status).toBe(303);
  });

  it('any other failure stays an internal error with a reference only', async () => {
    const client = new Client(fx.url);
    fx.audit.failing = new Error('/var/lib/passerelle/audit: EIO');
    try {
      const r = await client.login(fx.accounts.dpo);
      expect(r.status).toBe(500);
      expect(r.body).toMatch(/Erreur interne \([0-9a-f]{12}\)/);
      expect(r.body).not.toContain('/var/lib');
    } finally {
      fx.audit.failing = undefined;
    }
  });
});
