import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, ssh2Connect, ssh2Exec, sshArgs, startSshHarness, type SshHarness } from './harness.js';


/** An ssh2 client that keeps trying `attempt` until the server hangs up; resolves with the number of tries. */
function flood(h: SshHarness, attempt: () => ssh2.AnyAuthMethod): Promise<{ tries: number; error?: Error }> {
  return new Promise((resolve) => {
    let tries = 0;
    let error: Error | undefined;
    const c = new ssh2.Client();
    c.on('ready', () => {
      c.end();
      resolve({ tries: -1 });
    });
    c.on('error', (e) => (error = e));
    c.on('close', () => resolve({ tries, error }));
    c.connect({
      host: '127.0.0.1',
      port: h.server.port,
      username: 'police-nationale',
      readyTimeout: 20_000,
      authHandler: (_methodsLeft, _partial, next) => {
        tries += 1;
        next(attempt());
      },
    });
  });
}

describe('authentication attempts per connection', () => {
  let h: SshHarness;
  beforeAll(async () => {
    h = await startSshHarness({ maxAuthAttempts: 4, banAfterFailures: 1000 });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('refuses passwords from ssh2 and ends the connection after maxAuthAttempts, leaving other connections alone', async () => {
    const bystander = await ssh2Connect(h, { username: 'ludres', privateKey: readFileSync(h.keys.recipient.privateKey) });
    const f = await flood(h, () => ({ type: 'password', username: 'police-nationale', password: 'hunter2' }));
    expect(f.tries).toBeGreaterThanOrEqual(4);
    // The server hung up: the client did not get to try forever.
    expect(f.tries).toBeLessThanOrEqual(5);
    const failures = h.audit.ofType('ssh.auth').filter((e) => e.outcome === 'failure' && e.details?.['method'] === 'password');
    expect(failures).toHaveLength(4);
    expect(failures.every((e) => e.details?.['reason'] === 'method_not_allowed')).toBe(true);
    // The password is never recorded anywhere in the audit trail.
    expect(JSON.stringify(h.audit.events)).not.toContain('hunter2');
    const bye = await h.audit.waitFor((e) => e.type === 'ssh.disconnect' && e.details?.['reason'] === 'too_many_auth_failures');
    expect(bye.refs?.['connection']).toBe(failures[0]?.refs?.['connection']);

    // Only that connection ended: an established one keeps working and a new login succeeds.
    expect(await ssh2Exec(bystander, 'whoami')).toBe('party=ludres\n');
    bystander.end();
    const r = await run('ssh', [...sshArgs(h, 'police-nationale', h.keys.partner.privateKey), 'whoami']);
    expect(r.stdout).toBe('party=police-nationale\n');
  });

  it('treats keyboard-interactive like any refused method', async () => {
    const before = h.audit.ofType('ssh.auth').length;
    const f = await flood(h, () => ({ type: 'keyboard-interactive', username: 'police-nationale', prompt: (_n: string, _i: string, _l: string, _p: ssh2.Prompt[], finish: ssh2.KeyboardInteractiveCallback) => finish(['x']) }));
    expect(f.tries).toBeGreaterThanOrEqual(4);
    const mine = h.audit.ofType('ssh.auth').slice(before);
    expect(mine.map((e) => e.details?.['reason'])).toEqual(Array(4).fill('method_not_allowed'));
  });

  it('ends a flood of unregistered keys the same way, with each key fingerprint audited', async () => {
    const before = h.audit.ofType('ssh.auth').length;
    const stranger = readFileSync(h.keys.stranger.privateKey);
    const f = await flood(h, () => ({ type: 'publickey', username: 'police-nationale', key: stranger }));
    expect(f.tries).toBeGreaterThanOrEqual(4);
    expect(f.tries).toBeLessThanOrEqual(5);
    const mine = h.audit.ofType('ssh.auth').slice(before);
    expect(mine).toHaveLength(4);
    expect(mine.every((e) => e.details?.['reason'] === 'key_not_registered' && String(e.refs?.['key']).startsWith('SHA256:'))).toBe(true);
  });

  it('audits a hostile username as a bounded, printable string', async () => {
    const before = h.audit.ofType('ssh.auth').length;
    const hostile = `evil\u0000\r\n\u001b[31m${'x'.repeat(5000)}`;
    const stranger = readFileSync(h.keys.stranger.privateKey);
    await new Promise<void>((resolve) => {
      const c = new ssh2.Client();
      c.on('error', () => undefined);
      c.on('close', () => resolve());
      c.on('ready', () => c.end());
      c.connect({ host: '127.0.0.1', port: h.server.port, username: hostile, privateKey: stranger, readyTimeout: 20_000 });
    });
    const mine = h.audit.ofType('ssh.auth').slice(before);
    expect(mine.length).toBeGreaterThan(0);
    for (const e of mine) {
      const u = String(e.details?.['username']);
      expect(u.length).toBeLessThanOrEqual(65);
      expect([...u].every((ch) => ch.charCodeAt(0) >= 0x20)).toBe(true);
      expect(u.startsWith('evil????[31mxxx')).toBe(true);
      expect(e.actor.id).toBe('unknown');
      expect(e.details?.['reason']).toBe('unknown_user');
    }
  });
});
