/**
 * The gateway of the intake figure (bench/intake.ts) in a process of its own, so that its peak
 * RSS and CPU time are the gateway's alone: the bench's own work (writing 256 MiB exports,
 * running gpg, its ssh2 client) stays out of them. Argument: JSON { work, workers? }. Prints one
 * JSON line once listening ({ port, knownHostsLine, receipts }), closes when stdin ends.
 */
import { join } from 'node:path';
import { startGateway } from '../gateway/app.js';
import { projectRoot } from '../gateway/config/project.js';
import { silentLogger } from '../gateway/log.js';

export interface IntakeGatewayReady {
  readonly port: number;
  readonly knownHostsLine: string;
  /** The receipts directory of the data layout, to say why an upload was refused. */
  readonly receipts: string;
  /** outbox/<recipient>/<dataset>/<file>: what the intake delivered. */
  readonly outbox: string;
}

const { work, workers } = JSON.parse(process.argv[2] ?? '{}') as { work: string; workers?: number };
const root = projectRoot();
// The gateway as deployed: its default intake is the real pipeline (worker threads).
const gateway = await startGateway({
  configFile: join(root, 'config', 'grand-nancy', 'passerelle.json'),
  demo: true,
  env: {},
  log: silentLogger(),
  adjustSettings: (s) => ({ ...s, dataDir: join(work, 'intake-data'), sftp: { host: '127.0.0.1', port: 0 } }),
  ...(workers !== undefined ? { intakeWorkers: workers } : {}),
});
const ready: IntakeGatewayReady = { port: gateway.sftp.port, knownHostsLine: gateway.knownHostsLine, receipts: gateway.layout.receipts, outbox: gateway.layout.outbox };
process.stdout.write(JSON.stringify(ready) + '\n');
process.stdin.resume();
process.stdin.once('end', () => {
  void gateway.close().then(() => process.exit(0));
});
