/**
 * Routing, pure: which commune a record concerns, whether its coordinates contradict its
 * declared commune, whether it lies in the sending partner's territory, and which recipients
 * receive it (a convention in force grants them the dataset and their territory holds the
 * commune). Built once per file; `route` is called per record.
 */
import type { Dataset, GatewayConfig, Territory } from '../config/model.js';
import { receivingGrants } from '../config/conventions.js';
import { inTerritory } from '../config/territory.js';
import type { CommuneIndex } from './geo.js';

const NONE: readonly string[] = Object.freeze([]);

export interface RouteResult {
  /** The record's commune: declared `code_insee`, else found from the coordinates; undefined if neither. */
  readonly insee: string | undefined;
  /** Coordinates contradict the declared commune (delivered as declared, flagged in the receipt). */
  readonly flagged: boolean;
  /** Commune found at the coordinates, when the record has any. */
  readonly inseeAtPoint: string | undefined;
  /** The sending partner may not report on this commune (the file is then invalid). */
  readonly outsidePartner: boolean;
  /** Recipient ids, in configuration order; empty = unroutable. */
  readonly recipients: readonly string[];
}

export interface Router {
  readonly recipients: readonly { readonly id: string; readonly territory: Territory }[];
  route(value: Readonly<Record<string, unknown>>, point: readonly [number, number] | undefined): RouteResult;
}

export interface RouterOptions {
  readonly config: GatewayConfig;
  readonly dataset: Dataset;
  /** undefined: no sender known (a local `validate` without --partner): no territory check, no recipients. */
  readonly partnerId: string | undefined;
  readonly now: Date;
  readonly communes: CommuneIndex;
}

export function createRouter(o: RouterOptions): Router {
  const partner = o.partnerId === undefined ? undefined : o.config.partners.get(o.partnerId);
  const grants = o.partnerId === undefined ? [] : receivingGrants(o.config, o.partnerId, o.dataset.id, o.now);
  const recipients = grants.flatMap((g) => {
    const r = o.config.recipients.get(g.recipientId);
    return r ? [{ id: r.id, territory: r.territory }] : [];
  });
  // Per commune (a file names few distinct communes): the partner check and the recipients.
  const cache = new Map<string, { readonly outside: boolean; readonly to: readonly string[] }>();
  const byCommune = (insee: string): { readonly outside: boolean; readonly to: readonly string[] } => {
    let hit = cache.get(insee);
    if (!hit) {
      const outside = partner !== undefined && !inTerritory(partner.territory, insee);
      hit = { outside, to: Object.freeze(outside ? [] : recipients.filter((r) => inTerritory(r.territory, insee)).map((r) => r.id)) };
      cache.set(insee, hit);
    }
    return hit;
  };

  return {
    recipients,
    route(value, point) {
      const declared = typeof value.code_insee === 'string' ? value.code_insee : undefined;
      const inseeAtPoint = point ? o.communes.communeAt(point[0], point[1]) : undefined;
      // A contradiction: the point lies in another known commune, or outside the declared
      // commune's outline. A point in no outline, declared where we have none, proves nothing.
      const flagged =
        declared !== undefined && point !== undefined && (inseeAtPoint !== undefined ? inseeAtPoint !== declared : o.communes.codes.has(declared));
      const insee = declared ?? (o.dataset.inseeOptional ? inseeAtPoint : undefined);
      const c = insee === undefined ? undefined : byCommune(insee);
      return { insee, flagged, inseeAtPoint, outsidePartner: c?.outside ?? false, recipients: c?.to ?? NONE };
    },
  };
}
