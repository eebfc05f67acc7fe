/**
 * The gateway process: configuration (watched), audit trail, start-up recovery, the SSH server
 * with the SFTP adapter behind it, and an orderly shutdown. Library code: it returns what the
 * CLI prints and never prints or exits itself.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { openAuditLog, type AuditLog } from './audit/log.js';
import type { AuditEvent, AuditSink } from './audit/events.js';
import { applyEnv } from './config/env.js';
import type { GatewayConfig, GatewaySettings } from './config/model.js';
import { watchConfig, type WatchedConfig } from './config/watch.js';
import { assembleIntake } from './intake/assemble.js';
import type { Intake } from './intake/contract.js';
import { fixHeapGrowth, startScavenger } from './heap-growth.js';
import { createLogger, type Logger } from './log.js';
import { dataLayout, type DataLayout } from './paths.js';
import { recover } from './publish/recover.js';
import { expireDeliveries } from './publish/expire.js';
import { handleSession } from './sftp/session.js';
import { createUploadRegistry } from './sftp/uploads.js';
import { startSshServer } from './ssh/server.js';
import { openStateStore, type StateStore } from './store/state.js';

/**
 * What an intake factory gets: the pieces of the running gateway the pipeline writes through
 * (auditLog, when the gateway opened it, lets receipts carry a checkpoint and a proof).
 */
export type IntakeDeps = Pick<RunningGateway, 'config' | 'layout' | 'audit' | 'auditLog' | 'state' | 'log'>;

/** An intake the gateway may have to close at shutdown (worker threads, subscriptions). */
type ClosableIntake = Intake & { close?(): Promise<void> };

export interface GatewayOptions {
  readonly configFile: string;
  /** Demo mode: demo keys accepted, PASSERELLE_DATA / _SFTP_PORT / _ADMIN_PORT honoured. */
  readonly demo: boolean;
  readonly log?: Logger;
  /** Environment for the demo overrides (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Applied after the environment overrides (tests: port 0, a temp data directory). */
  readonly adjustSettings?: (settings: GatewaySettings) => GatewaySettings;
  /** The audit sink; default: the durable audit log in dataDir/audit (closed by `close`). */
  readonly audit?: AuditSink;
  /**
   * The intake pipeline, or a factory for it (sync or async; called once the data directory,
   * audit and state are open, before SFTP listens). Default: the real pipeline
   * (intake/assemble.ts). An intake with a `close()` is closed by `close`.
   */
  readonly intake?: ClosableIntake | ((deps: IntakeDeps) => ClosableIntake | Promise<ClosableIntake>);
  /** Worker threads for the default intake; default: one per core but one, at least one; 0 = in-thread. */
  readonly intakeWorkers?: number;
}

export interface RunningGateway {
  readonly config: WatchedConfig;
  readonly layout: DataLayout;
  readonly audit: AuditSink;
  /** The durable audit log when the gateway opened it (no `audit` option): the admin UI reads it. */
  readonly auditLog: AuditLog | undefined;
  readonly state: StateStore;
  readonly log: Logger;
  readonly sftp: { readonly host: string; readonly port: number };
  /** The SSH host key: "SHA256:…" fingerprint and the "ssh-ed25519 AAAA…" public line. */
  readonly hostKey: { readonly fingerprint: string; readonly line: string };
  /** known_hosts line for this gateway as clients address it ("[host]:port …" unless port 22). */
  readonly knownHostsLine: string;
  /** Stops accepting, ends sessions, audits the stop, closes everything it opened. Idempotent. */
  close(): Promise<void>;
}

const GATEWAY_ACTOR = { id: 'gateway', kind: 'gateway' } as const;
const DELIVERY_EXPIRY_INTERVAL_MS = 3_600_000;
const AUDIT_PURGE_INTERVAL_MS = 6 * 3_600_000;

export function knownHostsLine(host: string, port: number, publicLine: string): string {
  return `${port === 22 ? host : `[${host}]:${port}`} ${publicLine}`;
}

