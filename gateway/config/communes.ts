import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dataDir } from './project.js';

/** One commune of the reference table (data/communes-grand-nancy.tsv). */
export interface Commune {
  readonly insee: string;
  readonly name: string;
  /** ASCII slug of the name: the demo recipient id ("Vandœuvre-lès-Nancy" → "vandoeuvre-les-nancy"). */
  readonly slug: string;
  readonly postalCodes: readonly string[];
  readonly population: number;
}

export interface CommuneTable {
  readonly communes: readonly Commune[];
  readonly byInsee: ReadonlyMap<string, Commune>;
  readonly bySlug: ReadonlyMap<string, Commune>;
}

/** Lower-case ASCII slug: accents dropped, ligatures spelled out, anything else becomes '-'. */
export function slugify(name: string): string {
  return name
    .replace(/œ/g, 'oe')
    .replace(/Œ/g, 'Oe')
    .replace(/æ/g, 'ae')
    .replace(/Æ/g, 'Ae')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** Parses the TSV (header `insee nom codesPostaux siren population`); pure. */
export function parseCommunesTsv(text: string): CommuneTable {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines.shift() ?? '').split('\t');
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`communes TSV: missing column ${name}`);
    return i;
  };
  const [iInsee, iName, iCp, iPop] = [col('insee'), col('nom'), col('codesPostaux'), col('population')];
  const communes = lines.map((line, n): Commune => {
    const cells = line.split('\t');
    const insee = cells[iInsee] ?? '';
    const name = cells[iName] ?? '';
    if (!/^(?:[0-9]{5}|2[AB][0-9]{3})$/.test(insee) || name === '') throw new Error(`communes TSV: bad line ${n + 2}`);
    return Object.freeze({
      insee,
      name,
      slug: slugify(name),
      postalCodes: Object.freeze((cells[iCp] ?? '').split(',').filter((s) => s !== '')),
      population: Number(cells[iPop] ?? 0),
    });
  });
  return Object.freeze({
    communes: Object.freeze(communes),
    byInsee: new Map(communes.map((c) => [c.insee, c])),
    bySlug: new Map(communes.map((c) => [c.slug, c])),
  });
}

/** Loads the communes table; by default the project's data/communes-grand-nancy.tsv. */
export async function loadCommunes(file: string = join(dataDir(), 'communes-grand-nancy.tsv')): Promise<CommuneTable> {
  return parseCommunesTsv(await readFile(file, 'utf8'));
}
