/**
 * Record validation against the dataset's JSON Schema (draft 2020-12). Each schema is compiled
 * once per `SchemaStore` and reused for every record; ajv stops at the first error of a record
 * (no `allErrors`: a bad record costs no more than a good one).
 */
import { readFileSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats';
import { GatewayError } from '../errors.js';
import { schemasDir as defaultSchemasDir } from '../config/project.js';

// ajv-formats is CommonJS with `exports.default`: under NodeNext the default import is the module object.
const addFormats: FormatsPlugin = (addFormatsModule as unknown as { default?: FormatsPlugin }).default ?? (addFormatsModule as unknown as FormatsPlugin);

/** A record problem, as it appears in a receipt (French message, JSON pointer to the field). */
export interface RecordIssue {
  readonly field: string;
  readonly message: string;
}

/** The JSON types a schema gives to each top-level field: what CSV cells are converted to. */
export type FieldType = 'string' | 'number' | 'integer';

export interface CompiledSchema {
  readonly path: string;
  readonly schema: Readonly<Record<string, unknown>>;
  /** Top-level property names in schema order, the required ones, and their types and formats. */
  readonly fields: readonly string[];
  readonly required: readonly string[];
  readonly types: ReadonlyMap<string, FieldType>;
  readonly formats: ReadonlyMap<string, string>;
  /** Returns undefined when valid, else the first problem. */
  check(value: unknown): RecordIssue | undefined;
}

/** Compiles and caches the schemas of one schemas directory. Create one per process and reuse it. */
export class SchemaStore {
  readonly dir: string;
  private readonly ajv: Ajv2020;
  private readonly cache = new Map<string, CompiledSchema>();

  constructor(dir: string = defaultSchemasDir()) {
    this.dir = resolve(dir);
    this.ajv = new Ajv2020({ strict: true, allErrors: false, $data: false, messages: false });
    addFormats(this.ajv, ['date', 'date-time', 'time']);
  }

  /** The compiled schema at `relPath` (relative to the schemas directory), compiled on first use. */
  get(relPath: string): CompiledSchema {
    const hit = this.cache.get(relPath);
    if (hit) return hit;
    const file = resolve(this.dir, relPath);
    if (!file.startsWith(this.dir + sep)) throw new GatewayError('CONFIG_INVALID', `schéma hors du répertoire des schémas : ${relPath}`);
    let schema: Record<string, unknown>;
    try {
      schema = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new GatewayError('CONFIG_UNREADABLE', `schéma illisible : ${relPath}`, { schema: relPath }, { cause: e });
    }
    let fn: ValidateFunction;
    try {
      fn = this.ajv.compile(schema);
    } catch (e) {
      throw new GatewayError('CONFIG_INVALID', `schéma invalide : ${relPath}: ${(e as Error).message}`, { schema: relPath }, { cause: e });
    }
    const compiled = describe(relPath, schema, fn);
    this.cache.set(relPath, compiled);
    return compiled;
  }
}

function describe(path: string, schema: Record<string, unknown>, fn: ValidateFunction): CompiledSchema {
  const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  const types = new Map<string, FieldType>();
  const formats = new Map<string, string>();
  for (const [name, p] of Object.entries(props)) {
    if (p.type === 'number' || p.type === 'integer' || p.type === 'string') types.set(name, p.type);
    if (typeof p.format === 'string') formats.set(name, p.format);
  }
  return Object.freeze({
    path,
    schema,
    fields: Object.freeze(Object.keys(props)),
    required: Object.freeze(Array.isArray(schema.required) ? (schema.required as string[]) : []),
    types,
    formats,
    check(value: unknown): RecordIssue | undefined {
      if (fn(value)) return undefined;
      const err = fn.errors?.[0];
      return err ? issueOf(err, props) : { field: '', message: 'enregistrement invalide' };
    },
  });
}

const TYPE_FR: Record<string, string> = {
  string: 'une chaîne de caractères',
  number: 'un nombre',
  integer: 'un nombre entier',
  object: 'un objet JSON',
  array: 'un tableau JSON',
  boolean: 'un booléen',
};

const FORMAT_FR: Record<string, string> = {
  date: 'une date AAAA-MM-JJ valide',
  'date-time': 'une date-heure RFC 3339 avec décalage (ex. 2026-03-14T22:10:00+01:00)',
  time: 'une heure valide',
};

/** A French message for the first ajv error. Values from the record are never echoed (they may be personal data). */
function issueOf(err: ErrorObject, props: Record<string, Record<string, unknown>>): RecordIssue {
  const p = err.params as Record<string, unknown>;
  let field = err.instancePath;
  const name = (f: string): string => `« ${f.split('/').pop() ?? f} »`;
  switch (err.keyword) {
    case 'required':
      field = `${field}/${String(p.missingProperty)}`;
      return { field, message: `champ obligatoire absent : ${name(field)}` };
    case 'additionalProperties':
      field = `${field}/${String(p.additionalProperty)}`;
      return { field, message: `champ non prévu par le contrat : ${name(field)} (minimisation des données)` };
    case 'type':
      return { field, message: `${field ? name(field) : 'l\'enregistrement'} doit être ${TYPE_FR[String(p.type)] ?? String(p.type)}` };
    case 'format':
      return { field, message: `${name(field)} doit être ${FORMAT_FR[String(p.format)] ?? `au format ${String(p.format)}`}` };
    case 'pattern': {
      const desc = props[field.slice(1)]?.description;
      return { field, message: `${name(field)} n'a pas le format attendu (${String(p.pattern)})${typeof desc === 'string' ? ` : ${desc}` : ''}` };
    }
    case 'enum':
      return { field, message: `${name(field)} : valeur non autorisée ; valeurs admises : ${(p.allowedValues as unknown[]).join(', ')}` };
    case 'not': {
      const excluded = ((props[field.slice(1)]?.not as { enum?: unknown[] } | undefined)?.enum ?? []).join(', ');
      return { field, message: `${name(field)} : valeur exclue par le contrat (${excluded})` };
    }
    case 'minimum':
    case 'maximum':
      return { field, message: `${name(field)} doit être ${err.keyword === 'minimum' ? '≥' : '≤'} ${String(p.limit)}` };
    case 'maxLength':
      return { field, message: `${name(field)} : au plus ${String(p.limit)} caractères` };
    case 'minLength':
      return { field, message: `${name(field)} ne doit pas être vide` };
    default:
      return { field, message: `${field ? name(field) : 'enregistrement'} : règle « ${err.keyword} » non respectée` };
  }
}
