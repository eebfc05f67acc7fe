import { join } from 'node:path';
import { ID_PATTERN } from './ids.js';

/**
 * Where the gateway keeps things under its data directory. Every path is built from ids the
 * gateway made or configuration ids (checked against their schema pattern), never from a
 * client string; `safeSegment` is the last guard.
 */
export interface DataLayout {
  readonly root: string;
  readonly staging: string; // SFTP uploads being received, by upload id
  readonly quarantine: string; // plaintext during intake, by upload id
  readonly pending: string; // commit protocol: deliveries and receipt before publication
  readonly outbox: string; // outbox/<recipient>/<dataset>/<file>
  readonly receipts: string; // receipts/<partner>/<upload-id>.json(.asc)
  readonly audit: string; // audit database and checkpoints
  readonly state: string; // state database (uploads, deliveries)
  readonly admin: string; // admin UI: TLS certificate, accounts
}

export function dataLayout(root: string): DataLayout {
  return {
    root,
    staging: join(root, 'staging'),
    quarantine: join(root, 'quarantine'),
    pending: join(root, 'pending'),
    outbox: join(root, 'outbox'),
    receipts: join(root, 'receipts'),
    audit: join(root, 'audit'),
    state: join(root, 'state'),
    admin: join(root, 'admin'),
  };
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** Throws unless `s` is a plain file name segment (config ids, gateway-made names). */
export function safeSegment(s: string): string {
  if (!SEGMENT.test(s) || s.includes('..')) throw new Error(`unsafe path segment: ${JSON.stringify(s)}`);
  return s;
}

export function isUploadId(s: string): boolean {
  return ID_PATTERN.test(s);
}
