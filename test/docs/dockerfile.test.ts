/**
 * The Docker image cannot be built here (no engine), so what can be checked without one is:
 * every path the runtime stage copies exists in the build context and is not excluded by
 * .dockerignore, the command runs a file the build produces, and the health check really tells
 * an SSH server from something else.
 */
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { projectRoot } from '../../gateway/config/project.js';
import { generateKey, startSshd } from '../../bench/sshd.js';

const run = promisify(execFile);
const root = projectRoot();

/** .dockerignore semantics for the simple patterns used here: `dir`, `dir/*`, `*.ext`, `!path`; last match wins. */
function ignored(path: string, patterns: readonly string[]): boolean {
  let out = false;
  for (const raw of patterns) {
    const neg = raw.startsWith('!');
    const p = neg ? raw.slice(1) : raw;
    const re = new RegExp('^' + p.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '(/.*)?$');
    if (re.test(path)) out = !neg;
  }
  return out;
}

describe('Dockerfile', () => {
  it('copies into the runtime stage only paths the build context has', async () => {
    const df = await readFile(join(root, 'Dockerfile'), 'utf8');
    const patterns = (await readFile(join(root, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const copies = [...df.matchAll(/^COPY --from=build \/app\/(\S+) /gm)].map((m) => m[1]!);
    expect(copies.length).toBeGreaterThan(5);
    // Built by the build stage, not in the context.
    const built = new Set(['node_modules', 'dist']);
    for (const c of copies.flatMap((x) => x.split(/\s+/))) {
      if (built.has(c)) continue;
      expect(existsSync(join(root, c)), c).toBe(true);
      expect(ignored(c, patterns), `${c} excluded by .dockerignore`).toBe(false);
    }
    // Secrets and local state never enter the context.
    for (const p of ['keys-example/gateway/pgp.sec.asc', 'keys-example/police-nationale/ssh_ed25519', 'var/audit', 'node_modules/x', '.git/config']) {
      expect(ignored(p, patterns), p).toBe(true);
    }
  });

  it('runs the CLI the build produces, as the non-root user, with the data volume', async () => {
    const df = await readFile(join(root, 'Dockerfile'), 'utf8');
    expect(df).toContain('\nCMD ["node", "dist/gateway/cli/main.js", "start", "--config", "/etc/passerelle/passerelle.json"]\n');
    expect(existsSync(join(root, 'gateway', 'cli', 'main.ts'))).toBe(true);
    expect(df).toMatch(/^USER passerelle$/m);
    expect(df).toMatch(/^VOLUME \/var\/lib\/passerelle$/m);
    expect(df).toMatch(/^FROM node:20-bookworm-slim AS build$/m);
  });

  it('has a health check that passes on an SSH server and fails on anything else', async () => {
    const df = await readFile(join(root, 'Dockerfile'), 'utf8');
    const m = /HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])$/m.exec(df);
    expect(m).not.toBeNull();
    const [node, flag, script] = JSON.parse(m![1]!) as string[];
    expect([node, flag]).toEqual(['node', '-e']);
    const check = (port: number) =>
      run('node', ['-e', script!], { env: { ...process.env, PASSERELLE_SFTP_PORT: String(port) } }).then(() => 0, (e: { code: number }) => e.code);

    const work = await mkdtemp(join(tmpdir(), 'passerelle-test-health-'));
    const key = await generateKey(join(work, 'k'));
    const sshd = await startSshd([key.publicLine]);
    // A server that answers, but not with an SSH banner.
    const http = createServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const httpPort = (http.address() as { port: number }).port;
    try {
      expect(await check(sshd.port)).toBe(0);
      expect(await check(httpPort)).toBe(1);
      await new Promise<void>((r) => http.close(() => r()));
      expect(await check(httpPort)).toBe(1); // nothing listening any more
    } finally {
      if (http.listening) http.close();
      await sshd.close();
      await rm(work, { recursive: true, force: true });
    }
  }, 30_000);
});
