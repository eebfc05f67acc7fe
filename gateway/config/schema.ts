/**
 * JSON Schema validation of the configuration files (schemas/config/*.schema.json): compiled
 * once per schemas directory, all errors collected, each turned into a ConfigProblem whose path
 * points at the offending value and whose message says what is wrong, in French.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats';
import type { ConfigFileKind } from './files.js';
import { pointer, type ConfigProblem } from './problems.js';

// ajv-formats is CommonJS with `exports.default`: under NodeNext the default import is the module object.
const addFormats: FormatsPlugin = (addFormatsModule as unknown as { default?: FormatsPlugin }).default ?? (addFormatsModule as unknown as FormatsPlugin);

const KINDS: readonly ConfigFileKind[] = ['passerelle', 'datasets', 'partners', 'recipients', 'conventions'];

export type ConfigValidators = Readonly<Record<ConfigFileKind, ValidateFunction>>;

// A cache of compiled validators, keyed by schemas directory: compiling is the slow part and
// the schemas never change while the process runs. Holds no configuration data.
const compiled = new Map<string, ConfigValidators>();

export function configValidators(schemasDir: string): ConfigValidators {
  const hit = compiled.get(schemasDir);
  if (hit) return hit;
  const ajv = new Ajv2020({ strict: true, allErrors: true, discriminator: true });
  addFormats(ajv, ['date']);
  const read = (name: string): Record<string, unknown> =>
    JSON.parse(readFileSync(join(schemasDir, 'config', `${name}.schema.json`), 'utf8')) as Record<string, unknown>;
  ajv.addSchema(read('common'));
  const entries = KINDS.map((k) => [k, ajv.compile(read(k))] as const);
  const validators = Object.freeze(Object.fromEntries(entries) as Record<ConfigFileKind, ValidateFunction>);
  compiled.set(schemasDir, validators);
  return validators;
}

/** Validates one parsed file; returns its problems (empty when valid). */
export function schemaProblems(validate: ValidateFunction, file: string, doc: unknown): ConfigProblem[] {
  if (validate(doc)) return [];
  const out: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const e of validate.errors ?? []) {
    // if/then/else, oneOf and the discriminator report a summary on top of the precise error
    // (the `kind` enum, a missing property): keep the precise one.
    if (e.keyword === 'if' || e.keyword === 'oneOf' || e.keyword === 'discriminator') continue;
    const p = describe(e);
    const key = `${p.path}\u0000${p.problem}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ code: 'CONFIG_INVALID', file, path: p.path, problem: p.problem });
  }
  return out;
}

function describe(e: ErrorObject): { path: string; problem: string } {
  const params = e.params as Record<string, unknown>;
  const at = e.instancePath;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: at + pointer(String(params['additionalProperty'])), problem: `propriété inconnue « ${String(params['additionalProperty'])} »` };
    case 'required':
      return { path: at, problem: `propriété obligatoire « ${String(params['missingProperty'])} » absente` };
    case 'dependentRequired':
      return { path: at, problem: `« ${String(params['property'])} » exige aussi « ${String(params['missingProperty'])} »` };
    case 'type':
      return { path: at, problem: `type attendu : ${String(params['type'])}` };
    case 'pattern':
      return { path: at, problem: `format invalide (motif ${String(params['pattern'])})` };
    case 'format':
      return { path: at, problem: `format « ${String(params['format'])} » invalide` };
    case 'enum':
      return { path: at, problem: `valeur non autorisée (attendu : ${(params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')})` };
    case 'const':
      return { path: at, problem: `valeur attendue : ${JSON.stringify(params['allowedValue'])}` };
    case 'minimum':
    case 'maximum':
      return { path: at, problem: `doit être ${e.keyword === 'minimum' ? '≥' : '≤'} ${String(params['limit'])}` };
    case 'minItems':
      return { path: at, problem: `au moins ${String(params['limit'])} élément(s) attendu(s)` };
    case 'minLength':
    case 'maxLength':
      return { path: at, problem: `longueur ${e.keyword === 'minLength' ? 'minimale' : 'maximale'} ${String(params['limit'])}` };
    case 'uniqueItems':
      return { path: at, problem: `éléments en double (positions ${String(params['j'])} et ${String(params['i'])})` };
    default:
      return { path: at, problem: e.message ?? e.keyword };
  }
}
