/**
 * A TCP relay in front of a server on 127.0.0.1, for what a stock client cannot be made to do:
 * stop sending (its bytes to the server are dropped) or stop reading (the server's bytes are
 * held, so the server's socket backs up).
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface Relay {
  readonly port: number;
  /** From now on the clients' bytes never reach the server: the peer "goes silent". */
  silenceClients(): void;
  /** Stops reading the server's bytes until `release`. */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

export async function startRelay(target: number): Promise<Relay> {
  let silent = false;
  const upstreams = new Set<Socket>();
  const server = createServer((down) => {
    const up = connect({ host: '127.0.0.1', port: target });
    upstreams.add(up);
    down.on('data', (d: Buffer) => silent || up.write(d));
    // Not pipe(): its drain handling would resume a held upstream.
    up.on('data', (d: Buffer) => down.write(d));
    for (const s of [up, down]) s.on('error', () => undefined).on('close', () => (up.destroy(), down.destroy()));
    up.on('close', () => upstreams.delete(up));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    silenceClients: () => void (silent = true),
    hold: () => upstreams.forEach((u) => u.pause()),
    release: () => upstreams.forEach((u) => u.resume()),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
