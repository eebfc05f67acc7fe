import type { Territory } from './model.js';

/**
 * Territories are lists of INSEE commune codes ("54328", Corsica "2A004") and/or département
 * codes ("54", "2A", overseas "971"). Everything here is pure.
 */

const COMMUNE = /^(?:[0-9]{5}|2[AB][0-9]{3})$/;
// Metropolitan départements 01–95 (no "20": Corsica is 2A/2B) and the overseas 971–976.
const DEPARTEMENT = /^(?:0[1-9]|1[0-9]|[3-8][0-9]|9[0-5]|2[1-9]|2[AB]|97[1-6])$/;

export function isCommuneCode(code: string): boolean {
  return COMMUNE.test(code);
}

export function isDepartementCode(code: string): boolean {
  return DEPARTEMENT.test(code);
}

/** A valid territory entry: a commune code or a département code. */
export function isTerritoryCode(code: string): boolean {
  return isCommuneCode(code) || isDepartementCode(code);
}

/** The département of a commune code: "54328" → "54", "2A004" → "2A", "97105" → "971". */
export function departementOf(insee: string): string | undefined {
  if (!isCommuneCode(insee)) return undefined;
  return insee.startsWith('97') ? insee.slice(0, 3) : insee.slice(0, 2);
}

/** Whether the commune `insee` belongs to `territory` (listed itself, or its département is). */
export function inTerritory(territory: Territory, insee: string): boolean {
  if (!isCommuneCode(insee)) return false;
  const dep = departementOf(insee);
  return territory.some((t) => t === insee || t === dep);
}

/** The commune codes of `known` that fall in `territory`, in the order of `known`. */
export function territoryCodes(territory: Territory, known: Iterable<string>): string[] {
  const out: string[] = [];
  for (const code of known) if (inTerritory(territory, code)) out.push(code);
  return out;
}

/** Whether every commune of `inner` is in `outer` (a département is inside only its own département entry). */
export function territoryWithin(inner: Territory, outer: Territory): boolean {
  return inner.every((t) => (isCommuneCode(t) ? inTerritory(outer, t) : outer.includes(t)));
}

/** Whether two territories share at least one commune of `known`. */
export function territoriesOverlap(a: Territory, b: Territory, known: Iterable<string>): boolean {
  for (const code of known) if (inTerritory(a, code) && inTerritory(b, code)) return true;
  return false;
}
