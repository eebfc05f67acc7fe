/** What an upload left on the gateway's disk: its partner's receipts, the outbox deliveries. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

/** Receipts of a partner on disk, newest last (names start with the time-sortable upload id). */
export function receiptNames(dataDir: string, partner: string): string[] {
  const d = join(dataDir, 'receipts', partner);
  return existsSync(d) ? readdirSync(d).filter((n) => n.endsWith('.json')).sort() : [];
}

/** The one receipt added since `before`. */
export function newReceipt(dataDir: string, partner: string, before: string[]): Record<string, unknown> {
  const added = receiptNames(dataDir, partner).filter((n) => !before.includes(n));
  expect(added.length).toBe(1);
  return JSON.parse(readFileSync(join(dataDir, 'receipts', partner, added[0]!), 'utf8')) as Record<string, unknown>;
}

export function outboxCount(dataDir: string): number {
  const d = join(dataDir, 'outbox');
  return existsSync(d) ? readdirSync(d, { recursive: true }).filter((n) => String(n).endsWith('.ndjson.pgp')).length : 0;
}
