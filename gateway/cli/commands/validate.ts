/**
 * `passerelle validate --dataset ID [--partner ID] [--config FILE] [--json] FILE`: checks a
 * plaintext export exactly as the gateway would (same code: intake/check.ts) and prints the
 * errors a receipt would list, then where the records would go. Exit 0 valid, 1 invalid, 2 usage.
 * FILE `-` reads standard input.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { datasetsSendable } from '../../config/conventions.js';
import { loadConfig } from '../../config/load.js';
import { formatProblem, problemsOf } from '../../config/problems.js';
import { projectRoot } from '../../config/project.js';
import type { GatewayConfig } from '../../config/model.js';
import { isGatewayError } from '../../errors.js';
import { checkExport, type CheckResult } from '../../intake/check.js';

const USAGE = 'Usage: passerelle validate --dataset ID [--partner ID] [--config FILE] [--json] FICHIER\n';

export async function run(argv: string[]): Promise<number> {
  let values: { dataset?: string; partner?: string; config?: string; json?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: {
        dataset: { type: 'string', short: 'd' },
        partner: { type: 'string', short: 'p' },
        config: { type: 'string', short: 'c' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`passerelle validate: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const file = positionals[0];
  if (values.dataset === undefined || file === undefined || positionals.length !== 1) {
    process.stderr.write(`passerelle validate: --dataset ID et un fichier sont obligatoires\n${USAGE}`);
    return 2;
  }
  const configFile = values.config ?? join(projectRoot(), 'config', 'grand-nancy', 'passerelle.json');
  let config: GatewayConfig;
  try {
    // Keys are never used here: demo mode only relaxes the key-file checks of the loader.
    config = await loadConfig(configFile, { demo: true });
  } catch (e) {
    if (!isGatewayError(e)) throw e;
    process.stderr.write(`configuration invalide (${configFile}) :\n${problemsOf(e).map((p) => `  - ${formatProblem(p)}`).join('\n')}\n`);
    return 2;
  }
  const dataset = config.datasets.get(values.dataset);
  if (!dataset) {
    process.stderr.write(`passerelle validate: jeu de données inconnu « ${values.dataset} » (connus : ${[...config.datasets.keys()].join(', ')})\n`);
    return 2;
  }
  const now = new Date();
  let partnerId = values.partner;
  let partnerNote = '';
  if (partnerId === undefined) {
    const senders = [...config.partners.keys()].filter((p) => datasetsSendable(config, p, now).includes(dataset.id));
    if (senders.length === 1) {
      partnerId = senders[0];
      partnerNote = ' (seul expéditeur de ce jeu de données)';
    } else {
      partnerNote = ' aucun (--partner ID pour vérifier le territoire et l\'acheminement)';
    }
  } else if (!config.partners.has(partnerId)) {
    process.stderr.write(`passerelle validate: partenaire inconnu « ${partnerId} »\n`);
    return 2;
  }

  const kind = file === '-' ? 'plain' : await sniff(file);
  if (kind !== 'plain') {
    process.stderr.write(
      kind === 'unreadable'
        ? `passerelle validate: fichier introuvable ou illisible : ${file}\n`
        : `passerelle validate: ${file} est un message OpenPGP chiffré ; validez l'export en clair, avant gpg --sign --encrypt\n`,
    );
    return 2;
  }
  const source = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 256 * 1024 });
  const result = await checkExport({ config, dataset, partnerId, uploadId: 'validation-locale', source, now, limits: config.settings.limits });
  if (values.json) process.stdout.write(JSON.stringify({ dataset: dataset.id, partner: partnerId ?? null, ...result }, null, 2) + '\n');
  else process.stdout.write(report(result, dataset.id, `${partnerId ?? ''}${partnerNote}`, file));
  return result.ok ? 0 : 1;
}

/** 'encrypted' for an OpenPGP message (armored, or binary starting with a public-key or symmetric-key session key packet). */
async function sniff(file: string): Promise<'plain' | 'encrypted' | 'unreadable'> {
  let head = Buffer.alloc(64);
  try {
    const fh = await open(file, 'r');
    try {
      head = head.subarray(0, (await fh.read(head, 0, 64, 0)).bytesRead);
    } finally {
      await fh.close();
    }
  } catch {
    return 'unreadable';
  }
  const first = head[0] ?? 0;
  const packet = (first >= 0x84 && first <= 0x87) || (first >= 0x8c && first <= 0x8f) || first === 0xc1 || first === 0xc3;
  return packet || head.toString('latin1').startsWith('-----BEGIN PGP MESSAGE-----') ? 'encrypted' : 'plain';
}

function report(r: CheckResult, dataset: string, partner: string, file: string): string {
  const out = [
    `Jeu de données : ${dataset}`,
    `Partenaire     : ${partner}`,
    `Fichier        : ${file}`,
    `Verdict        : ${r.ok ? `VALIDE — ${r.message}` : `REFUSÉ (${r.code ?? ''})`}`,
    `Enregistrements : ${r.records} lus, ${r.accepted} valides, politique ${r.policy}`,
  ];
  if (r.errorCount > 0) {
    out.push(`Erreurs : ${r.errorCount}${r.errorCount > r.errors.length ? ` (les ${r.errors.length} premières)` : ''}`);
    for (const e of r.errors) {
      const where = e.recordNo !== null ? `enregistrement ${e.recordNo}, ligne ${e.line}` : e.line !== null ? `ligne ${e.line}` : 'fichier';
      out.push(`  - ${where}${e.field ? `, ${e.field}` : ''} : ${e.code} — ${e.message}`);
    }
  }
  if (r.ok) {
    out.push('Acheminement (enregistrements par destinataire) :');
    for (const [id, n] of Object.entries(r.perRecipient)) out.push(`  ${id.padEnd(28)} ${n}`);
    out.push(`  ${'sans destinataire'.padEnd(28)} ${r.unroutable}`);
  } else {
    out.push('Acheminement : aucun (fichier refusé, rien ne serait livré)');
  }
  if (r.flaggedCount > 0) {
    out.push(`Signalés (coordonnées dans une autre commune que code_insee) : ${r.flaggedCount}`);
    for (const f of r.flagged) out.push(`  - enregistrement ${f.recordNo}, ligne ${f.line} : déclaré ${f.declared}, point dans ${f.found ?? 'aucune commune connue'}`);
  }
  return out.join('\n') + '\n';
}
