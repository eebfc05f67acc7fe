import type { Convention, GatewayConfig } from './model.js';

/** Today's date as YYYY-MM-DD in UTC; conventions are dated, not timed. */
export function isoDay(now: Date): string {
  return now.toISOString().slice(0, 10);
}

export function isConventionValid(c: Convention, now: Date): boolean {
  const day = isoDay(now);
  return c.validFrom <= day && day <= c.validTo;
}

/** The conventions in force that let `partnerId` send `datasetId`. */
export function sendingConventions(config: GatewayConfig, partnerId: string, datasetId: string, now: Date): Convention[] {
  return config.conventions.filter(
    (c) => isConventionValid(c, now) && c.senders.some((g) => g.party === partnerId && g.datasets.includes(datasetId)),
  );
}

/** Dataset ids a partner may send now, sorted. */
export function datasetsSendable(config: GatewayConfig, partnerId: string, now: Date): string[] {
  const out = new Set<string>();
  for (const c of config.conventions) {
    if (!isConventionValid(c, now)) continue;
    for (const g of c.senders) if (g.party === partnerId) g.datasets.forEach((d) => out.add(d));
  }
  return [...out].filter((d) => config.datasets.has(d)).sort();
}

/** Dataset ids a recipient may receive now, sorted. */
export function datasetsReceivable(config: GatewayConfig, recipientId: string, now: Date): string[] {
  const out = new Set<string>();
  for (const c of config.conventions) {
    if (!isConventionValid(c, now)) continue;
    for (const g of c.recipients) if (g.party === recipientId) g.datasets.forEach((d) => out.add(d));
  }
  return [...out].filter((d) => config.datasets.has(d)).sort();
}

/** Recipients a record of `datasetId` sent under a convention in force may go to, with that convention. */
export function receivingGrants(config: GatewayConfig, partnerId: string, datasetId: string, now: Date): { recipientId: string; convention: Convention }[] {
  const out: { recipientId: string; convention: Convention }[] = [];
  const seen = new Set<string>();
  for (const c of sendingConventions(config, partnerId, datasetId, now)) {
    for (const g of c.recipients) {
      if (!g.datasets.includes(datasetId) || seen.has(g.party) || !config.recipients.has(g.party)) continue;
      seen.add(g.party);
      out.push({ recipientId: g.party, convention: c });
    }
  }
  return out;
}
