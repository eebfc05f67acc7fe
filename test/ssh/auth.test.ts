import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, sshArgs, startSshHarness, type SshHarness } from './harness.js';

describe('SSH public-key authentication (OpenSSH client)', () => {
  let h: SshHarness;
  beforeAll(async () => {
    h = await startSshHarness();
  });
  afterAll(async () => {
    await h.stop();
  });

  it('logs a partner in with its registered key, and audits the success with the key fingerprint', async () => {
    const r = await run('ssh', [...sshArgs(h, 'police-nationale', h.keys.partner.privateKey), 'whoami']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('party=police-nationale\n');
    expect(r.code).toBe(0);
    const fp = (await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', h.keys.partner.publicKey])).stdout.split(' ')[1];
    const ok = h.audit.ofType('ssh.auth').filter((e) => e.outcome === 'success');
    expect(ok.at(-1)?.actor).toMatchObject({ id: 'police-nationale', kind: 'partner' });
    expect(ok.at(-1)?.refs?.['key']).toBe(fp);
  });

  it('accepts any of the keys registered for a party, and a recipient with its own', async () => {
    const r1 = await run('ssh', [...sshArgs(h, 'police-nationale', h.keys.partner2.privateKey), 'whoami']);
    expect(r1.stdout).toBe('party=police-nationale\n');
    const r2 = await run('ssh', [...sshArgs(h, 'ludres', h.keys.recipient.privateKey), 'whoami']);
    expect(r2.stdout).toBe('party=ludres\n');
  });

  it('refuses a key registered for another party', async () => {
    const r = await run('ssh', [...sshArgs(h, 'ludres', h.keys.partner.privateKey), 'whoami']);
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Permission denied (publickey)');
  });

  it('answers an unknown user exactly like a wrong key', async () => {
    const wrongKey = await run('ssh', [...sshArgs(h, 'police-nationale', h.keys.stranger.privateKey, ['-v']), 'whoami']);
    const unknownUser = await run('ssh', [...sshArgs(h, 'nobody-here', h.keys.stranger.privateKey, ['-v']), 'whoami']);
    const unknownWithGoodKey = await run('ssh', [...sshArgs(h, 'nobody-here', h.keys.partner.privateKey, ['-v']), 'whoami']);
    for (const r of [wrongKey, unknownUser, unknownWithGoodKey]) {
      expect(r.code).toBe(255);
      expect(r.stderr).toContain('Permission denied (publickey)');
    }
    // The authentication dialogue, as the client sees it, is the same line for line.
    const dialogue = (s: string): string[] =>
      s
        .split('\n')
        .filter((l) => /^debug1: (Authentications that can continue|Offering public key|Server accepts key|No more authentication methods)/.test(l))
        .map((l) => l.replace(/ED25519 SHA256:\S+/, 'KEY').replace(/\/\S+ /, 'FILE '));
    expect(dialogue(unknownUser.stderr)).toEqual(dialogue(wrongKey.stderr));
    expect(dialogue(unknownWithGoodKey.stderr)).toEqual(dialogue(wrongKey.stderr));
    expect(dialogue(wrongKey.stderr).some((l) => l.startsWith('debug1: Server accepts key'))).toBe(false);
    const failures = h.audit.ofType('ssh.auth').filter((e) => e.outcome === 'failure');
    expect(failures.map((e) => e.details?.['reason'])).toEqual(expect.arrayContaining(['unknown_user', 'key_not_registered']));
  });

  it('refuses password and keyboard-interactive authentication', async () => {
    for (const method of ['password', 'keyboard-interactive']) {
      const r = await run('ssh', [
        ...sshArgs(h, 'police-nationale', undefined, ['-o', `PreferredAuthentications=${method}`, '-o', 'BatchMode=no', '-o', 'NumberOfPasswordPrompts=0']),
        'whoami',
      ]);
      expect(r.code).toBe(255);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/Permission denied \(publickey\)|No more authentication methods/);
    }
  });
});
