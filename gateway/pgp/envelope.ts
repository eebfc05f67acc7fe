/** Checks of the packets in front of the encrypted data: session keys for the gateway, integrity protection. */
import * as openpgp from 'openpgp';
import type { PrivateKey } from 'openpgp';
import { GatewayError } from '../errors.js';

/** PGP_WRONG_RECIPIENT unless a session key packet is for one of the gateway's decryption (sub)keys (or anonymous). */
export async function checkRecipients(message: openpgp.Message<openpgp.MaybeStream<Uint8Array>>, decryptionKey: PrivateKey): Promise<void> {
  const ours = (await decryptionKey.getDecryptionKeys()).map((k) => k.getKeyID());
  const recipients = message.getEncryptionKeyIDs();
  if (!recipients.some((r) => ours.some((k) => k.equals(r, true)))) {
    throw new GatewayError('PGP_WRONG_RECIPIENT', "le message n'est pas chiffré pour la clé de la passerelle / not encrypted to the gateway key",
      { recipients: recipients.map((r) => r.toHex().toUpperCase()) });
  }
}

/** The whole envelope check for a message read by openpgp.js. */
export async function checkEnvelope(message: openpgp.Message<openpgp.MaybeStream<Uint8Array>>, decryptionKey: PrivateKey): Promise<void> {
  const tags = message.packets.map((p) => (p.constructor as unknown as { tag: number }).tag);
  const { packet } = openpgp.enums;
  const hasSessionKey = tags.includes(packet.publicKeyEncryptedSessionKey) || tags.includes(packet.symEncryptedSessionKey);
  const hasEncrypted = tags.some((t) => t === packet.symEncryptedIntegrityProtectedData || t === packet.aeadEncryptedData || t === packet.symmetricallyEncryptedData);
  if (!hasSessionKey || !hasEncrypted) {
    throw new GatewayError('PGP_NOT_ENCRYPTED', "le message n'est pas chiffré / the message is not encrypted", { packets: tags });
  }
  if (tags.includes(packet.symmetricallyEncryptedData)) {
    throw new GatewayError('PGP_WEAK_ALGORITHM', "données chiffrées sans contrôle d'intégrité (MDC) / encrypted data without integrity protection", {});
  }
  await checkRecipients(message, decryptionKey);
}
