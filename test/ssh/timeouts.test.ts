import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { startRelay } from '../helpers/relay.js';
import { closed, ssh2Connect, ssh2Exec, startSshHarness, type SshHarness } from './harness.js';

function rawConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.resume(); // read what the server sends, so its FIN is seen
      resolve(s);
    });
    s.once('error', reject);
  });
}

const socketClosed = (s: Socket): Promise<void> => new Promise((r) => s.once('close', () => r()));

describe('time limits', () => {
  let h: SshHarness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('closes a connection that does not authenticate within the login timeout, silent or mid-handshake', async () => {
    h = await startSshHarness({ handshakeTimeoutMs: 800, idleTimeoutMs: 120_000 });
    const silent = await rawConnect(h.server.port);
    const talker = await rawConnect(h.server.port);
    talker.write('SSH-2.0-slowloris\r\n');
    let received = '';
    talker.on('data', (d: Buffer) => (received += d.toString('latin1')));
    await Promise.all([socketClosed(silent), socketClosed(talker)]);
    expect(received.startsWith('SSH-2.0-Passerelle')).toBe(true);
    const bye = await h.audit.waitFor((e) => e.type === 'ssh.disconnect');
    expect(bye.details?.['reason']).toBe('login_timeout');
    expect(bye.details?.['client']).toBeUndefined();
  });

  it('keeps an authenticated connection past the login timeout', async () => {
    h = await startSshHarness({ handshakeTimeoutMs: 800, idleTimeoutMs: 120_000 });
    const c = await ssh2Connect(h, { username: 'ludres', privateKey: readFileSync(h.keys.recipient.privateKey) });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await ssh2Exec(c, 'whoami')).toBe('party=ludres\n');
    c.end();
  });

  it('closes an authenticated connection left idle, and audits why', async () => {
    h = await startSshHarness({ idleTimeoutMs: 1_000, keepaliveIntervalMs: 200 });
    const c = await ssh2Connect(h, { username: 'ludres', privateKey: readFileSync(h.keys.recipient.privateKey) });
    // Answering the server's keepalives (ssh2 does) is not activity.
    await closed(c);
    const bye = await h.audit.waitFor((e) => e.type === 'ssh.disconnect' && e.actor.id === 'ludres');
    expect(bye.details?.['reason']).toBe('idle_timeout');
  });

  it('closes an authenticated connection whose peer stops answering keepalives', async () => {
    h = await startSshHarness({ idleTimeoutMs: 120_000, keepaliveIntervalMs: 200 });
    // A relay that stops carrying client→server traffic once logged in: the peer "goes silent".
    const relay = await startRelay(h.server.port);
    const c = new ssh2.Client();
    c.on('error', () => undefined);
    await new Promise<void>((resolve) => {
      c.once('ready', () => resolve());
      c.connect({ host: '127.0.0.1', port: relay.port, username: 'ludres', privateKey: readFileSync(h!.keys.recipient.privateKey) });
    });
    relay.silenceClients();
    const bye = await h.audit.waitFor((e) => e.type === 'ssh.disconnect' && e.actor.id === 'ludres');
    expect(bye.details?.['reason']).toBe('keepalive_timeout');
    c.end();
    await relay.close();
  });
});
