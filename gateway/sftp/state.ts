/** What every request handler of one SFTP session shares: who, what it may see, where things live. */
import { join } from 'node:path';
import type { AuditActor, AuditEvent, AuditSink } from '../audit/events.js';
import type { AnyParty, ConfigSource, Limits } from '../config/model.js';
import type { Intake, IntakeUpload } from '../intake/contract.js';
import type { Logger } from '../log.js';
import type { SessionContext } from '../ssh/context.js';
import { safeSegment, type DataLayout } from '../paths.js';
import { partyView } from '../vfs/view.js';
import type { PartyView, VfsNode } from '../vfs/resolve.js';
import type { IntervalSet } from './intervals.js';
import type { StagingWriter } from './staging-writer.js';
import type { UploadEntry, UploadRegistry } from './uploads.js';
import type { GatewayError } from '../errors.js';

/** The limits this layer enforces (from the configuration, optionally overridden). */
export type SftpLimits = Pick<Limits, 'maxOpenHandles' | 'maxInflightRequests' | 'maxReadLength' | 'maxFileBytes' | 'partialUploadKeepMs' | 'renameWaitMs'>;

/** What the SSH layer tells about the connection a session runs on. */
export type SftpSessionContext = SessionContext;

export interface SftpDeps {
  readonly config: ConfigSource;
  readonly intake: Intake;
  readonly layout: DataLayout;
  readonly audit: AuditSink;
  readonly log: Logger;
  /** Shared by every session of one gateway so an interrupted upload can be resumed from another connection. */
  readonly uploads?: UploadRegistry;
  readonly limits?: Partial<SftpLimits>;
  /** Told when a recipient downloads a delivery completely or deletes it (the state store keeps it). */
  readonly onDelivery?: (e: { recipient: string; dataset: string; file: string; event: 'downloaded' | 'deleted' }) => void;
}

export interface WriteHandle {
  readonly kind: 'write';
  readonly dataset: string;
  readonly name: string;
  readonly temporary: boolean;
  readonly append: boolean;
  readonly entry: UploadEntry;
  readonly writer: StagingWriter;
  intake: IntakeUpload | undefined;
  failed: GatewayError | undefined;
  /** Replies on this handle leave in request order (session.ts). */
  readonly replies: { tail: Promise<void> };
}

export interface ReadHandle {
  readonly kind: 'read';
  readonly node: Extract<VfsNode, { type: 'receipt' | 'delivery' }>;
  readonly fd: number;
  readonly size: number;
  readonly coverage: IntervalSet;
  /**
   * Slow synchronous reads in a row. Below SLOW_READS_IN_A_ROW READs are served with a
   * synchronous read, as the file comes from the page cache; from there on, by the thread pool
   * (files.ts).
   */
  slowReads: number;
  readonly replies: { tail: Promise<void> };
}

export interface DirHandle {
  readonly kind: 'dir';
  readonly entries: import('./listing.js').NameEntry[];
  pos: number;
}

export type Handle = WriteHandle | ReadHandle | DirHandle;

export interface SessionState {
  readonly ctx: SftpSessionContext;
  readonly deps: SftpDeps;
  readonly uploads: UploadRegistry;
  readonly limits: SftpLimits;
  /** False once the connection or channel is gone: nothing may be committed after that. */
  alive: boolean;
  /** Stop reading the client's requests until `until` settles (the intake is behind: see ssh2-fixes.ts, fix 5). */
  hold(until: Promise<unknown>): void;
}

export function party(s: SessionState): AnyParty {
  const cfg = s.deps.config.current();
  const id = s.ctx.party.id;
  return (s.ctx.party.kind === 'partner' ? cfg.partners.get(id) : cfg.recipients.get(id)) ?? s.ctx.party;
}

/** Computed per request: a convention that expires or a reload takes effect at once. */
export function view(s: SessionState): PartyView {
  return partyView(s.deps.config.current(), party(s), new Date());
}

export function actor(s: SessionState): AuditActor {
  return { id: s.ctx.party.id, kind: s.ctx.party.kind, source: s.ctx.source };
}

export function audit(s: SessionState, event: Omit<AuditEvent, 'actor'>): Promise<unknown> {
  return s.deps.audit.append({ ...event, actor: actor(s) });
}

/** Disk path of a file the gateway serves. Names were checked by the VFS against the gateway's own pattern. */
export function servedPath(s: SessionState, node: Extract<VfsNode, { type: 'receipt' | 'delivery' }>): string {
  const id = safeSegment(s.ctx.party.id);
  if (node.type === 'receipt') return join(s.deps.layout.receipts, id, node.name);
  return join(s.deps.layout.outbox, id, safeSegment(node.dataset), node.name);
}

export function servedDir(s: SessionState, node: Extract<VfsNode, { type: 'receipts' | 'outbox-dataset' }>): string {
  const id = safeSegment(s.ctx.party.id);
  if (node.type === 'receipts') return join(s.deps.layout.receipts, id);
  return join(s.deps.layout.outbox, id, safeSegment(node.dataset));
}
