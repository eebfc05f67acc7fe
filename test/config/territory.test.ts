import { describe, expect, it } from 'vitest';
import { loadCommunes, parseCommunesTsv, slugify } from '../../gateway/config/communes.js';
import {
  departementOf,
  inTerritory,
  isCommuneCode,
  isDepartementCode,
  isTerritoryCode,
  territoriesOverlap,
  territoryCodes,
  territoryWithin,
} from '../../gateway/config/territory.js';

describe('territories', () => {
  it('recognises commune and département codes, Corsica and overseas included', () => {
    for (const c of ['54328', '01001', '2A004', '2B033', '97105']) expect(isCommuneCode(c), c).toBe(true);
    for (const c of ['5432', '543280', '2C004', '54 328', '', 'abcde']) expect(isCommuneCode(c), c).toBe(false);
    for (const d of ['54', '01', '2A', '2B', '95', '971', '976', '19', '21']) expect(isDepartementCode(d), d).toBe(true);
    for (const d of ['00', '20', '96', '99', '97', '977', '5', '2a']) expect(isDepartementCode(d), d).toBe(false);
    expect(isTerritoryCode('54')).toBe(true);
    expect(isTerritoryCode('54328')).toBe(true);
    expect(isTerritoryCode('543')).toBe(false);
    expect(departementOf('54328')).toBe('54');
    expect(departementOf('2A004')).toBe('2A');
    expect(departementOf('97105')).toBe('971');
    expect(departementOf('nope')).toBeUndefined();
  });

  it('inTerritory: a listed commune, or a commune of a listed département', () => {
    expect(inTerritory(['54328'], '54328')).toBe(true);
    expect(inTerritory(['54328'], '54395')).toBe(false);
    expect(inTerritory(['54'], '54395')).toBe(true);
    expect(inTerritory(['54'], '55001')).toBe(false);
    expect(inTerritory(['2A'], '2A004')).toBe(true);
    expect(inTerritory(['2A'], '2B033')).toBe(false);
    expect(inTerritory(['971'], '97105')).toBe(true);
    expect(inTerritory(['97'], '97105')).toBe(false);
    expect(inTerritory(['54'], '54')).toBe(false); // a département is not a commune
    expect(inTerritory([], '54328')).toBe(false);
  });

  it('territoryCodes, territoryWithin, territoriesOverlap', async () => {
    const { communes } = await loadCommunes();
    const known = communes.map((c) => c.insee);
    expect(territoryCodes(['54'], known)).toEqual(known);
    expect(territoryCodes(['54328', '57463'], known)).toEqual(['54328']);
    expect(territoryWithin(['54328'], ['54'])).toBe(true);
    expect(territoryWithin(['54'], ['54328'])).toBe(false);
    expect(territoryWithin(['54', '54328'], ['54'])).toBe(true);
    expect(territoriesOverlap(['54328'], ['54'], known)).toBe(true);
    expect(territoriesOverlap(['54328'], ['54395'], known)).toBe(false);
  });
});

describe('communes', () => {
  it('slugify makes the demo recipient ids', () => {
    expect(slugify('Vandœuvre-lès-Nancy')).toBe('vandoeuvre-les-nancy');
    expect(slugify('Essey-lès-Nancy')).toBe('essey-les-nancy');
    expect(slugify('Fléville-devant-Nancy')).toBe('fleville-devant-nancy');
    expect(slugify('Saint-Max')).toBe('saint-max');
    expect(slugify("L'Haÿ-les-Roses")).toBe('l-hay-les-roses');
    expect(slugify('  Malzéville ')).toBe('malzeville');
  });

  it('loads the 20 communes of data/communes-grand-nancy.tsv', async () => {
    const t = await loadCommunes();
    expect(t.communes).toHaveLength(20);
    expect(t.byInsee.get('54328')?.name).toBe('Ludres');
    expect(t.bySlug.get('vandoeuvre-les-nancy')?.insee).toBe('54547');
    expect(t.byInsee.get('54395')?.postalCodes).toEqual(['54000', '54100']);
    expect(new Set(t.communes.map((c) => c.slug)).size).toBe(20);
  });

  it('refuses a malformed table', () => {
    expect(() => parseCommunesTsv('insee\tnom\n54328\tLudres\n')).toThrow(/codesPostaux/);
    expect(() => parseCommunesTsv('insee\tnom\tcodesPostaux\tpopulation\n5432\tLudres\t54710\t1\n')).toThrow(/line 2/);
  });
});
