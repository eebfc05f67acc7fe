import { describe, expect, it } from 'vitest';
import { escapeHtml, html } from '../../admin-ui/server/html.js';
import { csvCell } from '../../admin-ui/server/export.js';
import { ROUTES, assertListed, ruleFor } from '../../admin-ui/server/routes.js';
import { LoginThrottle } from '../../admin-ui/server/throttle.js';
import { isLoopback } from '../../admin-ui/server/server.js';
import { buildDashboard } from '../../admin-ui/server/dashboard.js';
import { buildRegister } from '../../admin-ui/server/register.js';
import { keyStatus, sshFingerprint } from '../../admin-ui/server/parties.js';
import { t } from '../../admin-ui/server/i18n.js';
import { ArrayAuditData } from './array-audit.js';
import { makeConfig, seed, XSS } from './fixture.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

describe('html', () => {
  it('escapes every interpolation, nested arrays included, and only SafeHtml passes through', () => {
    const out = html`<p title="${XSS}">${[XSS, html`<b>${XSS}</b>`]}${null}${false}${0}</p>`.value;
    expect(out).not.toContain('<script>');
    expect(out).not.toContain('<img');
    expect(out).toContain('<b>&lt;script&gt;');
    expect(out).toContain('title="&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&#39;"');
    expect(out.endsWith('0</p>')).toBe(true);
    // A look-alike object is text, not markup.
    expect(html`${{ value: '<i>' } as unknown as string}`.value).toBe('[object Object]');
    expect(escapeHtml('`&')).toBe('&#96;&amp;');
  });
});

describe('csvCell', () => {
  it('quotes every cell and defuses formulas', () => {
    expect(csvCell('a"b')).toBe('"a""b"');
    for (const f of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx']) expect(csvCell(f).startsWith(`"'`)).toBe(true);
  });
});

describe('routes', () => {
  it('gives every route an access rule and matches parameters on one segment only', () => {
    expect(ROUTES.every((r) => r.access === 'public' || r.access.length > 0)).toBe(true);
    expect(ruleFor('GET', '/transfer/abc')?.path).toBe('/transfer/:uploadId');
    expect(ruleFor('GET', '/transfer/abc/def')).toBeUndefined();
    expect(ruleFor('GET', '/transfer/')).toBeUndefined();
    expect(ruleFor('DELETE', '/users')).toBeUndefined();
    expect(ruleFor('HEAD', '/audit')?.method).toBe('GET');
    expect(() => assertListed('POST', '/audit')).toThrow('no access rule');
    expect(ROUTES.filter((r) => r.access !== 'public' && !r.access.includes('dpo')).map((r) => r.path)).toEqual(['/users', '/users', '/users/:name/delete']);
  });
});

describe('LoginThrottle', () => {
  it('locks after the limit, for the lock time, then lets the account try again', () => {
    const th = new LoginThrottle({ maxFailuresPerAccount: 3, maxFailuresPerSource: 100, windowMs: 1000, lockMs: 5000 });
    expect(th.fail('a', 's', 0)).toBe(false);
    expect(th.fail('a', 's', 1)).toBe(false);
    expect(th.fail('a', 's', 2)).toBe(true);
    expect(th.lockedFor('a', 's', 3)).toBe(4999);
    expect(th.lockedFor('b', 's', 3)).toBe(0);
    expect(th.lockedFor('a', 's', 5002)).toBe(0);
  });
});

describe('isLoopback', () => {
  it('accepts loopback names and addresses only', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.2', 'example.org', '128.0.0.1']) expect(isLoopback(h)).toBe(false);
  });
});

describe('dashboard', () => {
  it('counts uploads per day and partner, records per recipient, and pending deliveries', async () => {
    const now = new Date('2026-11-28T12:00:00Z');
    const audit = new ArrayAuditData('o', () => now);
    await seed(audit, now);
    async function* all() {
      yield* audit.entries;
    }
    const s = await buildDashboard(all(), now, null);
    expect(s.perDay).toHaveLength(14);
    expect(s.perDay.at(-1)).toEqual({ day: '2026-11-28', accepted: 1, rejected: 1 });
    expect(s.perPartner.map((p) => [p.partner, p.accepted, p.rejected, p.lastVerdict])).toEqual([
      ['police-municipale-ludres', 0, 1, 'rejected'],
      ['police-nationale', 1, 0, 'accepted'],
    ]);
    expect(s.recordsPerRecipient).toEqual([{ recipient: 'observatoire', records: 12 }, { recipient: 'ludres', records: 5 }]);
    expect(s.pending.map((p) => [p.recipient, p.ageHours])).toEqual([['observatoire', 1]]);
  });
});

describe('register and parties', () => {
  it('derives the register from conventions and computes SSH fingerprints like ssh-keygen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'passerelle-admin-unit-'));
    try {
      const config = await makeConfig(dir);
      const [row] = buildRegister(config, new Date('2026-06-01T00:00:00Z'));
      expect(row?.inForce).toBe(true);
      expect(row?.senders.map((s) => s.party)).toEqual(['police-nationale', 'police-municipale-ludres']);
      expect(row?.territory).toEqual(['54328', '54395']);
      expect(row?.datasets.map((d) => d.id)).toEqual(['faits-4001', 'main-courante-pm']);
      expect(buildRegister(config, new Date('2029-01-01T00:00:00Z'))[0]?.inForce).toBe(false);
      const line = [...config.partners.values()][0]!.sshKeys[0]!;
      writeFileSync(join(dir, 'k.pub'), `${line}\n`);
      const expected = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, 'k.pub')], { encoding: 'utf8' }).split(' ')[1];
      expect(sshFingerprint(line).fingerprint).toBe(expected);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('flags keys expiring within 60 days and expired keys', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(keyStatus(null, now)).toBe('ok');
    expect(keyStatus(new Date('2026-02-15T00:00:00Z'), now)).toBe('expiring');
    expect(keyStatus(new Date('2026-06-01T00:00:00Z'), now)).toBe('ok');
    expect(keyStatus(new Date('2025-12-31T00:00:00Z'), now)).toBe('expired');
  });
});

describe('ulidTime', () => {
  it('reads back the time a gateway id was made at', async () => {
    const { newId } = await import('../../gateway/ids.js');
    const { ulidTime } = await import('../../admin-ui/server/data.js');
    expect(ulidTime(newId(1_795_893_150_953))).toBe(1_795_893_150_953);
    expect(ulidTime('not-an-id')).toBeNull();
  });
});

describe('i18n', () => {
  it('fills placeholders and keeps unknown ones', () => {
    expect(t('fr', 'results', { n: 3, page: 1, pages: 2 })).toBe('3 entrée(s), page 1 sur 2');
    expect(t('en', 'results', { n: 3 })).toBe('3 entries, page {page} of {pages}');
  });
});
