/**
 * Bounded memory: openMessage on a 300 MiB GnuPG file, and on a 2 GiB zlib bomb with a 64 MiB
 * limit, each in a child process whose peak RSS is measured (performance.md: the gateway must
 * stay under 256 MiB for a 1 GiB upload, flat in file size).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { openSync, writeSync, closeSync, writeFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { GnuPG, run } from './gnupg.js';
import { loadPublic, zlibBomb, GATEWAY, PARTNER_ED } from './fixtures.js';

const CHILD = fileURLToPath(new URL('./rss-child.ts', import.meta.url));
const MiB = 1 << 20;

interface ChildOutcome { code: string | null; bytes: number; maxRssMiB: number }

describe('openMessage memory stays bounded', () => {
  let g: GnuPG;

  beforeAll(() => {
    g = new GnuPG();
    g.genKey(GATEWAY);
    g.genKey(PARTNER_ED);
    g.write('gw.sec.asc', g.exportSecret(`<${GATEWAY}>`));
    g.write('partner.pub.asc', g.exportPublic(`<${PARTNER_ED}>`));
  });
  afterAll(() => g?.cleanup());

  function openInChild(message: string, maxBytes: number): ChildOutcome {
    const r = run(process.execPath, ['--import', 'tsx', CHILD, g.path('gw.sec.asc'), g.path('partner.pub.asc'), message, g.path('quarantine.bin'), String(maxBytes)]);
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout.toString()) as ChildOutcome;
  }

  // Armored, the file is 405 MiB of text, taken apart by native/armor.ts as it streams.
  it.each([['binary', []], ['armored', ['--armor']]] as const)('a 300 MiB signed and encrypted file (%s) is opened with a peak RSS under 256 MiB', (kind, extra) => {
    const plain = g.path('big.bin');
    const block = randomBytes(MiB);
    const fd = openSync(plain, 'w');
    for (let i = 0; i < 300; i++) writeSync(fd, block);
    closeSync(fd);
    const file = g.path(`big-${kind}.pgp`);
    g.gpgOk(['--local-user', `<${PARTNER_ED}>`, '--recipient', `<${GATEWAY}>`, '--compress-algo', 'none', ...extra, '--sign', '--encrypt', '--output', file, plain]);
    const out = openInChild(file, 1 << 30);
    expect(out.code).toBeNull();
    expect(out.bytes).toBe(300 * MiB);
    expect(statSync(g.path('quarantine.bin')).size).toBe(300 * MiB);
    expect(out.maxRssMiB).toBeLessThan(256);
  });

  it('a 2 GiB zlib bomb of a few MB stops at the limit, without using the memory it claims', async () => {
    const gateway = (await loadPublic(g, `<${GATEWAY}>`))[0];
    const partner = (await loadPublic(g, `<${PARTNER_ED}>`))[0];
    if (gateway === undefined || partner === undefined) throw new Error('missing keys');
    const bomb = await zlibBomb(2 * 1024 * MiB, gateway, partner);
    expect(bomb.length).toBeLessThan(8 * MiB);
    writeFileSync(g.path('bomb.pgp'), bomb);
    const out = openInChild(g.path('bomb.pgp'), 64 * MiB);
    expect(out.code).toBe('PGP_TOO_LARGE');
    // It really inflated (a malformed bomb would stop early with another code).
    expect(out.bytes).toBeGreaterThan(60 * MiB);
    expect(out.bytes).toBeLessThanOrEqual(64 * MiB);
    expect(out.maxRssMiB).toBeLessThan(256);
  });
});
