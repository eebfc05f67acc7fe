import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { testConfig } from '../helpers/ssh-fixture.js';
import { closed, ssh2Connect, ssh2Exec, sshArgs, startSshHarness, type SshHarness } from './harness.js';

/** Starts `ssh … sleep` (a session the test handler holds open); resolves with its exit code when it ends. */
function holdSession(h: SshHarness, user: string, key: string): { exited: Promise<number | null> } {
  const p = spawn('ssh', [...sshArgs(h, user, key), 'sleep'], { stdio: 'ignore' });
  return { exited: new Promise((r) => p.on('exit', (code) => r(code))) };
}

async function until(pred: () => boolean): Promise<void> {
  while (!pred()) await new Promise((r) => setTimeout(r, 20));
}

describe('configuration changes end the sessions they revoke', () => {
  let h: SshHarness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('closes the live OpenSSH session of a key that is removed, and only that one', async () => {
    h = await startSshHarness();
    const k = h.keys;
    const byKey1 = holdSession(h, 'police-nationale', k.partner.privateKey);
    const byKey2 = await ssh2Connect(h, { username: 'police-nationale', privateKey: readFileSync(k.partner2.privateKey) });
    const other = await ssh2Connect(h, { username: 'ludres', privateKey: readFileSync(k.recipient.privateKey) });
    await until(() => h!.contexts.some((c) => c.party.id === 'police-nationale'));

    // The operator removes the partner's first key.
    h.config.set(
      testConfig({
        dir: h.dir,
        base: h.config.current(),
        partners: [{ id: 'police-nationale', sshKeys: [k.partner2.publicLine] }],
        recipients: [{ id: 'ludres', sshKeys: [k.recipient.publicLine] }],
      }),
    );
    expect(await byKey1.exited).toBe(255);
    const revoked = await h.audit.waitFor((e) => e.type === 'ssh.session_revoked');
    expect(revoked.actor.id).toBe('police-nationale');
    // The same party's connection with its remaining key, and other parties, go on.
    expect(await ssh2Exec(byKey2, 'whoami')).toBe('party=police-nationale\n');
    expect(await ssh2Exec(other, 'whoami')).toBe('party=ludres\n');
    expect(h.audit.ofType('ssh.session_revoked')).toHaveLength(1);
    byKey2.end();
    other.end();
  });

  it('closes every connection of a party that is removed, and the onConnectionClose callbacks run', async () => {
    h = await startSshHarness();
    const k = h.keys;
    const a = await ssh2Connect(h, { username: 'ludres', privateKey: readFileSync(k.recipient.privateKey) });
    const b = await ssh2Connect(h, { username: 'ludres', privateKey: readFileSync(k.recipient.privateKey) });
    await ssh2Exec(a, 'whoami');
    await ssh2Exec(b, 'whoami');
    let callbacks = 0;
    for (const ctx of h.contexts) ctx.onConnectionClose(() => (callbacks += 1));
    h.config.set(
      testConfig({
        dir: h.dir,
        base: h.config.current(),
        partners: [{ id: 'police-nationale', sshKeys: [k.partner.publicLine] }],
        recipients: [],
      }),
    );
    await Promise.all([closed(a), closed(b)]);
    await until(() => callbacks === 2);
    expect(h.audit.ofType('ssh.session_revoked').map((e) => e.actor.id)).toEqual(['ludres', 'ludres']);
    // And the removed party can no longer log in.
    await expect(ssh2Connect(h, { username: 'ludres', privateKey: readFileSync(k.recipient.privateKey) })).rejects.toThrow(
      /authentication methods failed/,
    );
  });
});
