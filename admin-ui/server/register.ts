/**
 * The record of processing activities (GDPR art. 30) derived from the conventions: one row per
 * convention, with the datasets, senders and recipients named as configured. Pure.
 */
import type { GatewayConfig } from '../../gateway/config/model.js';
import { isConventionValid } from '../../gateway/config/conventions.js';

export interface RegisterGrant { readonly party: string; readonly name: string; readonly datasets: readonly string[]; readonly territory: readonly string[] }

export interface RegisterRow {
  readonly conventionId: string;
  readonly title: string;
  readonly purpose: string;
  readonly legalReference: string;
  readonly signedOn: string;
  readonly validFrom: string;
  readonly validTo: string;
  readonly inForce: boolean;
  readonly dataCategories: readonly string[];
  readonly datasets: readonly { readonly id: string; readonly title: string }[];
  readonly senders: readonly RegisterGrant[];
  readonly recipients: readonly RegisterGrant[];
  /** Union of the recipients' territories: where the data goes. */
  readonly territory: readonly string[];
  readonly retentionDays: number;
}

export function buildRegister(config: GatewayConfig, now: Date): RegisterRow[] {
  return config.conventions.map((c) => {
    const grant = (g: { party: string; datasets: readonly string[] }): RegisterGrant => {
      const p = config.partners.get(g.party) ?? config.recipients.get(g.party);
      return { party: g.party, name: p?.name ?? g.party, datasets: g.datasets, territory: p?.territory ?? [] };
    };
    const recipients = c.recipients.map(grant);
    const ids = new Set([...c.senders, ...c.recipients].flatMap((g) => g.datasets));
    return {
      conventionId: c.id,
      title: c.title,
      purpose: c.purpose,
      legalReference: c.legalReference,
      signedOn: c.signedOn,
      validFrom: c.validFrom,
      validTo: c.validTo,
      inForce: isConventionValid(c, now),
      dataCategories: c.dataCategories,
      datasets: [...ids].sort().map((id) => ({ id, title: config.datasets.get(id)?.title ?? id })),
      senders: c.senders.map(grant),
      recipients,
      territory: [...new Set(recipients.flatMap((r) => r.territory))].sort(),
      retentionDays: c.retentionDays,
    };
  });
}
