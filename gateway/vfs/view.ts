/** A party's view of the tree, computed from the configuration snapshot in force (pure). */
import type { AnyParty, GatewayConfig } from '../config/model.js';
import { datasetsReceivable, datasetsSendable } from '../config/conventions.js';
import type { PartyView } from './resolve.js';

export function partyView(config: GatewayConfig, party: AnyParty, now: Date): PartyView {
  if (party.kind === 'partner') {
    return { kind: 'partner', partyId: party.id, sendable: datasetsSendable(config, party.id, now) };
  }
  return {
    kind: 'recipient',
    partyId: party.id,
    receivable: datasetsReceivable(config, party.id, now),
    deleteAllowed: party.outbox.deleteAllowed,
  };
}
