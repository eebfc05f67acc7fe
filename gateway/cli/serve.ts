/**
 * Shared by `passerelle start` and `passerelle demo`: run a started gateway until SIGINT or
 * SIGTERM, then close it cleanly. A second signal while closing exits at once.
 */
import { startAdminUi, type RunningAdminUi } from '../../admin-ui/server/index.js';
import type { RunningGateway } from '../app.js';

/** The gateway with its admin UI, closed together (admin first: it writes through the audit log). */
export interface GatewayWithAdmin {
  readonly gateway: RunningGateway;
  readonly admin: RunningAdminUi | undefined;
  close(): Promise<void>;
}

/** Starts the admin UI next to a started gateway (it needs the audit log the gateway opened). */
export async function withAdminUi(gateway: RunningGateway, demo: boolean): Promise<GatewayWithAdmin> {
  let admin: RunningAdminUi | undefined;
  if (gateway.auditLog) {
    try {
      admin = await startAdminUi({ config: gateway.config, audit: gateway.auditLog, dataDir: gateway.layout.root, demo, log: gateway.log });
    } catch (e) {
      await gateway.close();
      throw e;
    }
  }
  return {
    gateway,
    admin,
    close: async () => {
      await admin?.close();
      await gateway.close();
    },
  };
}

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

/** The lines every start prints: where SFTP listens, the host key to check, the admin UI. */
export function startLines(g: GatewayWithAdmin): string[] {
  const gw = g.gateway;
  return [
    `  SFTP                      ${gw.sftp.host}:${gw.sftp.port}`,
    `  Clé d'hôte SSH / host key ${gw.hostKey.fingerprint} (ssh-ed25519)`,
    `  known_hosts               ${gw.knownHostsLine}`,
    ...(g.admin
      ? [`  Administration            ${g.admin.url}`, `  Certificat TLS (SHA-256)  ${g.admin.fingerprint}`]
      : ['  Administration            (non démarrée : journal d\'audit fourni de l\'extérieur / not started)']),
  ];
}
