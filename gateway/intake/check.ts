/**
 * Checks one plaintext export against its dataset, exactly as the gateway does: read → schema →
 * contract rules → unique ids → partner territory → routing. The intake pipeline and
 * `passerelle validate` both call `checkExport`, so a partner's local test and the gateway's
 * verdict cannot disagree.
 *
 * Records are handed to `onRecord` as they are validated, before the verdict is known: the
 * caller keeps them in quarantine and discards everything when `ok` is false. The few whose id
 * may repeat an earlier one are held until the end of the file (duplicate-ids.ts), then handed
 * over: they come last in their outbox files.
 */
import { tmpdir } from 'node:os';
import type { Dataset, GatewayConfig, Limits } from '../config/model.js';
import { sendingConventions } from '../config/conventions.js';
import { GatewayError, type ErrorCode } from '../errors.js';
import { readRecordBatches, type ByteSource, type RawRecord } from './records.js';
import { SchemaStore, type CompiledSchema, type RecordIssue } from './validate.js';
import { recordRules, periodOf, inPeriod, periodIssue, type Period } from './rules.js';
import { loadCommuneOutlines, recordPoint, type CommuneIndex } from './geo.js';
import { createRouter } from './route.js';
import { outboxLineWriter } from './normalize.js';
import { DuplicateIds, type DuplicateIdsOptions } from './duplicate-ids.js';
import type { Envelope } from './parse-json.js';

export type ValidationPolicy = 'all_or_nothing' | 'skip_invalid';

export interface CheckOptions {
  readonly config: GatewayConfig;
  readonly dataset: Dataset;
  /** The sender; without it (local validate) there is no territory check and no routing. */
  readonly partnerId?: string;
  readonly uploadId: string;
  readonly source: ByteSource;
  readonly now: Date;
  readonly limits: Pick<Limits, 'maxRecords' | 'maxErrors'>;
  /** Default: the policy of the convention under which the partner sends, else all_or_nothing. */
  readonly policy?: ValidationPolicy;
  /** Long-lived tools: pass them so schemas compile once per process and outlines load once. */
  readonly schemas?: SchemaStore;
  readonly communes?: CommuneIndex;
  /**
   * Receives each valid, routed record as delivered: its outbox line, NDJSON with its newline
   * (normalize.ts, outboxLineWriter). Awaited when it returns a promise: backpressure.
   */
  readonly onRecord?: (recipients: readonly string[], line: string) => void | Promise<void>;
  /** Where the repeat check keeps its scratch files, unlinked at once (default: the system's). */
  readonly scratchDir?: string;
  /** Sizes of the repeat check (duplicate-ids.ts); tests make them small. */
  readonly duplicateIds?: DuplicateIdsOptions;
}

export interface CheckError {
  readonly code: ErrorCode;
  /** null for a whole-file error. */
  readonly recordNo: number | null;
  readonly line: number | null;
  /** JSON pointer to the field ("/code_insee"), null when not about one field. */
  readonly field: string | null;
  readonly message: string;
}

export interface FlaggedRecord {
  readonly recordNo: number;
  readonly line: number;
  readonly declared: string;
  /** The commune at the coordinates, null when they fall in no known outline. */
  readonly found: string | null;
}

export interface CheckResult {
  readonly ok: boolean;
  /** The verdict code when not ok (the first error's). */
  readonly code?: ErrorCode;
  /** One line in French, fit for an SFTP status message. */
  readonly message: string;
  readonly policy: ValidationPolicy;
  /** The first `limits.maxErrors` errors, in file order (a whole-file error comes last). */
  readonly errors: readonly CheckError[];
  readonly errorCount: number;
  /** Records read; accepted = valid ones (delivered when ok, unroutable ones included). */
  readonly records: number;
  readonly accepted: number;
  readonly perRecipient: Readonly<Record<string, number>>;
  readonly unroutable: number;
  readonly flagged: readonly FlaggedRecord[];
  readonly flaggedCount: number;
}

// Whole-file problems that are the partner's (anything else is rethrown: a gateway failure or an upstream step's own code).
const FILE_CODES = new Set<ErrorCode>(['FORMAT_ENCODING', 'FORMAT_HEADER', 'FORMAT_SYNTAX', 'FORMAT_LINE_TOO_LONG', 'TOO_MANY_RECORDS', 'RULE_INVALID', 'DATASET_NOT_GRANTED']);

