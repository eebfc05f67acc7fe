/**
 * The virtual tree of one party (pure): a client path and an operation in, a logical object
 * or a coded refusal out. Nothing here touches the disk; the SFTP adapter maps the logical
 * object onto gateway-made disk names.
 *
 *   partner:    /inbox/<dataset>/<name>   write-only (create, resume, rename temp → final)
 *               /receipts/<file>          read, delete
 *   recipient:  /outbox/<dataset>/<file>  read, delete (when its outbox allows it)
 */
import { canonicalPath, isGatewayFileName, isTemporaryName, isValidUploadName, parseClientPath } from './path.js';

export type PartyView =
  | { readonly kind: 'partner'; readonly partyId: string; readonly sendable: readonly string[] }
  | { readonly kind: 'recipient'; readonly partyId: string; readonly receivable: readonly string[]; readonly deleteAllowed: boolean };

export type VfsNode =
  | { readonly type: 'root' }
  | { readonly type: 'inbox' }
  | { readonly type: 'inbox-dataset'; readonly dataset: string }
  | { readonly type: 'upload'; readonly dataset: string; readonly name: string; readonly temporary: boolean }
  | { readonly type: 'receipts' }
  | { readonly type: 'receipt'; readonly name: string }
  | { readonly type: 'outbox' }
  | { readonly type: 'outbox-dataset'; readonly dataset: string }
  | { readonly type: 'delivery'; readonly dataset: string; readonly name: string };

export type VfsOp =
  | 'stat'
  | 'opendir'
  | 'open-read'
  | 'open-write'
  | 'remove'
  | 'rename-from'
  | 'rename-to'
  | 'setstat'
  | 'mkdir'
  | 'rmdir'
  | 'link'
  | 'realpath';

export type VfsRefusal = 'PATH_INVALID' | 'PATH_NOT_FOUND' | 'PERMISSION_DENIED';

export type Resolution =
  | { readonly ok: true; readonly node: VfsNode; readonly path: string }
  | { readonly ok: false; readonly code: VfsRefusal };

const DIR_OPS: ReadonlySet<VfsOp> = new Set(['stat', 'opendir', 'realpath']);

const ALLOWED: Record<VfsNode['type'], ReadonlySet<VfsOp>> = {
  root: DIR_OPS,
  inbox: DIR_OPS,
  'inbox-dataset': DIR_OPS,
  receipts: DIR_OPS,
  outbox: DIR_OPS,
  'outbox-dataset': DIR_OPS,
  // An upload's state (partial, committed…) is the adapter's business; the tree says which
  // operations may apply. Reading back is never one of them.
  upload: new Set(['stat', 'open-write', 'remove', 'rename-from', 'rename-to', 'setstat', 'realpath']),
  receipt: new Set(['stat', 'open-read', 'remove', 'realpath']),
  delivery: new Set(['stat', 'open-read', 'remove', 'realpath']),
};

function nodeAt(view: PartyView, seg: readonly string[]): VfsNode | 'invalid' | undefined {
  const [top, second, third, ...rest] = seg;
  if (top === undefined) return { type: 'root' };
  if (rest.length > 0) return undefined;
  if (view.kind === 'partner') {
    if (top === 'inbox') {
      if (second === undefined) return { type: 'inbox' };
      if (!view.sendable.includes(second)) return undefined;
      if (third === undefined) return { type: 'inbox-dataset', dataset: second };
      if (!isValidUploadName(third)) return 'invalid';
      return { type: 'upload', dataset: second, name: third, temporary: isTemporaryName(third) };
    }
    if (top === 'receipts' && third === undefined) {
      if (second === undefined) return { type: 'receipts' };
      return isGatewayFileName(second) ? { type: 'receipt', name: second } : undefined;
    }
    return undefined;
  }
  if (top !== 'outbox') return undefined;
  if (second === undefined) return { type: 'outbox' };
  if (!view.receivable.includes(second)) return undefined;
  if (third === undefined) return { type: 'outbox-dataset', dataset: second };
  return isGatewayFileName(third) ? { type: 'delivery', dataset: second, name: third } : undefined;
}

export function isDirectory(node: VfsNode): boolean {
  return node.type !== 'upload' && node.type !== 'receipt' && node.type !== 'delivery';
}

/** Where a new object could be created by this op, the refusal for a missing parent differs. */
function refusalFor(view: PartyView, op: VfsOp, seg: readonly string[]): VfsRefusal {
  const writes = op === 'open-write' || op === 'mkdir' || op === 'rename-to' || op === 'link';
  // A recipient writes nowhere; a write into an existing directory of its tree is "denied".
  const parent = seg.length > 0 ? nodeAt(view, seg.slice(0, -1)) : undefined;
  if (writes && parent !== undefined && parent !== 'invalid' && isDirectory(parent)) return 'PERMISSION_DENIED';
  return 'PATH_NOT_FOUND';
}

export function resolve(view: PartyView, op: VfsOp, clientPath: string): Resolution {
  const parsed = parseClientPath(clientPath);
  if (!parsed.ok) return parsed;
  const seg = parsed.segments;
  const node = nodeAt(view, seg);
  if (node === 'invalid') return { ok: false, code: 'PATH_INVALID' };
  if (node === undefined) return { ok: false, code: refusalFor(view, op, seg) };
  if (op === 'realpath') return { ok: true, node, path: canonicalPath(seg) };
  if (!ALLOWED[node.type].has(op)) return { ok: false, code: 'PERMISSION_DENIED' };
  if (view.kind === 'recipient' && node.type === 'delivery' && op === 'remove' && !view.deleteAllowed) {
    return { ok: false, code: 'PERMISSION_DENIED' };
  }
  return { ok: true, node, path: canonicalPath(seg) };
}

/** The entries of a directory node that the tree itself defines (datasets, top folders). */
export function treeChildren(view: PartyView, node: VfsNode): string[] | undefined {
  switch (node.type) {
    case 'root':
      return view.kind === 'partner' ? ['inbox', 'receipts'] : ['outbox'];
    case 'inbox':
      return view.kind === 'partner' ? [...view.sendable] : [];
    case 'outbox':
      return view.kind === 'recipient' ? [...view.receivable] : [];
    default:
      return undefined;
  }
}
