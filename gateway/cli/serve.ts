/**
 * Shared by `passerelle start` and `passerelle demo`: run a started gateway until SIGINT or
 * SIGTERM, then close it cleanly. A second signal while closing exits at once.
 */
import type { RunningGateway } from '../app.js';

export function serveUntilSignal(running: { close(): Promise<void> }, name: string): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`${name} : arrêt forcé (${signal}) / forced stop\n`);
        process.exit(130);
      }
      stopping = true;
      process.stderr.write(`${name} : arrêt en cours (${signal})… / stopping…\n`);
      running.close().then(
        () => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          process.stderr.write(`${name} : arrêtée / stopped\n`);
          resolve(0);
        },
        (err: unknown) => {
          process.stderr.write(`${name} : erreur à l'arrêt / error while stopping: ${err instanceof Error ? err.message : String(err)}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** The lines every start prints: where SFTP listens and the host key to check. */
export function sftpLines(g: RunningGateway): string[] {
  return [
    `  SFTP                      ${g.sftp.host}:${g.sftp.port}`,
    `  Clé d'hôte SSH / host key ${g.hostKey.fingerprint} (ssh-ed25519)`,
    `  known_hosts               ${g.knownHostsLine}`,
  ];
}
