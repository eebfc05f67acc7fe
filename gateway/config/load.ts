/**
 * Loads a configuration: the main file (passerelle.json) and the four files it names, each
 * checked against its JSON Schema, then against each other and against the key files they
 * name. Returns a deeply frozen snapshot, or throws one GatewayError listing every problem
 * (file, JSON Pointer, what is wrong).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { isConventionValid, isoDay } from './conventions.js';
import { crossReferenceProblems, type FileNames } from './crossref.js';
import { DEFAULT_LIMITS, DEFAULT_SETTINGS } from './defaults.js';
import type { ConfigFileKind, ConfigFiles, DatasetFile, MainFile, PartnerFile, RecipientFile, ConventionFile } from './files.js';
import { deepFreeze, FrozenMap } from './freeze.js';
import { checkGatewayKeys, checkOptionalKeyFile, checkPgpRef, loadDemoFingerprints, resolveSshKeys, sshKeyBlob, type KeyCheckContext } from './keys.js';
import type { Convention, Dataset, GatewayConfig, GatewaySettings, Partner, PgpKeyRef, Recipient } from './model.js';
import { configError, pointer, type ConfigProblem } from './problems.js';
import { projectRoot } from './project.js';
import { configValidators, schemaProblems } from './schema.js';

export interface LoadOptions {
  /** Demo mode: demo keys allowed, private-key permissions not enforced. */
  readonly demo: boolean;
  /** The day conventions are judged against for warnings (default: now). */
  readonly now?: Date;
  /** Applied to the settings before the snapshot is frozen (the CLI passes `applyEnv`). */
  readonly adjustSettings?: (settings: GatewaySettings) => GatewaySettings;
  /** Project directories (defaults: the project this module belongs to). */
  readonly schemasDir?: string;
  readonly keysExampleDir?: string;
}

/** A loaded configuration with what is worth telling the operator, and the files it depends on. */
export interface ConfigReport {
  readonly config: GatewayConfig;
  /** Not errors: conventions not in force, parties no convention names, SSH keys shared by parties. */
  readonly warnings: readonly ConfigProblem[];
  /** Absolute paths of every file read: the configuration files and the key files. */
  readonly files: readonly string[];
}

export async function loadConfig(file: string, opts: LoadOptions): Promise<GatewayConfig> {
  return (await loadConfigReport(file, opts)).config;
}

async function readJson(abs: string, problems: ConfigProblem[]): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'fichier introuvable' : 'fichier illisible';
    problems.push({ code: 'CONFIG_UNREADABLE', file: abs, path: '', problem: why });
    return undefined;
  }
  try {
    return JSON.parse(text.replace(/^\uFEFF/, '')) as unknown;
  } catch (e) {
    problems.push({ code: 'CONFIG_UNREADABLE', file: abs, path: '', problem: `JSON invalide (${e instanceof Error ? e.message : String(e)})` });
    return undefined;
  }
}