export async function checkExport(o: CheckOptions): Promise<CheckResult> {
  const schemas = o.schemas ?? new SchemaStore();
  const communes = o.communes ?? (await loadCommuneOutlines());
  const schema = schemas.get(o.dataset.schema);
  const conventions = o.partnerId === undefined ? [] : sendingConventions(o.config, o.partnerId, o.dataset.id, o.now);
  const policy: ValidationPolicy = o.policy ?? conventions[0]?.validation ?? 'all_or_nothing';
  const errors: CheckError[] = [];
  let errorCount = 0;
  const addError = (e: CheckError): void => {
    errorCount++;
    keepFirst(errors, e, o.limits.maxErrors);
  };
  const flagged: FlaggedRecord[] = [];
  // Records per recipient list: the router gives one shared list per commune, so a record costs
  // one map update here, not one per recipient; perRecipient is summed from it at the end.
  const perList = new Map<readonly string[], number>();
  let records = 0;
  let accepted = 0;
  let unroutable = 0;
  let flaggedCount = 0;
  let outside = 0;
  let fileError: CheckError | undefined;
  let firstOutside: CheckError | undefined; // kept even past maxErrors: it decides the verdict

  const finish = (): CheckResult => {
    const perRecipient: Record<string, number> = {};
    for (const [list, n] of perList) for (const id of list) perRecipient[id] = (perRecipient[id] ?? 0) + n;
    const ok = fileError === undefined && outside === 0 && (policy === 'skip_invalid' ? accepted > 0 || errorCount === 0 : errorCount === 0);
    const first = fileError ?? firstOutside ?? errors[0];
    const summary = ok
      ? `accepté : ${accepted} enregistrement(s)${errorCount ? `, ${errorCount} écarté(s)` : ''}, ${Object.keys(perRecipient).length} destinataire(s), ${unroutable} sans destinataire`
      : `refusé : ${first ? `${first.code} ${first.recordNo !== null ? `enregistrement ${first.recordNo} ligne ${first.line} ` : ''}— ${first.message}` : 'aucun enregistrement valide'}`;
    return { ok, ...(ok ? {} : { code: first?.code ?? 'SCHEMA_INVALID' }), message: summary, policy, errors, errorCount, records, accepted, perRecipient, unroutable, flagged, flaggedCount };
  };

  if (o.partnerId !== undefined && (!o.config.partners.has(o.partnerId) || conventions.length === 0)) {
    fileError = { code: 'DATASET_NOT_GRANTED', recordNo: null, line: null, field: null, message: `aucune convention en vigueur ne permet à « ${o.partnerId} » d'envoyer « ${o.dataset.id} »` };
    addError(fileError);
    return finish();
  }

  const router = createRouter({ config: o.config, dataset: o.dataset, partnerId: o.partnerId, now: o.now, communes });
  const rules = recordRules(o.dataset, schema, o.now);
  const envelope = envelopeCheck(o.dataset, schema, schemas);
  const deliver = o.onRecord;
  const outboxLine = outboxLineWriter(o.partnerId ?? '', o.uploadId);
  const idField = o.dataset.idField;
  const repeatIssue: RecordIssue = { field: `/${idField}`, message: `identifiant « ${idField} » déjà présent plus haut dans le fichier` };

  /** A valid record with a new id: territory, routing, delivery (a promise only when delivery must wait). */
  const admit = (r: Pick<RawRecord, 'recordNo' | 'line' | 'value'>): void | Promise<void> => {
    const { recordNo, line, value } = r;
    const point = recordPoint(o.dataset, value);
    const route = router.route(value, point);
    if (route.outsidePartner) {
      outside++;
      const e = recordError(r, 'OUTSIDE_TERRITORY', { field: '/code_insee', message: `commune ${route.insee ?? ''} hors du territoire déclaré du partenaire` });
      if (firstOutside === undefined || recordNo < (firstOutside.recordNo ?? Infinity)) firstOutside = e;
      addError(e);
      return;
    }
    if (route.flagged) {
      flaggedCount++;
      keepFirst(flagged, { recordNo, line, declared: String(value.code_insee), found: route.inseeAtPoint ?? null }, o.limits.maxErrors);
    }
    accepted++;
    if (route.recipients.length === 0) {
      unroutable++;
      return;
    }
    perList.set(route.recipients, (perList.get(route.recipients) ?? 0) + 1);
    // Under all-or-nothing, once the file is lost there is nothing left to deliver.
    if (deliver && fileError === undefined && (policy === 'skip_invalid' || errorCount === 0)) return deliver(route.recipients, outboxLine(value, line, point));
  };

  const ids = new DuplicateIds(o.scratchDir ?? tmpdir(), o.duplicateIds);
  try {
    try {
      for await (const batch of readRecordBatches(o.dataset, o.source, o.limits, { schema, onEnvelope: envelope.onEnvelope })) {
        for (let k = 0; k < batch.length; k++) {
          const r = batch[k] as RawRecord;
          records++;
          const problem = recordProblem(r, schema, rules, envelope);
          if (problem) {
            addError(recordError(r, problem[0], problem[1]));
            continue;
          }
          // Nearly always known new at once; the others wait for the end of the file (duplicate-ids.ts).
          if (!ids.add(r.value[idField], () => JSON.stringify([r.recordNo, r.line, r.value]))) continue;
          const p = admit(r);
          if (p) await p;
        }
      }
    } catch (e) {
      if (!(e instanceof GatewayError) || !FILE_CODES.has(e.code)) throw e;
      const d = e.detail;
      fileError = { code: e.code, recordNo: null, line: typeof d.line === 'number' ? d.line : null, field: typeof d.field === 'string' ? d.field : null, message: e.message };
      addError(fileError);
    }
    for (const held of ids.resolve()) {
      const [recordNo, line, value] = JSON.parse(held.payload) as [number, number, Record<string, unknown>];
      if (held.repeat) {
        addError(recordError({ recordNo, line }, 'DUPLICATE_ID', repeatIssue));
        continue;
      }
      const p = admit({ recordNo, line, value });
      if (p) await p;
    }
  } finally {
    ids.close();
  }
  return finish();
}

