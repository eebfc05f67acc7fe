import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { readFileSync } from 'node:fs';
import { run, sshArgs, startSshHarness, type SshHarness } from './harness.js';

describe('SSH algorithm negotiation', () => {
  let h: SshHarness;
  beforeAll(async () => {
    h = await startSshHarness();
  });
  afterAll(async () => {
    await h.stop();
  });

  it('offers only the modern lists, no compression, and negotiates strict key exchange with OpenSSH', async () => {
    const r = await run('ssh', [...sshArgs(h, 'police-nationale', h.keys.partner.privateKey, ['-vvv', '-o', 'Compression=yes']), 'whoami']);
    expect(r.stdout).toBe('party=police-nationale\n');
    const log = r.stderr.replace(/\r/g, '');
    const server = log.slice(log.indexOf('peer server KEXINIT proposal'));
    expect(server).toContain('KEX algorithms: curve25519-sha256,curve25519-sha256@libssh.org,kex-strict-s-v00@openssh.com\n');
    expect(server).toContain('host key algorithms: ssh-ed25519\n');
    expect(server).toContain('ciphers ctos: aes256-gcm@openssh.com,aes128-gcm@openssh.com,chacha20-poly1305@openssh.com\n');
    expect(server).toContain('MACs stoc: hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com\n');
    expect(server).toContain('compression ctos: none\n');
    expect(log).toContain('will use strict KEX ordering');
    expect(log).toMatch(/kex: algorithm: curve25519-sha256\n/);
    expect(log).toMatch(/kex: client->server cipher: \S+ MAC: <implicit> compression: none/);
  });

  it.each([
    ['key exchange', ['-o', 'KexAlgorithms=diffie-hellman-group14-sha1'], 'no matching key exchange method found', 'no matching key exchange algorithm'],
    ['cipher', ['-c', 'aes128-cbc'], 'no matching cipher found', 'no matching C->S cipher'],
    ['cipher (CTR)', ['-c', 'aes256-ctr'], 'no matching cipher found', 'no matching C->S cipher'],
    ['host key', ['-o', 'HostKeyAlgorithms=rsa-sha2-512,ssh-rsa'], 'no matching host key type found', 'no matching host key format'],
  ])('refuses a client that offers only a weak %s, and logs and audits the refusal', async (_what, opts, clientSays, serverSays) => {
    const before = h.audit.ofType('ssh.negotiation_failed').length;
    const r = await run('ssh', [...sshArgs(h, 'police-nationale', h.keys.partner.privateKey, opts), 'whoami']);
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(clientSays);
    const e = await h.audit.waitFor((x) => x.type === 'ssh.negotiation_failed' && h.audit.ofType('ssh.negotiation_failed').indexOf(x) >= before);
    expect(e.outcome).toBe('failure');
    expect(String(e.details?.['reason'])).toContain(serverSays);
    expect(e.details?.['client']).toMatch(/^OpenSSH_/);
  });

  it('refuses an ssh2 client limited to SHA-1 Diffie-Hellman', async () => {
    const err = await new Promise<Error>((resolve, reject) => {
      const c = new ssh2.Client();
      c.on('ready', () => reject(new Error('logged in with a weak kex')));
      c.on('error', resolve);
      c.connect({
        host: '127.0.0.1',
        port: h.server.port,
        username: 'police-nationale',
        privateKey: readFileSync(h.keys.partner.privateKey),
        algorithms: { kex: ['diffie-hellman-group14-sha1', 'diffie-hellman-group1-sha1'] },
        readyTimeout: 20_000,
      });
    });
    expect(err.message).toMatch(/no matching key exchange/i);
  });
});