export async function loadConfigReport(file: string, opts: LoadOptions): Promise<ConfigReport> {
  const mainFile = resolve(file);
  const dir = dirname(mainFile);
  const root = opts.schemasDir === undefined || opts.keysExampleDir === undefined ? projectRoot() : '';
  const schemas = opts.schemasDir ?? join(root, 'schemas');
  const validators = configValidators(schemas);
  const problems: ConfigProblem[] = [];
  const read = new Set<string>([mainFile]);

  // 1. The main file, then the four it names; each against its schema.
  const mainDoc = await readJson(mainFile, problems);
  if (mainDoc !== undefined) problems.push(...schemaProblems(validators.passerelle, mainFile, mainDoc));
  if (problems.length > 0) throw configError(problems);
  const main = mainDoc as MainFile;
  const names: FileNames = {
    datasets: resolve(dir, main.files.datasets),
    partners: resolve(dir, main.files.partners),
    recipients: resolve(dir, main.files.recipients),
    conventions: resolve(dir, main.files.conventions),
  };
  const docs: Partial<Record<ConfigFileKind, unknown>> = {};
  for (const kind of ['datasets', 'partners', 'recipients', 'conventions'] as const) {
    read.add(names[kind]);
    const doc = await readJson(names[kind], problems);
    if (doc !== undefined) problems.push(...schemaProblems(validators[kind], names[kind], doc));
    docs[kind] = doc;
  }
  if (problems.length > 0) throw configError(problems);
  const files = { main, ...docs } as ConfigFiles;

  // 2. References between files, dataset schemas, key files.
  problems.push(...crossReferenceProblems(files, names));
  files.datasets.datasets.forEach((d, i) => {
    const refs: [string, string][] = [[d.schema, pointer('datasets', i, 'schema')]];
    if (d.format.kind === 'json' && d.format.envelopeSchema) refs.push([d.format.envelopeSchema, pointer('datasets', i, 'format', 'envelopeSchema')]);
    for (const [rel, path] of refs) {
      if (!existsSync(join(schemas, rel))) problems.push({ code: 'CONFIG_INVALID', file: names.datasets, path, problem: `schéma introuvable : ${join(schemas, rel)}` });
    }
  });
  const ctx: KeyCheckContext = {
    demo: opts.demo,
    demoFingerprints: await loadDemoFingerprints(opts.keysExampleDir ?? join(root, 'keys-example')),
    problems,
  };
  const at = (rel: string): string => {
    const abs = resolve(dir, rel);
    read.add(abs);
    return abs;
  };
  await checkGatewayKeys(ctx, main.settings.keys, at, mainFile);
  if (main.settings.admin?.tlsKey !== undefined) await checkOptionalKeyFile(ctx, at(main.settings.admin.tlsKey), mainFile, '/settings/admin/tlsKey', 'tls-key');
  if (main.settings.admin?.tlsCert !== undefined) await checkOptionalKeyFile(ctx, at(main.settings.admin.tlsCert), mainFile, '/settings/admin/tlsCert', 'tls-cert');
  const sshOf = new Map<string, string[]>();
  for (const [i, p] of files.partners.partners.entries()) {
    sshOf.set(`p:${i}`, await resolveSshKeys(ctx, p.sshKeys, at, names.partners, pointer('partners', i, 'sshKeys')));
    for (const [j, ref] of p.pgpKeys.entries()) await checkPgpRef(ctx, ref, at(ref.file), 'sign', names.partners, pointer('partners', i, 'pgpKeys', j));
  }
  for (const [i, r] of files.recipients.recipients.entries()) {
    sshOf.set(`r:${i}`, await resolveSshKeys(ctx, r.sshKeys, at, names.recipients, pointer('recipients', i, 'sshKeys')));
    await checkPgpRef(ctx, r.pgpKey, at(r.pgpKey.file), 'encrypt', names.recipients, pointer('recipients', i, 'pgpKey'));
  }
  if (problems.length > 0) throw configError(problems);

  // 3. The snapshot.
  let settings = buildSettings(main, dir, opts.demo);
  if (opts.adjustSettings) settings = opts.adjustSettings(settings);
  const config: GatewayConfig = {
    file: mainFile,
    dir,
    settings,
    datasets: new FrozenMap(files.datasets.datasets.map((d) => [d.id, buildDataset(d)] as const)),
    partners: new FrozenMap(files.partners.partners.map((p, i) => [p.id, buildPartner(p, sshOf.get(`p:${i}`) ?? [])] as const)),
    recipients: new FrozenMap(files.recipients.recipients.map((r, i) => [r.id, buildRecipient(r, sshOf.get(`r:${i}`) ?? [])] as const)),
    conventions: files.conventions.conventions.map(buildConvention),
  };
  deepFreeze(config);
  return Object.freeze({
    config,
    warnings: Object.freeze(warningsOf(config, names, opts.now ?? new Date())),
    files: Object.freeze([...read]),
  });
}

function buildSettings(main: MainFile, dir: string, demo: boolean): GatewaySettings {
  const s = main.settings;
  const admin: { host: string; port: number; tlsCert?: string; tlsKey?: string } = {
    host: s.admin?.host ?? DEFAULT_SETTINGS.admin.host,
    port: s.admin?.port ?? DEFAULT_SETTINGS.admin.port,
  };
  if (s.admin?.tlsCert !== undefined) admin.tlsCert = s.admin.tlsCert;
  if (s.admin?.tlsKey !== undefined) admin.tlsKey = s.admin.tlsKey;
  const keys: { sshHostKey: string; pgpSecretKey: string; pgpPublicKey: string; checkpointKey?: string } = {
    sshHostKey: s.keys.sshHostKey,
    pgpSecretKey: s.keys.pgpSecretKey,
    pgpPublicKey: s.keys.pgpPublicKey,
  };
  if (s.keys.checkpointKey !== undefined) keys.checkpointKey = s.keys.checkpointKey;
  return {
    demo,
    dataDir: resolve(dir, s.dataDir ?? DEFAULT_SETTINGS.dataDir),
    sftp: { host: s.sftp?.host ?? DEFAULT_SETTINGS.sftp.host, port: s.sftp?.port ?? DEFAULT_SETTINGS.sftp.port },
    admin,
    keys,
    audit: { ...DEFAULT_SETTINGS.audit, ...s.audit },
    limits: { ...DEFAULT_LIMITS, ...s.limits },
  };
}

