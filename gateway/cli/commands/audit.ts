/**
 * `passerelle audit verify|prove|verify-proof|checkpoint|export|keygen` — the DPO's and the
 * auditor's tools. Every command that reads the trail records that reading in the trail first
 * (audit.viewed / audit.exported, actor = the local OS user), except verify-proof, which works
 * offline on a file and never opens a database.
 */
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { once } from 'node:events';
import { dataLayout } from '../../paths.js';
import { silentLogger } from '../../log.js';
import { GatewayError } from '../../errors.js';
import { openAuditLog, type AuditLog, type AuditQuery, type AuditRecord } from '../../audit/log.js';
import { openSqliteAuditStore, AUDIT_DB_FILE } from '../../audit/store.js';
import { verifyAuditDir } from '../../audit/verify.js';
import { verifyInclusionBundle } from '../../audit/proof.js';
import { createSignerKeyFile, readVerifierKeyFile, verifierKeyPath } from '../../audit/keyfile.js';
import { checkKeyName, formatVerifierKey, type VerifierKey } from '../../audit/notekey.js';
import type { AuditEvent } from '../../audit/events.js';

const USAGE = `usage: passerelle audit <sous-commande> [options]
  verify        [--data DIR | --config FILE [--demo]] [--key PUBFILE] [--checkpoint NOTEFILE]…
                recalcule tout le journal ; code 0 si intègre, 1 sinon / recompute the whole trail
  prove N       [--data DIR | --config FILE] [--out FILE]   preuve d'inclusion de l'entrée N (JSON)
  verify-proof FILE --key PUBFILE [--origin ORIGIN]         vérifie une preuve hors ligne / offline
  checkpoint    [--data DIR | --config FILE] [--verifier-key]  dernier checkpoint signé / latest checkpoint
  export        [--data DIR | --config FILE] [--from T] [--to T] [--type T] [--actor ID] [--outcome O]
                [--upload ID] [--format ndjson|csv] [--out FILE]
  keygen        --name NAME --out PREFIX [--comment TEXT]   crée PREFIX.key (0600) et PREFIX.pub / new checkpoint key
Sans --config : --data DIR, sinon PASSERELLE_DATA, sinon ./var ; --checkpoint-key FILE pour signer.
`;

const OPTIONS = {
  data: { type: 'string' },
  config: { type: 'string' },
  demo: { type: 'boolean', default: false },
  key: { type: 'string' },
  'checkpoint-key': { type: 'string' },
  checkpoint: { type: 'string', multiple: true },
  out: { type: 'string' },
  origin: { type: 'string' },
  name: { type: 'string' },
  comment: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  type: { type: 'string' },
  actor: { type: 'string' },
  outcome: { type: 'string' },
  upload: { type: 'string' },
  format: { type: 'string', default: 'ndjson' },
  'verifier-key': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parse>['values'];
const parse = (argv: string[]) => parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });

class Usage extends Error {}

