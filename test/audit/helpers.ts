import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAuditLog, type AuditLog, type AuditLogOptions } from '../../gateway/audit/log.js';
import { formatSignerKey, formatVerifierKey, generateSignerKey, parseVerifierKey, type VerifierKey } from '../../gateway/audit/notekey.js';
import type { AuditEvent } from '../../gateway/audit/events.js';
import { silentLogger } from '../../gateway/log.js';

export const ORIGIN = 'test.passerelle.example/audit';

export interface Fixture {
  readonly dir: string;
  readonly keyFile: string;
  readonly pubFile: string;
  readonly verifier: VerifierKey;
  open(extra?: Partial<AuditLogOptions>): Promise<AuditLog>;
  cleanup(): void;
}

export function fixture(name = ORIGIN): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'passerelle-audit-'));
  const key = generateSignerKey(name);
  const keyFile = join(dir, 'checkpoint.key');
  const pubFile = join(dir, 'checkpoint.pub');
  writeFileSync(keyFile, `${formatSignerKey(key)}\n`, { mode: 0o600 });
  writeFileSync(pubFile, `${formatVerifierKey(key)}\n`);
  return {
    dir,
    keyFile,
    pubFile,
    verifier: parseVerifierKey(formatVerifierKey(key)),
    open: (extra = {}) => openAuditLog({ dir: join(dir, 'audit'), origin: ORIGIN, checkpointKeyFile: keyFile, checkpointIntervalMs: 60_000, log: silentLogger(), ...extra }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function event(i: number, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    type: i % 3 === 0 ? 'sftp.upload.committed' : 'ssh.auth',
    actor: { id: i % 2 === 0 ? 'police-nationale' : 'ludres', kind: i % 2 === 0 ? 'partner' : 'recipient', source: `127.0.0.1:${10000 + i}` },
    outcome: i % 5 === 0 ? 'failure' : 'success',
    refs: { uploadId: `up-${i}` },
    details: { bytes: i * 10, note: `événement ${i}` },
    ...over,
  };
}