function buildDataset(d: DatasetFile): Dataset {
  const f = d.format;
  const format: Dataset['format'] =
    f.kind === 'csv'
      ? { kind: 'csv', delimiter: f.delimiter, encoding: f.encoding ?? 'utf-8', maxLineBytes: f.maxLineBytes ?? DEFAULT_SETTINGS.csvMaxLineBytes }
      : f.kind === 'ndjson'
        ? { kind: 'ndjson', maxLineBytes: f.maxLineBytes ?? DEFAULT_SETTINGS.ndjsonMaxLineBytes }
        : f.envelopeSchema !== undefined
          ? { kind: 'json', recordsPath: f.recordsPath, envelopeSchema: f.envelopeSchema }
          : { kind: 'json', recordsPath: f.recordsPath };
  const out: Dataset = { id: d.id, title: d.title, format, schema: d.schema, idField: d.idField, inseeOptional: d.inseeOptional ?? false };
  return d.coordinates ? { ...out, coordinates: { ...d.coordinates } } : out;
}

function pgpRef(r: { file: string; fingerprint: string; allowRsa2048?: boolean }): PgpKeyRef {
  return { file: r.file, fingerprint: r.fingerprint.toUpperCase(), allowRsa2048: r.allowRsa2048 === true };
}

function buildPartner(p: PartnerFile, sshKeys: string[]): Partner {
  return { kind: 'partner', id: p.id, name: p.name, sshKeys, territory: [...p.territory], pgpKeys: p.pgpKeys.map(pgpRef) };
}

function buildRecipient(r: RecipientFile, sshKeys: string[]): Recipient {
  return {
    kind: 'recipient',
    id: r.id,
    name: r.name,
    sshKeys,
    territory: [...r.territory],
    pgpKey: pgpRef(r.pgpKey),
    outbox: { deleteAllowed: r.outbox?.deleteAllowed ?? DEFAULT_SETTINGS.recipientDeleteAllowed },
  };
}

function buildConvention(c: ConventionFile): Convention {
  return {
    id: c.id,
    title: c.title,
    legalReference: c.legalReference,
    signedOn: c.signedOn,
    validFrom: c.validFrom,
    validTo: c.validTo,
    purpose: c.purpose,
    dataCategories: [...c.dataCategories],
    retentionDays: c.retentionDays,
    validation: c.validation ?? DEFAULT_SETTINGS.validation,
    senders: c.senders.map((g) => ({ party: g.party, datasets: [...g.datasets] })),
    recipients: c.recipients.map((g) => ({ party: g.party, datasets: [...g.datasets] })),
  };
}

/** Conventions not in force today (they load, but grant nothing), parties no convention in force names, SSH keys shared by parties. */
function warningsOf(config: GatewayConfig, names: FileNames, now: Date): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const day = isoDay(now);
  const named = new Set<string>();
  config.conventions.forEach((c, i) => {
    if (!isConventionValid(c, now)) {
      const why = day < c.validFrom ? `pas encore en vigueur (à partir du ${c.validFrom})` : `expirée depuis le ${c.validTo}`;
      out.push({ code: 'CONFIG_INVALID', file: names.conventions, path: pointer('conventions', i), problem: `convention ${c.id} ${why} : elle n'autorise aucun échange` });
      return;
    }
    for (const g of [...c.senders, ...c.recipients]) named.add(g.party);
  });
  // Login is per user name, so a key shared by two parties lets its holder act as either.
  const holders = new Map<string, string[]>();
  for (const p of [...config.partners.values(), ...config.recipients.values()]) {
    for (const line of p.sshKeys) holders.set(sshKeyBlob(line), [...(holders.get(sshKeyBlob(line)) ?? []), p.id]);
  }
  for (const ids of holders.values()) {
    if (ids.length > 1) {
      const file = config.partners.has(ids[1] ?? '') ? names.partners : names.recipients;
      out.push({ code: 'CONFIG_INVALID', file, path: '', problem: `la même clé SSH est enregistrée pour ${ids.join(', ')} : son détenteur peut se connecter sous chacun de ces noms` });
    }
  }
  for (const id of [...config.partners.keys(), ...config.recipients.keys()]) {
    if (!named.has(id)) {
      const file = config.partners.has(id) ? names.partners : names.recipients;
      out.push({ code: 'CONFIG_INVALID', file, path: '', problem: `${id} n'est cité par aucune convention en vigueur : aucun échange possible` });
    }
  }
  return out;
}
