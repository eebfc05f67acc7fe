/**
 * Start-up recovery of the commit protocol (architecture.md): an upload whose final state is in
 * the state database is rolled forward (its files moved into view); anything else found in
 * pending/ is rolled back, and quarantine is emptied. Each recovered upload is audited.
 */
import { join } from 'node:path';
import type { AuditSink } from '../audit/events.js';
import type { DataLayout } from '../paths.js';
import { isUploadId } from '../paths.js';
import type { StateStore } from '../store/state.js';
import { movePendingIntoView } from './commit.js';
import { listDir, removeTree } from './fsutil.js';

export interface RecoveryReport {
  readonly rolledForward: string[];
  readonly rolledBack: string[];
  readonly failed: string[];
}

export async function recover(deps: { layout: DataLayout; state: StateStore; audit: AuditSink; now(): Date }): Promise<RecoveryReport> {
  const report: RecoveryReport = { rolledForward: [], rolledBack: [], failed: [] };
  for (const name of await listDir(deps.layout.pending)) {
    const upload = isUploadId(name) ? deps.state.getUpload(name) : undefined;
    if (upload && (upload.state === 'accepted' || upload.state === 'rejected' || upload.state === 'duplicate')) {
      await movePendingIntoView(deps.layout, upload.id, upload.partner, deps.state.deliveriesOf(upload.id));
      report.rolledForward.push(upload.id);
    } else {
      await removeTree(join(deps.layout.pending, name));
      report.rolledBack.push(name);
    }
  }
  // Plaintext never outlives a run: whatever was being verified is discarded. Staging is the
  // upload registry's (sftp/uploads.ts restore): parked partials stay resumable, the rest goes.
  for (const name of await listDir(deps.layout.quarantine)) await removeTree(join(deps.layout.quarantine, name));

  // Uploads the previous run never decided ended without an answer to the client: failed.
  for (const st of ['receiving', 'committed'] as const) {
    for (const u of deps.state.uploadsInState(st)) {
      await deps.audit.append({
        type: 'upload.failed',
        actor: { id: u.partner, kind: 'partner', source: u.source },
        outcome: 'failure',
        refs: { uploadId: u.id },
        details: { dataset: u.dataset, code: 'GATEWAY_FAILURE', reason: 'interrupted by a gateway stop; nothing was published' },
      });
      await deps.state.decide(u.id, { state: 'failed', sha256: u.sha256, size: u.size, decidedAt: deps.now().toISOString(), code: 'GATEWAY_FAILURE', message: 'interrupted by a gateway stop' });
      report.failed.push(u.id);
    }
  }
  return report;
}
