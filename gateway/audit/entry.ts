/**
 * An audit entry and its canonical bytes — defined here and nowhere else.
 *
 * Canonical bytes = UTF-8 of the RFC 8785 (JCS) serialization of
 *   { seq, time, type, actor: { id, kind, source? }, outcome, refs, details }
 * i.e. JSON with object keys sorted by UTF-16 code units, no whitespace, strings escaped as
 * ECMAScript JSON.stringify does (which is what JCS specifies), numbers in ECMAScript shortest
 * form. `refs` and `details` are always present ({} when empty); absent optional values are
 * omitted, never written as null. A purged entry keeps seq, time, type and outcome, and has
 * actor, refs and details set to null; its leaf hash is the one stored before the purge.
 */
import { GatewayError } from '../errors.js';
import type { AuditActor, AuditEvent, AuditOutcome } from './events.js';
import { leafHash } from './merkle.js';

export type DetailValue = string | number | boolean | null;

export interface AuditEntry {
  /** Zero-based; equals the entry's leaf index in the Merkle tree. */
  readonly seq: number;
  /** RFC 3339, UTC, milliseconds: 2026-11-28T18:00:00.000Z. */
  readonly time: string;
  readonly type: string;
  readonly actor: AuditActor | null;
  readonly outcome: AuditOutcome;
  readonly refs: Readonly<Record<string, string>> | null;
  readonly details: Readonly<Record<string, DetailValue>> | null;
}

const TYPE = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/;
const OUTCOMES: readonly string[] = ['success', 'failure', 'info'];
const KINDS: readonly string[] = ['partner', 'recipient', 'admin', 'gateway', 'unknown'];

function bad(message: string, detail: Record<string, unknown> = {}): never {
  throw new GatewayError('AUDIT_ENTRY_MISMATCH', message, detail);
}

/** Builds the entry for an event, checking what the canonical form cannot represent. */
export function makeEntry(seq: number, time: Date, event: AuditEvent): AuditEntry {
  if (!TYPE.test(event.type) || event.type.length > 128) bad(`type d'événement invalide : ${JSON.stringify(event.type)}`);
  if (!OUTCOMES.includes(event.outcome)) bad(`issue invalide : ${JSON.stringify(event.outcome)}`);
  if (!KINDS.includes(event.actor.kind)) bad(`type d'acteur invalide : ${JSON.stringify(event.actor.kind)}`);
  for (const [k, v] of Object.entries(event.details ?? {})) {
    if (typeof v === 'number' && !Number.isFinite(v)) bad(`détail ${k} : nombre non fini`);
  }
  const actor: AuditActor = event.actor.source === undefined
    ? { id: event.actor.id, kind: event.actor.kind }
    : { id: event.actor.id, kind: event.actor.kind, source: event.actor.source };
  return {
    seq,
    time: time.toISOString(),
    type: event.type,
    actor,
    outcome: event.outcome,
    refs: dropUndefined(event.refs ?? {}) as Record<string, string>,
    details: dropUndefined(event.details ?? {}) as Record<string, DetailValue>,
  };
}

function dropUndefined(o: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** JCS (RFC 8785) for the JSON values an entry can hold. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) bad('nombre non fini dans une entrée');
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return bad(`valeur non représentable : ${typeof v}`);
}

const str = JSON.stringify;

function flatJson(o: Readonly<Record<string, DetailValue>> | null): string {
  if (o === null) return 'null';
  const keys = Object.keys(o).sort();
  let out = '';
  for (const k of keys) {
    const v = o[k];
    if (v !== undefined) out += `${out === '' ? '' : ','}${str(k)}:${str(v)}`;
  }
  return `{${out}}`;
}

/**
 * canonicalJson(entry) written out for the entry's fixed shape (the keys in sorted order), about
 * four times faster on the append path; a test checks both agree on random entries.
 */
export function entryJson(e: AuditEntry): string {
  const a = e.actor;
  const actor = a === null ? 'null' : `{"id":${str(a.id)},"kind":${str(a.kind)}${a.source === undefined ? '' : `,"source":${str(a.source)}`}}`;
  return `{"actor":${actor},"details":${flatJson(e.details)},"outcome":${str(e.outcome)},"refs":${flatJson(e.refs)},"seq":${e.seq},"time":${str(e.time)},"type":${str(e.type)}}`;
}

export function canonicalBytes(entry: AuditEntry): Buffer {
  return Buffer.from(entryJson(entry), 'utf8');
}

export function entryLeafHash(entry: AuditEntry): Buffer {
  return leafHash(canonicalBytes(entry));
}

export function purgedEntry(entry: AuditEntry): AuditEntry {
  return { seq: entry.seq, time: entry.time, type: entry.type, actor: null, outcome: entry.outcome, refs: null, details: null };
}

export function isPurged(entry: AuditEntry): boolean {
  return entry.actor === null && entry.refs === null && entry.details === null;
}

/**
 * Parses stored or received entry JSON (attacker-controlled in verify-proof): checks shape
 * only; whether it hashes right is the caller's check.
 */
export function parseEntry(text: string): AuditEntry {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return bad('entrée : JSON illisible');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('entrée : objet attendu');
  const o = v as Record<string, unknown>;
  const allowed = ['seq', 'time', 'type', 'actor', 'outcome', 'refs', 'details'];
  for (const k of Object.keys(o)) if (!allowed.includes(k)) bad(`entrée : champ inconnu ${JSON.stringify(k)}`);
  if (!Number.isSafeInteger(o['seq']) || (o['seq'] as number) < 0) bad('entrée : seq invalide');
  if (typeof o['time'] !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(o['time'])) bad('entrée : time invalide');
  if (typeof o['type'] !== 'string' || !TYPE.test(o['type'])) bad('entrée : type invalide');
  if (typeof o['outcome'] !== 'string' || !OUTCOMES.includes(o['outcome'])) bad('entrée : outcome invalide');
  const actor = o['actor'];
  if (actor !== null) {
    if (typeof actor !== 'object' || actor === undefined || Array.isArray(actor)) bad('entrée : actor invalide');
    const a = actor as Record<string, unknown>;
    if (typeof a['id'] !== 'string' || typeof a['kind'] !== 'string' || !KINDS.includes(a['kind'])) bad('entrée : actor invalide');
    if (a['source'] !== undefined && typeof a['source'] !== 'string') bad('entrée : actor.source invalide');
    if (Object.keys(a).some((k) => !['id', 'kind', 'source'].includes(k))) bad('entrée : actor invalide');
  }
  checkFlat(o['refs'], 'refs', (x) => typeof x === 'string');
  checkFlat(o['details'], 'details', (x) => x === null || ['string', 'number', 'boolean'].includes(typeof x));
  return o as unknown as AuditEntry;
}

function checkFlat(v: unknown, name: string, ok: (x: unknown) => boolean): void {
  if (v === null) return;
  if (typeof v !== 'object' || v === undefined || Array.isArray(v)) bad(`entrée : ${name} invalide`);
  for (const x of Object.values(v as Record<string, unknown>)) if (!ok(x)) bad(`entrée : ${name} invalide`);
}
