/**
 * Cross-reference checks between the configuration files, once each passed its schema: unique
 * ids, grants that name existing parties and datasets of the right kind, coherent dates. Pure.
 */
import type { ConfigFiles } from './files.js';
import { pointer, type ConfigProblem } from './problems.js';

export interface FileNames {
  readonly datasets: string;
  readonly partners: string;
  readonly recipients: string;
  readonly conventions: string;
}

export function crossReferenceProblems(docs: ConfigFiles, files: FileNames): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const add = (file: string, path: string, problem: string): void => {
    out.push({ code: 'CONFIG_INVALID', file, path, problem });
  };

  const datasets = new Set<string>();
  docs.datasets.datasets.forEach((d, i) => {
    if (datasets.has(d.id)) add(files.datasets, pointer('datasets', i, 'id'), `identifiant de jeu de données en double : ${d.id}`);
    datasets.add(d.id);
    if (d.inseeOptional === true && !d.coordinates) {
      add(files.datasets, pointer('datasets', i, 'inseeOptional'), 'code_insee facultatif exige des coordonnées (« coordinates ») pour router');
    }
    if (d.coordinates && d.coordinates.xField === d.coordinates.yField) {
      add(files.datasets, pointer('datasets', i, 'coordinates', 'yField'), 'xField et yField doivent être deux champs distincts');
    }
  });

  // Party ids are SFTP user names: unique across partners and recipients.
  const partners = new Set<string>();
  const recipients = new Set<string>();
  const seen = new Map<string, string>();
  const party = (id: string, file: string, path: string, kind: Set<string>): void => {
    const where = seen.get(id);
    if (where !== undefined) add(file, path, `identifiant de partie en double : ${id} (déjà déclaré dans ${where})`);
    else seen.set(id, `${file} ${path}`);
    kind.add(id);
  };
  docs.partners.partners.forEach((p, i) => party(p.id, files.partners, pointer('partners', i, 'id'), partners));
  docs.recipients.recipients.forEach((r, i) => party(r.id, files.recipients, pointer('recipients', i, 'id'), recipients));

  const conventions = new Set<string>();
  docs.conventions.conventions.forEach((c, i) => {
    const at = (...s: (string | number)[]): string => pointer('conventions', i, ...s);
    if (conventions.has(c.id)) add(files.conventions, at('id'), `identifiant de convention en double : ${c.id}`);
    conventions.add(c.id);
    if (c.validFrom > c.validTo) add(files.conventions, at('validTo'), `fin de validité (${c.validTo}) antérieure au début (${c.validFrom})`);
    const grants = (list: 'senders' | 'recipients', known: Set<string>, other: Set<string>, what: string, otherWhat: string): void => {
      const parties = new Set<string>();
      c[list].forEach((g, j) => {
        if (parties.has(g.party)) add(files.conventions, at(list, j, 'party'), `partie citée deux fois : ${g.party}`);
        parties.add(g.party);
        if (!known.has(g.party)) {
          add(
            files.conventions,
            at(list, j, 'party'),
            other.has(g.party) ? `${g.party} est un ${otherWhat}, pas un ${what}` : `${what} inconnu : ${g.party}`,
          );
        }
        g.datasets.forEach((d, k) => {
          if (!datasets.has(d)) add(files.conventions, at(list, j, 'datasets', k), `jeu de données inconnu : ${d}`);
        });
      });
    };
    grants('senders', partners, recipients, 'partenaire', 'destinataire');
    grants('recipients', recipients, partners, 'destinataire', 'partenaire');
  });
  return out;
}
