/**
 * Offline check of an inclusion bundle (`passerelle audit prove N` output): needs only the bundle
 * and the checkpoint verifier key, no database. The bundle is attacker-controlled input.
 */
import { GatewayError, isGatewayError } from '../errors.js';
import { type Checkpoint, verifyCheckpoint } from './checkpoint.js';
import { entryLeafHash, isPurged, parseEntry, type AuditEntry } from './entry.js';
import { HASH_SIZE, verifyInclusion } from './merkle.js';
import type { VerifierKey } from './notekey.js';

export interface ProofCheck {
  readonly entry: AuditEntry;
  readonly checkpoint: Checkpoint;
  /** True when the entry's details were purged: its leaf hash was taken as given, not recomputed. */
  readonly purged: boolean;
}

function bad(message: string, check: string): never {
  throw new GatewayError('AUDIT_PROOF_INVALID', message, { check });
}

function hex(v: unknown, what: string): Buffer {
  if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) bad(`${what} : 64 chiffres hexadécimaux attendus`, 'FORMAT');
  return Buffer.from(v, 'hex');
}

function readEntry(v: unknown): AuditEntry {
  try {
    return parseEntry(JSON.stringify(v ?? null));
  } catch (e) {
    if (isGatewayError(e)) throw e;
    return bad('preuve : entrée illisible', 'FORMAT'); // e.g. nesting too deep to serialize
  }
}

export function verifyInclusionBundle(text: string, key: VerifierKey, expectedOrigin?: string): ProofCheck {
  if (text.length > 1024 * 1024) bad('preuve trop longue', 'FORMAT');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return bad('preuve : JSON illisible', 'FORMAT');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('preuve : objet JSON attendu', 'FORMAT');
  const b = raw as Record<string, unknown>;
  if (!Number.isSafeInteger(b['index']) || !Number.isSafeInteger(b['treeSize'])) bad('preuve : index et treeSize entiers attendus', 'FORMAT');
  if (!Array.isArray(b['inclusionProof']) || b['inclusionProof'].length > 64) bad('preuve : inclusionProof invalide', 'FORMAT');
  if (typeof b['checkpoint'] !== 'string') bad('preuve : checkpoint absent', 'FORMAT');
  const index = b['index'] as number;
  const treeSize = b['treeSize'] as number;
  const entry = readEntry(b['entry']);
  const given = hex(b['leafHash'], 'leafHash');
  const proof = (b['inclusionProof'] as unknown[]).map((p, i) => hex(p, `inclusionProof[${i}]`));

  const checkpoint = verifyCheckpoint(b['checkpoint'], key, expectedOrigin);
  if (checkpoint.size !== treeSize) bad(`treeSize ${treeSize} ≠ taille du checkpoint ${checkpoint.size}`, 'TREE_SIZE');
  if (entry.seq !== index) bad(`l'entrée porte le n° ${entry.seq}, la preuve le n° ${index}`, 'INDEX');
  const purged = isPurged(entry);
  if (!purged && !entryLeafHash(entry).equals(given)) bad('l\'empreinte de l\'entrée ne correspond pas à son contenu', 'LEAF_HASH');
  if (given.length !== HASH_SIZE) bad('leafHash invalide', 'FORMAT');
  verifyInclusion(index, treeSize, given, proof, checkpoint.root);
  return { entry, checkpoint, purged };
}
