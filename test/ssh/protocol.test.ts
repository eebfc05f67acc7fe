import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../gateway/log.js';
import { startSshServer } from '../../gateway/ssh/server.js';
import { isGatewayError } from '../../gateway/errors.js';
import { sshKeygen, tempDir, testConfig, TestConfigSource, RecordingAudit } from '../helpers/ssh-fixture.js';
import { run, sshArgs, startSshHarness, type SshHarness } from './harness.js';

/** An unencrypted SSH binary packet (RFC 4253 §6), as sent before the first key exchange completes. */
function packet(payload: Buffer): Buffer {
  let pad = 8 - ((5 + payload.length) % 8);
  if (pad < 4) pad += 8;
  const out = Buffer.alloc(5 + payload.length + pad);
  out.writeUInt32BE(1 + payload.length + pad, 0);
  out[4] = pad;
  payload.copy(out, 5);
  return out;
}

function str(s: string): Buffer {
  const b = Buffer.from(s);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

const KEXINIT = Buffer.concat([
  Buffer.from([20]),
  randomBytes(16),
  str('curve25519-sha256,kex-strict-c-v00@openssh.com'),
  str('ssh-ed25519'),
  str('aes128-gcm@openssh.com'),
  str('aes128-gcm@openssh.com'),
  str('hmac-sha2-256-etm@openssh.com'),
  str('hmac-sha2-256-etm@openssh.com'),
  str('none'),
  str('none'),
  str(''),
  str(''),
  Buffer.from([0]),
  Buffer.alloc(4),
]);
const IGNORE = Buffer.concat([Buffer.from([2]), str('terrapin')]);

describe('strict key exchange (Terrapin, CVE-2023-48795)', () => {
  let h: SshHarness;
  beforeAll(async () => {
    h = await startSshHarness();
  });
  afterAll(async () => {
    await h.stop();
  });

  it('drops a strict-kex client whose first packet is not KEXINIT, and audits the refusal', async () => {
    const s = connect({ host: '127.0.0.1', port: h.server.port });
    s.on('error', () => undefined);
    s.resume();
    await new Promise((r) => s.once('connect', r));
    s.write(Buffer.concat([Buffer.from('SSH-2.0-terrapin\r\n'), packet(IGNORE), packet(KEXINIT)]));
    await new Promise((r) => s.once('close', r));
    const e = await h.audit.waitFor((x) => x.type === 'ssh.negotiation_failed');
    expect(e.details?.['reason']).toMatch(/KEXINIT not first packet in strict KEX mode/);
    expect(e.details?.['client']).toBe('terrapin');
  });
});

describe('malformed peers before authentication', () => {
  let h: SshHarness;
  beforeAll(async () => {
    h = await startSshHarness();
  });
  afterAll(async () => {
    await h.stop();
  });

  async function sendAndWaitClose(data: Buffer): Promise<void> {
    const s = connect({ host: '127.0.0.1', port: h.server.port });
    s.on('error', () => undefined);
    s.resume();
    await new Promise((r) => s.once('connect', r));
    s.write(data);
    await new Promise((r) => s.once('close', r));
  }

  it('closes a peer whose identification line never ends, a greeting before it, or garbage packets', async () => {
    await sendAndWaitClose(Buffer.from(`SSH-2.0-${'a'.repeat(20_000)}`));
    await sendAndWaitClose(Buffer.from('hello there\r\nSSH-2.0-x\r\n'));
    // A packet length far over the protocol maximum, then a megabyte of noise.
    await sendAndWaitClose(Buffer.concat([Buffer.from('SSH-2.0-noise\r\n'), Buffer.from([0x7f, 0xff, 0xff, 0xff]), randomBytes(1 << 20)]));
    // …and the server still serves.
    const ok = await run('ssh', [...sshArgs(h, 'ludres', h.keys.recipient.privateKey), 'whoami']);
    expect(ok.stdout).toBe('party=ludres\n');
  });
});

describe('host keys', () => {
  it('refuses an RSA host key (ssh2 would also offer SHA-1 signatures with it)', async () => {
    const tmp = tempDir('passerelle-hostkey-');
    try {
      const rsa = sshKeygen(tmp.path, 'ssh_host_rsa', 'rsa');
      const err = await startSshServer({
        config: new TestConfigSource(testConfig({ dir: tmp.path })),
        hostKeys: [readFileSync(rsa.privateKey)],
        host: '127.0.0.1',
        port: 0,
        audit: new RecordingAudit(),
        log: silentLogger(),
        onSession: () => undefined,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isGatewayError(err, 'CONFIG_INVALID')).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });
});