type Problem = [ErrorCode, RecordIssue];

function recordError(r: Pick<RawRecord, 'recordNo' | 'line'>, code: ErrorCode, issue: RecordIssue): CheckError {
  return { code, recordNo: r.recordNo, line: r.line, field: issue.field || null, message: issue.message };
}

/**
 * Adds to a list kept to its first `max` items in file order (a whole-file error, with no record
 * number, last). Items come in order but for the records held for the repeat check, which come
 * back at the end of the file.
 */
function keepFirst<T extends { readonly recordNo: number | null }>(list: T[], item: T, max: number): void {
  const at = (x: T): number => x.recordNo ?? Infinity;
  let i = list.length;
  while (i > 0 && at(list[i - 1] as T) > at(item)) i--;
  if (i >= max) return;
  list.splice(i, 0, item);
  if (list.length > max) list.pop();
}

function recordProblem(r: RawRecord, schema: CompiledSchema, rules: ReturnType<typeof recordRules>, envelope: EnvelopeCheck): Problem | undefined {
  if (r.issue) return [r.issue.code, r.issue];
  const s = schema.check(r.value);
  if (s) return ['SCHEMA_INVALID', s];
  const rule = rules.check(r.value) ?? envelope.recordIssue(r.value);
  return rule ? ['RULE_INVALID', rule] : undefined;
}

interface EnvelopeCheck {
  readonly onEnvelope: ((env: Envelope, final: boolean) => void) | undefined;
  /** The period rule for one record (checked now if the period is known, else at the end). */
  recordIssue(value: Readonly<Record<string, unknown>>): RecordIssue | undefined;
}

/**
 * JSON datasets with an envelope schema: the envelope is validated at the end of the document;
 * each record's first date-time field must fall in `periode`. If the period comes after the
 * records in the document, the earliest and latest dates are kept and checked at the end.
 */
function envelopeCheck(dataset: Dataset, schema: CompiledSchema, schemas: SchemaStore): EnvelopeCheck {
  const f = dataset.format;
  const field = [...schema.formats].find(([, fmt]) => fmt === 'date-time')?.[0];
  if (f.kind !== 'json' || f.envelopeSchema === undefined || field === undefined) return { onEnvelope: undefined, recordIssue: () => undefined };
  const envSchema = schemas.get(f.envelopeSchema);
  const recordsKey = f.recordsPath.replace(/^\$\.|^\//, '');
  let period: Period | undefined;
  let min: string | undefined;
  let max: string | undefined;
  return {
    onEnvelope(env, final) {
      if (!final) {
        period = periodOf(env);
        return;
      }
      const issue = envSchema.check({ ...env, [recordsKey]: [] });
      if (issue) throw new GatewayError('FORMAT_SYNTAX', `enveloppe du document invalide : ${issue.message}`, { field: issue.field });
      const p = periodOf(env);
      if (!p) return;
      if (p.debut > p.fin) throw new GatewayError('RULE_INVALID', `période du document invalide : début ${p.debut} après fin ${p.fin}`, { field: '/periode' });
      if ((min !== undefined && !inPeriod(p, min)) || (max !== undefined && !inPeriod(p, max))) {
        throw new GatewayError('RULE_INVALID', `des enregistrements ont « ${field} » hors de la période du document (${p.debut} → ${p.fin})`, { field: '/periode' });
      }
    },
    recordIssue(value) {
      const d = value[field];
      if (typeof d !== 'string') return undefined;
      if (period) return inPeriod(period, d) ? undefined : periodIssue(period, field);
      if (min === undefined || d.slice(0, 10) < min.slice(0, 10)) min = d;
      if (max === undefined || d.slice(0, 10) > max.slice(0, 10)) max = d;
      return undefined;
    },
  };
}
