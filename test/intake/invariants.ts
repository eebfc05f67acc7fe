/**
 * The published state's invariants (security.md invariant 3), checked on a data directory after
 * a crash (crash.test.ts) or a full disk (full-disk.test.ts): returns what is wrong, in words,
 * so that a child process can report it as well as a test can assert it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditReader } from '../../gateway/audit/log.js';
import type { DataLayout } from '../../gateway/paths.js';
import type { StateStore } from '../../gateway/store/state.js';

/**
 * The files under `d`, walked one directory at a time: the gateway may remove a directory while
 * this looks (tests poll until its cleanup is done), and a recursive readdir then throws ENOENT.
 */
export function filesUnder(d: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return; // removed meanwhile
      throw e;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.isFile()) out.push(join(dir, e.name));
    }
  };
  walk(d);
  return out;
}

/**
 * Nothing half-published: every outbox file belongs to an accepted upload's delivery with its
 * audit entry and manifest; every accepted upload has all its deliveries and its signed receipt;
 * nothing of an upload that was not accepted is in view; no upload is left receiving; pending/
 * and quarantine/ are empty (call after start-up recovery, or with no upload in flight).
 */
export async function publishedStateProblems(layout: DataLayout, state: StateStore, audit: AuditReader): Promise<string[]> {
  const problems: string[] = [];
  for (const f of [...filesUnder(layout.pending), ...filesUnder(layout.quarantine)]) problems.push(`left over: ${f}`);
  const published = await audit.query({ type: 'delivery.published', limit: 100_000 });
  const auditedFiles = new Set(published.map((r) => `${String(r.entry.refs?.['recipient'])}/${String(r.entry.details?.['file'])}`));
  for (const f of filesUnder(layout.outbox).filter((p) => p.endsWith('.ndjson.pgp'))) {
    const [recipient = '', dataset = '', name = ''] = f.slice(layout.outbox.length + 1).split('/');
    const row = state.deliveryByFile(recipient, dataset, name);
    if (!row) problems.push(`outbox file without a delivery: ${f}`);
    else if (state.getUpload(row.uploadId)?.state !== 'accepted') problems.push(`outbox file of an upload not accepted: ${f}`);
    if (!auditedFiles.has(`${recipient}/${name}`)) problems.push(`outbox file without its audit entry: ${f}`);
    if (!existsSync(f.replace(/\.ndjson\.pgp$/, '.manifest.json'))) problems.push(`outbox file without its manifest: ${f}`);
  }
  for (const u of state.uploadsInState('accepted')) {
    for (const d of state.deliveriesOf(u.id)) {
      if (!existsSync(join(layout.outbox, d.recipient, d.dataset, d.fileName))) problems.push(`accepted upload ${u.id} misses its delivery to ${d.recipient}`);
    }
    for (const ext of ['.json', '.json.asc']) {
      if (!existsSync(join(layout.receipts, u.partner, `${u.id}${ext}`))) problems.push(`accepted upload ${u.id} misses its receipt ${ext}`);
    }
  }
  const notAccepted = [...state.uploadsInState('failed'), ...state.uploadsInState('receiving')].map((u) => u.id);
  const outboxNames = filesUnder(layout.outbox).join('\n');
  for (const id of notAccepted) if (outboxNames.includes(id)) problems.push(`upload ${id}, not accepted, is in an outbox`);
  for (const u of state.uploadsInState('receiving')) problems.push(`upload ${u.id} left receiving`);
  return problems;
}
