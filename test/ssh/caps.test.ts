import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../gateway/config/defaults.js';
import { run, sshArgs, startSshHarness, type SshHarness } from './harness.js';

interface Idle {
  readonly socket: Socket;
  closedByServer: boolean;
}

/** Opens `n` TCP connections from `localAddress` that send an SSH identification line and then nothing. */
async function openIdle(h: SshHarness, n: number, localAddress = '127.0.0.1'): Promise<Idle[]> {
  const out: Idle[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = Array.from({ length: Math.min(50, n - i) }, () =>
      new Promise<Idle>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: h.server.port, localAddress });
        const idle: Idle = { socket, closedByServer: false };
        socket.on('error', () => undefined);
        socket.on('close', () => (idle.closedByServer = true));
        socket.once('connect', () => {
          socket.write('SSH-2.0-idle\r\n');
          resolve(idle);
        });
        socket.once('error', reject);
      }),
    );
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

async function until(pred: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('connection caps before authentication', () => {
  let h: SshHarness | undefined;
  let idle: Idle[] = [];
  afterEach(async () => {
    for (const i of idle) i.socket.destroy();
    idle = [];
    await h?.stop();
  });

  it('keeps serving a real client while 500 idle pre-auth connections are held (per-source cap raised)', async () => {
    h = await startSshHarness({ maxConnections: 1000, maxConnectionsPerSource: 1000, handshakeTimeoutMs: 120_000 });
    idle = await openIdle(h, 500);
    const r = await run('ssh', [...sshArgs(h, 'police-nationale', h.keys.partner.privateKey), 'whoami']);
    expect(r.stdout).toBe('party=police-nationale\n');
    expect(idle.filter((i) => i.closedByServer)).toHaveLength(0);
  });

  it('with the default per-source cap, drops the excess from one source at once and still serves another source', async () => {
    const cap = DEFAULT_LIMITS.maxConnectionsPerSource;
    h = await startSshHarness({ maxConnections: DEFAULT_LIMITS.maxConnections, maxConnectionsPerSource: cap, handshakeTimeoutMs: 120_000 });
    idle = await openIdle(h, cap + 30);
    // A client from another loopback address is not affected by 127.0.0.1's cap.
    const r = await run('ssh', [...sshArgs(h, 'police-nationale', h.keys.partner.privateKey, ['-b', '127.0.0.2']), 'whoami']);
    expect(r.stdout).toBe('party=police-nationale\n');
    await until(() => idle.filter((i) => i.closedByServer).length >= 30, 'the excess to be dropped');
    // One more round trip: nothing else was dropped in the meantime.
    const again = await run('ssh', [...sshArgs(h, 'police-nationale', h.keys.partner.privateKey, ['-b', '127.0.0.2']), 'whoami']);
    expect(again.stdout).toBe('party=police-nationale\n');
    expect(idle.filter((i) => i.closedByServer)).toHaveLength(30);
    expect(idle.slice(0, cap).every((i) => !i.closedByServer)).toBe(true);
    // The capped source itself is refused at accept (the real client sees the connection closed).
    const capped = await run('ssh', [...sshArgs(h, 'police-nationale', h.keys.partner.privateKey), 'whoami']);
    expect(capped.code).toBe(255);
    // Once its idle connections go, the source is served again.
    for (const i of idle) i.socket.destroy();
    idle = [];
    const eventually = async (): Promise<string> => {
      for (let i = 0; i < 50; i++) {
        const x = await run('ssh', [...sshArgs(h!, 'police-nationale', h!.keys.partner.privateKey), 'whoami']);
        if (x.code === 0) return x.stdout;
        await new Promise((res) => setTimeout(res, 100));
      }
      return 'never';
    };
    expect(await eventually()).toBe('party=police-nationale\n');
  });

  it('caps the total number of connections across sources', async () => {
    h = await startSshHarness({ maxConnections: 20, maxConnectionsPerSource: 15, handshakeTimeoutMs: 120_000 });
    idle = [...(await openIdle(h, 15, '127.0.0.1')), ...(await openIdle(h, 15, '127.0.0.3'))];
    const r = await run('ssh', [...sshArgs(h, 'police-nationale', h.keys.partner.privateKey, ['-b', '127.0.0.2']), 'whoami']);
    expect(r.code).toBe(255);
    await until(() => idle.filter((i) => i.closedByServer).length >= 10, 'the excess to be dropped');
    expect(idle.slice(0, 15).every((i) => !i.closedByServer)).toBe(true);
  });
});