export async function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  fixHeapGrowth();
  const log = opts.log ?? createLogger();
  const env = opts.env ?? process.env;
  const adjust = opts.adjustSettings ?? ((s: GatewaySettings) => s);
  const config = await watchConfig(opts.configFile, { demo: opts.demo, adjustSettings: (s) => adjust(applyEnv(s, env)) }, log);
  const cleanups: Array<() => Promise<void> | void> = [() => config.close(), startScavenger()];
  const unwind = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        log.error({ err }, 'shutdown step failed');
      }
    }
  };
  try {
    const first = config.current();
    const settings = first.settings;
    const layout = dataLayout(settings.dataDir);
    for (const d of [layout.root, layout.staging, layout.quarantine, layout.pending, layout.outbox, layout.receipts, layout.audit, layout.state]) {
      await mkdir(d, { recursive: true, mode: 0o700 });
    }

    const ownedAudit = opts.audit ? undefined : await openDefaultAudit(first, layout, log);
    if (ownedAudit) {
      cleanups.push(() => ownedAudit.close());
      // Audit retention: details of entries past retention are purged (leaves stay), at start and every few hours.
      // Registered after close(), so unwound before it: the audit log closes after the last purge.
      cleanups.push(periodic(AUDIT_PURGE_INTERVAL_MS, () => ownedAudit.purgeExpired(), log, 'audit retention purge'));
    }
    const audit: AuditSink = opts.audit ?? ownedAudit!;
    const append = (e: AuditEvent): Promise<unknown> => audit.append(e);

    const state = openStateStore(layout.state);
    cleanups.push(() => state.close());
    const recovered = await recover({ layout, state, audit, now: () => new Date() });
    // Deliveries past their convention's retention leave the outbox, at start and every hour.
    cleanups.push(periodic(DELIVERY_EXPIRY_INTERVAL_MS, () => expireDeliveries({ layout, state, audit, now: new Date() }), log, 'delivery expiry'));
    log.info({ rolledForward: recovered.rolledForward.length, rolledBack: recovered.rolledBack.length }, 'start-up recovery done');

    const offChange = config.onChange((next) => {
      const a = next.settings;
      // Listening address, host key and data directory are read once: changing them needs a restart.
      if (a.sftp.host !== settings.sftp.host || a.sftp.port !== settings.sftp.port || a.keys.sshHostKey !== settings.keys.sshHostKey || a.dataDir !== settings.dataDir) {
        log.warn('SFTP address, host key or data directory changed: takes effect at the next restart');
      }
      void append({
        type: 'config.loaded',
        actor: GATEWAY_ACTOR,
        outcome: 'success',
        details: { partners: next.partners.size, recipients: next.recipients.size, conventions: next.conventions.length },
      }).catch((err: unknown) => log.error({ err }, 'audit append failed'));
    });
    const offRefused = config.onRefused((err) =>
      void append({ type: 'config.refused', actor: GATEWAY_ACTOR, outcome: 'failure', details: { code: err.code } }).catch((e: unknown) =>
        log.error({ err: e }, 'audit append failed'),
      ),
    );
    cleanups.push(() => (offChange(), offRefused()));

    const intakeDeps: IntakeDeps = { config, layout, audit, auditLog: ownedAudit, state, log };
    const workers = opts.intakeWorkers ?? Math.max(1, availableParallelism() - 1);
    const intake: ClosableIntake =
      typeof opts.intake === 'function'
        ? await opts.intake(intakeDeps)
        : (opts.intake ?? (await assembleIntake({ ...intakeDeps, workers })));
    if (intake.close) cleanups.push(() => intake.close?.());
    const uploads = createUploadRegistry({ keepMs: () => config.current().settings.limits.partialUploadKeepMs, log });
    cleanups.push(() => uploads.close());
    const staged = await uploads.restore(layout.staging);
    if (staged.restored + staged.removed > 0) log.info(staged, 'staging: resumable partial uploads restored, the rest removed');
    const deps = {
      config,
      intake,
      layout,
      audit,
      log,
      uploads,
      onDelivery: (e: { recipient: string; dataset: string; file: string; event: 'downloaded' | 'deleted' }) => {
        const row = state.deliveryByFile(e.recipient, e.dataset, e.file);
        if (row) state.setDeliveryState(row.id, e.event, new Date().toISOString()).catch((err: unknown) => log.error({ err }, 'delivery state not recorded'));
      },
    };

    const hostKeyFile = resolve(first.dir, settings.keys.sshHostKey);
    const ssh = await startSshServer({
      config,
      hostKeys: [await readFile(hostKeyFile)],
      host: settings.sftp.host,
      port: settings.sftp.port,
      audit,
      log,
      onSession: (session, ctx) => handleSession(session, ctx, deps),
    });
    // Unwound in reverse: the SSH server closes (its disconnects audited), then the stop is recorded.
    cleanups.push(() => append({ type: 'gateway.stop', actor: GATEWAY_ACTOR, outcome: 'info' }).then(() => undefined));
    cleanups.push(() => ssh.close());

    await append({
      type: 'gateway.start',
      actor: GATEWAY_ACTOR,
      outcome: 'info',
      refs: { sshHostKey: ssh.fingerprint },
      details: { demo: settings.demo, sftpPort: ssh.port, recoveredForward: recovered.rolledForward.length, recoveredBack: recovered.rolledBack.length },
    });

    let closing: Promise<void> | undefined;
    return {
      config,
      layout,
      audit,
      auditLog: ownedAudit,
      state,
      log,
      sftp: { host: settings.sftp.host, port: ssh.port },
      hostKey: { fingerprint: ssh.fingerprint, line: ssh.hostKeyLine },
      knownHostsLine: knownHostsLine(settings.sftp.host, ssh.port, ssh.hostKeyLine),
      close: () => (closing ??= unwind()),
    };
  } catch (e) {
    await unwind();
    throw e;
  }
}

/**
 * Runs `task` now and every `intervalMs` (never two at once; a failure is logged, not fatal);
 * returns the cleanup that stops the timer and waits for a run in progress.
 */
function periodic(intervalMs: number, task: () => Promise<number>, log: Logger, what: string): () => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  const run = (): void => {
    running = running.then(() =>
      task().then(
        (n) => void (n > 0 && log.info({ count: n }, what)),
        (err: unknown) => log.error({ err }, `${what} failed`),
      ),
    );
  };
  run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

async function openDefaultAudit(config: GatewayConfig, layout: DataLayout, log: Logger): Promise<AuditLog> {
  const s = config.settings;
  return openAuditLog({
    dir: layout.audit,
    origin: s.audit.origin,
    checkpointKeyFile: s.keys.checkpointKey !== undefined ? resolve(config.dir, s.keys.checkpointKey) : resolve(layout.audit, 'checkpoint.key'),
    checkpointIntervalMs: s.audit.checkpointIntervalMs,
    retentionDays: s.audit.retentionDays,
    demo: s.demo,
    log,
  });
}