function say(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function complain(text: string): void {
  process.stderr.write(`passerelle audit: ${text}\n`);
}

export async function run(argv: string[]): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parse(argv));
  } catch (e) {
    complain(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  const [sub, ...args] = positionals;
  if (values.help || sub === undefined) {
    process.stdout.write(USAGE);
    return sub === undefined && !values.help ? 2 : 0;
  }
  try {
    switch (sub) {
      case 'verify': return await verifyCmd(values);
      case 'prove': return await proveCmd(values, args);
      case 'verify-proof': return verifyProofCmd(values, args);
      case 'checkpoint': return await checkpointCmd(values);
      case 'export': return await exportCmd(values);
      case 'keygen': return keygenCmd(values);
      default: throw new Usage(`sous-commande inconnue / unknown subcommand: ${sub}`);
    }
  } catch (e) {
    if (e instanceof Usage) {
      complain(`${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}

interface Opened {
  readonly log: AuditLog;
  readonly dir: string;
  readonly origin: string;
  /** The trusted verifier key, if the configuration or --key gives one. */
  readonly verifier: VerifierKey | null;
}

/** Opens the trail as the CLI sees it: from a configuration, or from a data directory. */
async function open(values: Values): Promise<Opened> {
  let dir: string;
  let origin: string | undefined;
  let keyFile: string | null = values['checkpoint-key'] === undefined ? null : resolve(values['checkpoint-key']);
  let demo = values.demo;
  let retentionDays: number | undefined;
  if (values.config !== undefined) {
    const { loadConfig } = await import('../../config/load.js');
    const { applyEnv } = await import('../../config/env.js');
    const config = await loadConfig(values.config, { demo: values.demo, adjustSettings: (s) => applyEnv(s, process.env) });
    const s = config.settings;
    dir = dataLayout(s.dataDir).audit;
    origin = s.audit.origin;
    retentionDays = s.audit.retentionDays;
    demo = s.demo;
    if (keyFile === null && s.keys.checkpointKey !== undefined) {
      const abs = resolve(config.dir, s.keys.checkpointKey);
      if (existsSync(abs)) keyFile = abs;
    }
  } else {
    dir = dataLayout(resolve(values.data ?? process.env['PASSERELLE_DATA'] ?? './var')).audit;
  }
  if (!existsSync(join(dir, AUDIT_DB_FILE))) throw new GatewayError('CONFIG_UNREADABLE', `pas de journal d'audit dans ${dir} / no audit trail there`, { dir });
  if (origin === undefined) {
    const store = openSqliteAuditStore(dir, { readonly: true });
    origin = await store.getMeta('origin');
    await store.close();
    if (origin === undefined) throw new GatewayError('CONFIG_UNREADABLE', `journal d'audit sans origine dans ${dir}`, { dir });
  }
  const log = await openAuditLog({
    dir, origin, checkpointKeyFile: keyFile, checkpointIntervalMs: 60_000, log: silentLogger(), demo, createKey: false,
    ...(retentionDays !== undefined ? { retentionDays } : {}),
  });
  let verifier: VerifierKey | null = null;
  if (values.key !== undefined) verifier = readVerifierKeyFile(values.key);
  else if (keyFile !== null) verifier = readVerifierKeyFile(keyFile);
  return { log, dir, origin, verifier };
}

/** Reading the trail is itself recorded, durably, before anything is shown. */
async function record(log: AuditLog, type: 'audit.viewed' | 'audit.exported', details: Record<string, string | number | boolean | null>): Promise<void> {
  const event: AuditEvent = { type, actor: { id: userInfo().username, kind: 'admin' }, outcome: 'info', details: { via: 'cli', ...details } };
  await log.append(event);
}

async function verifyCmd(values: Values): Promise<number> {
  const { log, dir, origin, verifier } = await open(values);
  try {
    if (!verifier) throw new Usage('--key PUBFILE requis (clé de vérification des checkpoints) / the checkpoint verifier key is required');
    const trusted = (values.checkpoint ?? []).map((f) => readFileSync(f, 'utf8'));
    await record(log, 'audit.viewed', { command: 'verify', trustedCheckpoints: trusted.length });
    await log.checkpoint();
    const report = await verifyAuditDir(dir, { key: verifier, origin, trusted });
    if (!report.ok) {
      const f = report.failure!;
      complain(`ÉCHEC / FAILED [${f.code} ${f.check}] ${f.message}`);
      return 1;
    }
    say(`Journal d'audit intègre / audit trail verified: ${report.entries} entrées / entries, ${report.checkpoints} checkpoints, ${report.purged} purgées / purged`
      + (report.uncheckpointed > 0 ? `, ${report.uncheckpointed} après le dernier checkpoint / after the last checkpoint` : ''));
    return 0;
  } finally {
    await log.close();
  }
}

function index(text: string | undefined): number {
  if (text === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(text) || !Number.isSafeInteger(Number(text))) throw new Usage(`numéro d'entrée invalide / invalid entry number: ${text ?? ''}`);
  return Number(text);
}

async function proveCmd(values: Values, args: string[]): Promise<number> {
  const n = index(args[0]);
  const { log } = await open(values);
  try {
    await record(log, 'audit.viewed', { command: 'prove', entry: n });
    const bundle = await log.prove(n);
    await output(values.out, [`${JSON.stringify(bundle, null, 2)}\n`]);
    return 0;
  } finally {
    await log.close();
  }
}

function verifyProofCmd(values: Values, args: string[]): number {
  const file = args[0];
  if (file === undefined || values.key === undefined) throw new Usage('verify-proof FILE --key PUBFILE');
  const key = readVerifierKeyFile(values.key);
  try {
    const r = verifyInclusionBundle(readFileSync(file, 'utf8'), key, values.origin);
    const tree = `l'arbre de ${r.checkpoint.size} entrées de ${r.checkpoint.origin}, checkpoint signé par ${key.name}`;
    // A purged entry's leaf hash is taken as given: the type and time next to it in the bundle
    // are whatever its author wrote there, so they are not shown as if proven.
    say(r.purged
      ? `Preuve valide / proof valid: l'entrée n° ${r.entry.seq} est dans ${tree} — contenu purgé (rétention) : seule son empreinte est prouvée, pas son type ni sa date / details purged (retention): only its hash is proven, not its type or time`
      : `Preuve valide / proof valid: entrée n° ${r.entry.seq} (${r.entry.type}, ${r.entry.time}) incluse dans ${tree}`);
    return 0;
  } catch (e) {
    if (!(e instanceof GatewayError)) throw e;
    complain(`ÉCHEC / FAILED [${e.code}] ${e.message}`);
    return 1;
  }
}

async function checkpointCmd(values: Values): Promise<number> {
  const { log } = await open(values);
  try {
    await record(log, 'audit.viewed', { command: 'checkpoint' });
    const cp = await log.checkpoint();
    if (values['verifier-key']) {
      if (!log.verifierKey) throw new Usage('--verifier-key demande la clé de checkpoint (--config ou --checkpoint-key)');
      say(log.verifierKey);
      return 0;
    }
    if (!cp) throw new GatewayError('AUDIT_CHECKPOINT_INVALID', 'aucun checkpoint signé / no signed checkpoint yet');
    process.stdout.write(cp.note);
    return 0;
  } finally {
    await log.close();
  }
}

function time(text: string | undefined, what: string): string | undefined {
  if (text === undefined) return undefined;
  const d = new Date(text);
  if (!/^\d{4}-\d\d-\d\d/.test(text) || Number.isNaN(d.getTime())) throw new Usage(`${what} : date RFC 3339 ou AAAA-MM-JJ attendue / date expected: ${text}`);
  return d.toISOString();
}

async function exportCmd(values: Values): Promise<number> {
  const format = values.format;
  if (format !== 'ndjson' && format !== 'csv') throw new Usage(`--format ndjson|csv, pas / not ${format}`);
  const filter: AuditQuery = {
    ...(values.from !== undefined ? { from: time(values.from, '--from') } : {}),
    ...(values.to !== undefined ? { to: time(values.to, '--to') } : {}),
    ...(values.type !== undefined ? { type: values.type } : {}),
    ...(values.actor !== undefined ? { actor: values.actor } : {}),
    ...(values.outcome !== undefined ? { outcome: values.outcome } : {}),
    ...(values.upload !== undefined ? { uploadId: values.upload } : {}),
  };
  const { log } = await open(values);
  try {
    await record(log, 'audit.exported', { format, ...Object.fromEntries(Object.entries(filter).map(([k, v]) => [k, String(v)])) });
    const lines = (async function* () {
      if (format === 'csv') yield `${CSV_HEADER.join(',')}\r\n`;
      for await (const r of log.iterate(filter)) yield format === 'csv' ? csvLine(r) : `${ndjsonLine(r)}\n`;
    })();
    await output(values.out, lines);
    return 0;
  } finally {
    await log.close();
  }
}

function ndjsonLine(r: AuditRecord): string {
  return JSON.stringify({ ...r.entry, leafHash: r.leafHash, purged: r.purged });
}

const CSV_HEADER = ['seq', 'time', 'type', 'outcome', 'actor_id', 'actor_kind', 'actor_source', 'refs', 'details', 'leaf_hash', 'purged'];

/** RFC 4180 quoting; cells a spreadsheet would run as a formula get a leading apostrophe. */
function csvCell(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function csvLine(r: AuditRecord): string {
  const e = r.entry;
  const cells = [
    String(e.seq), e.time, e.type, e.outcome, e.actor?.id ?? '', e.actor?.kind ?? '', e.actor?.source ?? '',
    e.refs === null ? '' : JSON.stringify(e.refs), e.details === null ? '' : JSON.stringify(e.details), r.leafHash, r.purged ? '1' : '0',
  ];
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/** Writes chunks to a file or stdout, waiting for drain (bounded memory for big exports). */
async function output(file: string | undefined, chunks: Iterable<string> | AsyncIterable<string>): Promise<void> {
  const out = file === undefined ? process.stdout : createWriteStream(file, { flags: 'wx', mode: 0o600 });
  for await (const chunk of chunks) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
  if (out !== process.stdout) {
    out.end();
    await once(out, 'finish');
  }
}

function keygenCmd(values: Values): number {
  if (values.name === undefined || values.out === undefined) throw new Usage('keygen --name NAME --out PREFIX');
  const key = createSignerKeyFile(`${resolve(values.out)}.key`, checkKeyName(values.name), values.comment);
  say(`Clé de checkpoint créée / checkpoint key written: ${resolve(values.out)}.key (0600)`);
  say(`Clé de vérification pour les auditeurs / verifier key for auditors (${verifierKeyPath(`${resolve(values.out)}.key`)}):`);
  say(formatVerifierKey(key));
  return 0;
}
