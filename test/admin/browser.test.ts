/**
 * The admin UI in a real browser (Chromium via playwright-core): TOTP login, journal filter,
 * export, transfer with in-browser proof verification (WebCrypto Ed25519 + RFC 6962), printed
 * register, parties, language toggle. Screenshots go to test/.tmp/screenshots/.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, type Fixture } from './fixture.js';

const SHOTS = join(import.meta.dirname, '..', '.tmp', 'screenshots');
let fx: Fixture;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const cspViolations: string[] = [];

beforeAll(async () => {
  await mkdir(SHOTS, { recursive: true });
  fx = await startFixture();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
  });
});

afterAll(async () => {
  await browser?.close();
  await fx?.close();
});

describe('admin UI in Chromium', () => {
  it('logs in with password and TOTP and shows the dashboard', async () => {
    await page.goto(`${fx.url}/`);
    expect(page.url()).toBe(`${fx.url}/login`);
    await page.fill('input[name=username]', 'dpo');
    await page.fill('input[name=password]', fx.accounts.dpo.password);
    await page.fill('input[name=totp]', await fx.accounts.dpo.nextCode!());
    await Promise.all([page.waitForURL(/\/\?lang=fr$/), page.click('form.login button')]);
    await expect.poll(() => page.textContent('h1')).toBe('Tableau de bord');
    expect(await page.locator('svg.chart').count()).toBeGreaterThanOrEqual(2);
    expect(await page.textContent('#verify-status')).toContain('réussie');
    expect(await page.textContent('main')).toContain('observatoire'); // delivery not yet downloaded
    expect(await page.textContent('footer')).toContain(fx.server.fingerprint);
    await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });
    expect(fx.audit.entries.some((e) => e.type === 'admin.login' && e.actor.id === 'dpo')).toBe(true);
  });

  it('filters the journal and exports the filtered view', async () => {
    await page.goto(`${fx.url}/audit`);
    await page.fill('input[name=actor]', 'police-municipale-ludres');
    await Promise.all([page.waitForURL(/actor=police-municipale-ludres/), page.click('#filters button')]);
    expect(await page.textContent('#result-count')).toMatch(/^2 entrée\(s\), page 1 sur 1$/);
    const actors = await page.locator('table.audit tbody tr td:nth-child(4)').allTextContents();
    expect(actors).toHaveLength(2);
    for (const a of actors) expect(a).toContain('police-municipale-ludres');
    // The hostile file name is shown as text, not markup.
    expect(await page.textContent('table.audit')).toContain('<script>alert(1)</script>');
    expect(await page.locator('table.audit script, table.audit img').count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'journal.png'), fullPage: true });
    const viewed = fx.audit.entries.filter((e) => e.type === 'audit.viewed').at(-1);
    expect(viewed?.details['filter_actor']).toBe('police-municipale-ludres');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const csv = await readFile((await download.path())!, 'utf8');
    const lines = csv.replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(lines[0]).toBe('"index","time","type","actor","actor_kind","source","outcome","refs","details","leaf_hash"');
    expect(lines).toHaveLength(3);
    expect(lines.slice(1).every((l) => l.includes('"police-municipale-ludres"'))).toBe(true);
    const [nd] = await Promise.all([page.waitForEvent('download'), page.click('#export-ndjson')]);
    const records = (await readFile((await nd.path())!, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { actor: { id: string } });
    expect(records.map((r) => r.actor.id)).toEqual(['police-municipale-ludres', 'police-municipale-ludres']);
    const exported = fx.audit.entries.filter((e) => e.type === 'audit.exported');
    expect(exported.map((e) => e.details['format'])).toEqual(['csv', 'ndjson']);
    expect(exported[0]?.details['entries']).toBe(2);
  });

  it('opens a transfer and verifies inclusion proofs in the browser', async () => {
    await page.goto(`${fx.url}/transfer/${fx.uploads.accepted}`);
    expect(await page.textContent('h1')).toBe(`Transfert ${fx.uploads.accepted}`);
    expect(await page.textContent('main')).toContain('Pas encore téléchargée');
    const buttons = page.locator('button.verify');
    expect(await buttons.count()).toBe(8); // 6 entries by upload id + 2 downloads found by recipient and file
    const first = await buttons.first().getAttribute('data-index');
    await buttons.first().click();
    const out = page.locator(`output.verify-result[data-for="${first}"]`);
    await expect.poll(() => out.getAttribute('data-result')).toBe('ok');
    expect(await out.textContent()).toMatch(/^Preuve valide : entrée \d+ incluse dans l’arbre de taille \d+, point de contrôle signé par passerelle-test\.$/);
    await buttons.last().click();
    const last = await buttons.last().getAttribute('data-index');
    await expect.poll(() => page.locator(`output.verify-result[data-for="${last}"]`).getAttribute('data-result')).toBe('ok');
    await page.screenshot({ path: join(SHOTS, 'transfer.png'), fullPage: true });
  });

  it('reports a tampered entry and a foreign verifier key as invalid', async () => {
    const idx = Number(await page.locator('button.verify').nth(1).getAttribute('data-index'));
    fx.audit.tamper(idx);
    await page.locator('button.verify').nth(1).click();
    const out = page.locator(`output.verify-result[data-for="${idx}"]`);
    await expect.poll(() => out.getAttribute('data-result')).toBe('bad');
    expect(await out.textContent()).toContain('l’entrée ne correspond pas à son hash de feuille');

    const { makeNoteKey } = await import('./array-audit.js');
    await page.fill('#verifier-key', makeNoteKey('passerelle-test').verifierKey);
    await page.locator('button.verify').first().click();
    const first = page.locator('output.verify-result').first();
    await expect.poll(() => first.getAttribute('data-result')).toBe('bad');
    expect(await first.textContent()).toMatch(/signature du point de contrôle invalide|non signé par cette clé/);
  });

  it('prints the register', async () => {
    await page.goto(`${fx.url}/register`);
    expect(await page.textContent('h1')).toBe('Registre des activités de traitement (RGPD, art. 30)');
    expect(await page.textContent('main')).toContain('Délibération n° 2010/03-12 du conseil municipal de Ludres');
    expect(await page.textContent('main')).toContain('365 jours');
    await page.emulateMedia({ media: 'print' });
    expect(await page.locator('header nav').isVisible()).toBe(false);
    await page.screenshot({ path: join(SHOTS, 'register-print.png'), fullPage: true });
    const pdf = await page.pdf({ path: join(SHOTS, 'register.pdf'), format: 'A4' });
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    await page.emulateMedia({ media: 'screen' });
    expect(await page.locator('header nav').isVisible()).toBe(true);
  });

  it('lists parties with fingerprints and highlights keys expiring within 60 days', async () => {
    await page.goto(`${fx.url}/parties`);
    const ludresPm = page.locator('#party-police-municipale-ludres');
    expect(await ludresPm.locator('.key-expiring').count()).toBe(1);
    expect(await ludresPm.textContent()).toContain('expire dans moins de 60 jours');
    expect(await page.locator('#party-police-nationale .key-expiring').count()).toBe(0);
    expect(await page.textContent('#party-ludres')).toMatch(/SHA256:[A-Za-z0-9+/]{43}/);
    await page.screenshot({ path: join(SHOTS, 'parties.png'), fullPage: true });
  });

  it('switches to English and keeps the choice', async () => {
    await page.goto(`${fx.url}/`);
    await Promise.all([page.waitForURL(/lang=en/), page.click('a.lang')]);
    expect(await page.textContent('h1')).toBe('Dashboard');
    await page.goto(`${fx.url}/audit`);
    expect(await page.textContent('h1')).toBe('Audit log');
    await page.screenshot({ path: join(SHOTS, 'journal-en.png') });
    // The in-browser verifier speaks the page's language (entry 1 of the chain was tampered above).
    await page.goto(`${fx.url}/transfer/${fx.uploads.accepted}`);
    const buttons = page.locator('button.verify');
    await buttons.nth(1).click();
    const tampered = page.locator(`output.verify-result[data-for="${await buttons.nth(1).getAttribute('data-index')}"]`);
    await expect.poll(() => tampered.getAttribute('data-result')).toBe('bad');
    expect(await tampered.textContent()).toBe('INVALID proof: the entry does not match its leaf hash');
    await buttons.first().click();
    const good = page.locator('output.verify-result').first();
    await expect.poll(() => good.getAttribute('data-result')).toBe('ok');
    expect(await good.textContent()).toMatch(/^Valid proof: entry \d+ is included in the tree of size \d+, checkpoint signed by passerelle-test\.$/);
  });

  it('raised no CSP violation on any page', () => {
    expect(cspViolations).toEqual([]);
  });
});
