/**
 * ArrayAuditData: a small, real, in-process audit trail over an array, for the admin UI tests
 * only (the gateway's AuditLog had not landed when these tests were written). It is both an
 * AuditSink (what the UI writes through) and an AuditReader (what the UI reads): RFC 6962
 * leaves and a naive recursive tree, C2SP signed-note checkpoints with a real Ed25519 key.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { AuditEvent, AuditReceipt, AuditSink } from '../../gateway/audit/events.js';
import type { AuditEntryView, AuditFilter, AuditReader, CheckpointView, InclusionProofView, VerifyOutcome } from '../../admin-ui/server/data.js';

const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const leafOf = (bytes: Uint8Array) => sha(Buffer.from([0]), bytes);
const node = (l: Buffer, r: Buffer) => sha(Buffer.from([1]), l, r);

/** Largest power of two strictly below n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export function naiveRoot(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return leaves[0]!;
  const k = split(leaves.length);
  return node(naiveRoot(leaves.slice(0, k)), naiveRoot(leaves.slice(k)));
}

/** RFC 6962 §2.1.1 PATH(m, D[n]), leaf to root. */
export function naivePath(m: number, leaves: readonly Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const k = split(leaves.length);
  return m < k ? [...naivePath(m, leaves.slice(0, k)), naiveRoot(leaves.slice(k))] : [...naivePath(m - k, leaves.slice(k)), naiveRoot(leaves.slice(0, k))];
}

export interface NoteKey { readonly name: string; readonly privateKey: KeyObject; readonly raw: Buffer; readonly keyId: Buffer; readonly verifierKey: string }

export function makeNoteKey(name: string): NoteKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const raw = Buffer.from(spki.subarray(spki.length - 32));
  const keyId = sha(Buffer.from(name), Buffer.from([0x0a, 0x01]), raw).subarray(0, 4);
  return { name, privateKey, raw, keyId, verifierKey: `${name}+${keyId.toString('hex')}+${Buffer.concat([Buffer.from([1]), raw]).toString('base64')}` };
}

export function signNote(body: string, key: NoteKey): string {
  const sig = sign(null, Buffer.from(body), key.privateKey);
  return `${body}\n\u2014 ${key.name} ${Buffer.concat([key.keyId, sig]).toString('base64')}\n`;
}

export class ArrayAuditData implements AuditSink, AuditReader {
  readonly entries: AuditEntryView[] = [];
  private readonly bytes: Buffer[] = [];
  private readonly leaves: Buffer[] = [];
  private checkpoint: CheckpointView | null = null;
  readonly key: NoteKey;

  constructor(readonly origin = 'passerelle.test/audit', private readonly clock: () => Date = () => new Date()) {
    this.key = makeNoteKey('passerelle-test');
  }

  /** Appends with an explicit time (fixtures), otherwise the clock's. */
  add(event: AuditEvent, time?: string): AuditReceipt {
    const index = this.entries.length;
    const base = { index, time: time ?? this.clock().toISOString(), type: event.type, actor: event.actor, outcome: event.outcome, refs: { ...event.refs }, details: { ...event.details } };
    const bytes = Buffer.from(JSON.stringify(base));
    const leaf = leafOf(bytes);
    this.entries.push({ ...base, leafHash: leaf.toString('hex') });
    this.bytes.push(bytes);
    this.leaves.push(leaf);
    return { index, leafHash: leaf.toString('hex') };
  }

  /** Test hook: appends fail with this while set, as the real log's do on a full disk. */
  failing: Error | undefined;

  async append(event: AuditEvent): Promise<AuditReceipt> {
    if (this.failing) throw this.failing;
    return this.add(event);
  }

  async appendAll(events: readonly AuditEvent[]): Promise<AuditReceipt[]> {
    if (this.failing) throw this.failing;
    return events.map((e) => this.add(e));
  }

  /** Signs a checkpoint over the whole current tree. */
  sign(): CheckpointView {
    const root = naiveRoot(this.leaves).toString('base64');
    const body = `${this.origin}\n${this.leaves.length}\n${root}\n`;
    this.checkpoint = { origin: this.origin, size: this.leaves.length, rootHash: root, note: signNote(body, this.key) };
    return this.checkpoint;
  }

  /** Test hook: alter a stored entry's bytes as an attacker with disk access would. */
  tamper(index: number): void {
    this.bytes[index] = Buffer.concat([this.bytes[index]!, Buffer.from(' ')]);
  }

  private matches(e: AuditEntryView, f: AuditFilter): boolean {
    return (
      (f.from === undefined || e.time >= f.from) &&
      (f.to === undefined || e.time < f.to) &&
      (f.type === undefined || e.type === f.type) &&
      (f.actor === undefined || e.actor.id === f.actor) &&
      (f.outcome === undefined || e.outcome === f.outcome) &&
      (f.uploadId === undefined || e.refs['uploadId'] === f.uploadId)
    );
  }

  async query(f: AuditFilter): Promise<AuditEntryView[]> {
    const all = this.entries.filter((e) => this.matches(e, f));
    const offset = f.offset ?? 0;
    return all.slice(offset, offset + (f.limit ?? 100));
  }

  async count(f: AuditFilter): Promise<number> {
    return this.entries.filter((e) => this.matches(e, f)).length;
  }

  async latestCheckpoint(): Promise<CheckpointView | null> {
    return this.checkpoint;
  }

  async prove(index: number): Promise<InclusionProofView> {
    const cp = this.sign();
    if (index < 0 || index >= cp.size) throw new Error('index out of range');
    return {
      index,
      treeSize: cp.size,
      leafHash: this.leaves[index]!.toString('hex'),
      entryBytes: this.bytes[index]!.toString('base64'),
      hashes: naivePath(index, this.leaves.slice(0, cp.size)).map((h) => h.toString('hex')),
      checkpoint: cp.note,
    };
  }

  async verify(): Promise<VerifyOutcome> {
    for (let i = 0; i < this.bytes.length; i++) {
      if (!leafOf(this.bytes[i]!).equals(this.leaves[i]!)) return { ok: false, entries: this.bytes.length, firstBad: i, message: 'leaf hash mismatch' };
    }
    return { ok: true, entries: this.bytes.length };
  }

  verifierKey(): string {
    return this.key.verifierKey;
  }
}
