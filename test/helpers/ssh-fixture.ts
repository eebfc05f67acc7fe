/**
 * Test fixtures for the SSH layer: real keys made with `ssh-keygen` in a temp dir, a
 * GatewayConfig built directly (no config files), a ConfigSource the test controls, and an
 * audit sink that records events in memory so tests can assert what was audited.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent, AuditReceipt, AuditSink } from '../../gateway/audit/events.js';
import type { ConfigSource, GatewayConfig, Limits, Partner, Recipient } from '../../gateway/config/model.js';

export interface KeyPair {
  readonly privateKey: string;
  readonly publicKey: string;
  /** "ssh-ed25519 AAAA… comment" */
  readonly publicLine: string;
}

export function tempDir(prefix: string): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A key pair made by OpenSSH's ssh-keygen, without passphrase, mode 0600. */
export function sshKeygen(dir: string, name: string, type: 'ed25519' | 'rsa' | 'ecdsa' = 'ed25519'): KeyPair {
  const privateKey = join(dir, name);
  const args = ['-q', '-t', type, '-N', '', '-C', name, '-f', privateKey];
  if (type === 'rsa') args.push('-b', '3072');
  execFileSync('ssh-keygen', args, { stdio: 'ignore' });
  const publicKey = `${privateKey}.pub`;
  return { privateKey, publicKey, publicLine: readFileSync(publicKey, 'utf8').trim() };
}

export const TEST_LIMITS: Limits = Object.freeze({
  maxConnections: 64,
  maxConnectionsPerSource: 16,
  handshakeTimeoutMs: 20_000,
  idleTimeoutMs: 300_000,
  keepaliveIntervalMs: 15_000,
  maxAuthAttempts: 6,
  banAfterFailures: 20,
  banWindowMs: 600_000,
  banDurationMs: 600_000,
  maxOpenHandles: 64,
  maxInflightRequests: 64,
  maxReadLength: 256 * 1024,
  maxFileBytes: 1024 * 1024 * 1024,
  maxDecompressedBytes: 4 * 1024 * 1024 * 1024,
  maxRecords: 1_000_000,
  maxErrors: 100,
  partialUploadKeepMs: 3_600_000,
  renameWaitMs: 30_000,
  signatureMaxAgeMs: 7 * 24 * 3_600_000,
  decryptStallMs: 30_000,
  intakeThreadStallMs: 60_000,
});

export interface PartySpec {
  readonly id: string;
  readonly sshKeys: readonly string[];
}

/** A minimal, frozen GatewayConfig: parties with SSH keys, no datasets or conventions unless given. */
export function testConfig(o: {
  dir: string;
  partners?: readonly PartySpec[];
  recipients?: readonly PartySpec[];
  limits?: Partial<Limits>;
  base?: GatewayConfig;
}): GatewayConfig {
  const partners = new Map<string, Partner>();
  for (const p of o.partners ?? []) {
    partners.set(p.id, Object.freeze({ kind: 'partner', id: p.id, name: p.id, sshKeys: [...p.sshKeys], territory: ['54'], pgpKeys: [] }));
  }
  const recipients = new Map<string, Recipient>();
  for (const r of o.recipients ?? []) {
    recipients.set(
      r.id,
      Object.freeze({
        kind: 'recipient',
        id: r.id,
        name: r.id,
        sshKeys: [...r.sshKeys],
        territory: ['54328'],
        pgpKey: { file: 'none.asc', fingerprint: '0'.repeat(40) },
        outbox: { deleteAllowed: true },
      }),
    );
  }
  const settings = o.base?.settings ?? {
    demo: false,
    dataDir: join(o.dir, 'data'),
    sftp: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    keys: { sshHostKey: 'ssh_host_ed25519', pgpSecretKey: 'pgp.sec.asc', pgpPublicKey: 'pgp.pub.asc' },
    audit: { origin: 'passerelle.test', retentionDays: 365, checkpointIntervalMs: 60_000 },
    limits: TEST_LIMITS,
  };
  return Object.freeze({
    file: join(o.dir, 'passerelle.json'),
    dir: o.dir,
    settings: Object.freeze({ ...settings, limits: Object.freeze({ ...settings.limits, ...o.limits }) }),
    datasets: o.base?.datasets ?? new Map(),
    partners,
    recipients,
    conventions: o.base?.conventions ?? [],
  });
}

/** A ConfigSource whose snapshot the test replaces, as the file watcher would. */
export class TestConfigSource implements ConfigSource {
  private readonly listeners = new Set<(next: GatewayConfig, previous: GatewayConfig) => void>();
  constructor(private config: GatewayConfig) {}
  current(): GatewayConfig {
    return this.config;
  }
  onChange(listener: (next: GatewayConfig, previous: GatewayConfig) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(next: GatewayConfig): void {
    const previous = this.config;
    this.config = next;
    for (const l of this.listeners) l(next, previous);
  }
}

/** Records audit events in order; `waitFor` resolves when a matching event has been appended. */
export class RecordingAudit implements AuditSink {
  readonly events: AuditEvent[] = [];
  private readonly waiters: Array<{ pred: (e: AuditEvent) => boolean; resolve: (e: AuditEvent) => void }> = [];

  async append(event: AuditEvent): Promise<AuditReceipt> {
    const index = this.events.length;
    this.events.push(event);
    for (const w of [...this.waiters]) {
      if (w.pred(event)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(event);
      }
    }
    return { index, leafHash: '0'.repeat(64) };
  }

  async appendAll(events: readonly AuditEvent[]): Promise<AuditReceipt[]> {
    const out: AuditReceipt[] = [];
    for (const e of events) out.push(await this.append(e));
    return out;
  }

  ofType(type: string): AuditEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  waitFor(pred: (e: AuditEvent) => boolean, timeoutMs = 20_000): Promise<AuditEvent> {
    const found = this.events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('audit event not seen in time')), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }
}
