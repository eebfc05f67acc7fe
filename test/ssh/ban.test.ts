import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, sshArgs, startSshHarness, type SshHarness } from './harness.js';

describe('ban of a source after repeated authentication failures', () => {
  let h: SshHarness;
  beforeAll(async () => {
    // Short ban so the test can watch it expire.
    h = await startSshHarness({ banAfterFailures: 3, banWindowMs: 60_000, banDurationMs: 1_500 });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('bans the source at the Nth failure, refuses even the right key while banned, and lets it in after expiry', async () => {
    // Each run offers one unregistered key: one counted failure (the initial "none" is free).
    for (let i = 0; i < 3; i++) {
      const r = await run('ssh', [...sshArgs(h, 'police-nationale', h.keys.stranger.privateKey), 'whoami']);
      expect(r.code).toBe(255);
      expect(r.stderr).toContain('Permission denied (publickey)');
    }
    const ban = await h.audit.waitFor((e) => e.type === 'ssh.ban');
    expect(ban.details).toMatchObject({ address: '127.0.0.1', failures: 3 });
    const until = Date.parse(String(ban.details?.['until']));
    expect(until).toBeGreaterThan(Date.now() - 60_000);

    const banned = await run('ssh', [...sshArgs(h, 'police-nationale', h.keys.partner.privateKey), 'whoami']);
    expect(banned.code).toBe(255);
    expect(banned.stdout).toBe('');
    expect(banned.stderr).toMatch(/Connection (reset|closed)|kex_exchange_identification/);
    // Refused at accept: no SSH dialogue, so no authentication was even attempted.
    expect(h.audit.ofType('ssh.auth').filter((e) => e.outcome === 'success')).toHaveLength(0);

    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now()) + 100));
    const after = await run('ssh', [...sshArgs(h, 'police-nationale', h.keys.partner.privateKey), 'whoami']);
    expect(after.stdout).toBe('party=police-nationale\n');
  });
});

describe('a ban reaches the banned source’s connections already open', () => {
  let h: SshHarness;
  beforeAll(async () => {
    h = await startSshHarness({ banAfterFailures: 3, banWindowMs: 60_000, banDurationMs: 60_000 });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('refuses the next attempt of a pre-auth connection opened before the ban, even with the right key', async () => {
    let go: () => void = () => undefined;
    const released = new Promise<void>((r) => (go = r));
    const key = readFileSync(h.keys.partner.privateKey);
    const waiting = new ssh2.Client();
    const outcome = new Promise<string>((resolve) => {
      waiting.on('ready', () => resolve('logged in'));
      waiting.on('error', (e) => resolve(`error: ${e.message}`));
      waiting.on('close', () => resolve('closed'));
    });
    const connected = new Promise<void>((resolve) => {
      waiting.connect({
        host: '127.0.0.1',
        port: h.server.port,
        username: 'police-nationale',
        readyTimeout: 30_000,
        // Holds its first attempt until the test releases it.
        authHandler: (_left, _partial, next) => {
          resolve();
          void released.then(() => next({ type: 'publickey', username: 'police-nationale', key }));
        },
      });
    });
    await connected;
    for (let i = 0; i < 3; i++) {
      const r = await run('ssh', [...sshArgs(h, 'police-nationale', h.keys.stranger.privateKey), 'whoami']);
      expect(r.code).toBe(255);
    }
    await h.audit.waitFor((e) => e.type === 'ssh.ban');
    go();
    expect(await outcome).not.toBe('logged in');
    const bye = await h.audit.waitFor((e) => e.type === 'ssh.disconnect' && e.details?.['reason'] === 'banned');
    expect(bye.actor.id).toBe('unknown');
  });
});
