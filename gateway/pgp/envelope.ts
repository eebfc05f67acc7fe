/** Checks of the packets in front of the encrypted data: session keys for the gateway, integrity protection. */
import * as openpgp from 'openpgp';
import type { PrivateKey } from 'openpgp';
import { GatewayError } from '../errors.js';
import { classifyOpenpgpError } from './classify.js';

/**
 * AES only (security.md invariant 5, modern cryptography): the 64-bit block ciphers (3DES, CAST5,
 * Blowfish, IDEA) are refused, and so are the ciphers GnuPG can be told to use that openpgp.js
 * does not implement (Camellia, Twofish), with this code rather than a misleading one.
 */
export const ALLOWED_CIPHERS: ReadonlySet<string> = new Set(['aes128', 'aes192', 'aes256']);

/**
 * Session key packets in front of the data: GnuPG and sq make one per recipient (the gateway,
 * perhaps the sender's own key or an archive key). openpgp.js tries every one that names the
 * gateway's key (or none): 2,000 of them cost it 1.5 s of CPU in a 190 kB file.
 */
export const MAX_SESSION_KEY_PACKETS = 16;

export function tooManySessionKeys(count: number): GatewayError {
  return new GatewayError('PGP_MALFORMED', `plus de ${MAX_SESSION_KEY_PACKETS} paquets de clé de session (destinataires) / over ${MAX_SESSION_KEY_PACKETS} session key packets (recipients)`, { count });
}

function weakCipher(cipher: string, cause?: unknown): GatewayError {
  return new GatewayError('PGP_WEAK_ALGORITHM', 'algorithme de chiffrement refusé (AES requis) / cipher below the policy (AES required)', { cipher }, { cause });
}

/** The cipher of the encrypted data packet itself (SEIPD v2 names it there, not in the session key). */
function packetCipher(message: openpgp.Message<openpgp.MaybeStream<Uint8Array>>): string | undefined {
  for (const p of message.packets) {
    const n = (p as unknown as { cipherAlgorithm?: number | null }).cipherAlgorithm;
    if (typeof n === 'number') return openpgp.enums.read(openpgp.enums.symmetric, n) as string | undefined ?? `#${n}`;
  }
  return undefined;
}

/**
 * The session key for the gateway, its cipher checked against ALLOWED_CIPHERS (from the session
 * key, or from the encrypted packet when the session key does not say). openpgp.js reports a
 * cipher it does not know or does not expect for the key as a failure to decrypt the session
 * key: that is the cipher's fault, not a message for another recipient.
 */
export async function decryptSessionKey(message: openpgp.Message<openpgp.MaybeStream<Uint8Array>>, decryptionKey: PrivateKey, config: Partial<openpgp.Config>): Promise<{ data: Uint8Array; algorithm: string | null }> {
  let keys: { data: Uint8Array; algorithm: string | null }[];
  try {
    keys = await openpgp.decryptSessionKeys({ message, decryptionKeys: decryptionKey, config });
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    if (/non-preferred symmetric algorithm|Invalid enum value|Unsupported cipher/i.test(text)) throw weakCipher('unsupported', e);
    throw classifyOpenpgpError(e, 'PGP_WRONG_RECIPIENT');
  }
  const key = keys[0];
  if (key === undefined) throw new GatewayError('PGP_WRONG_RECIPIENT', "le message n'est pas chiffré pour la clé de la passerelle / not encrypted to the gateway key", {});
  const cipher = key.algorithm ?? packetCipher(message);
  if (cipher !== undefined && !ALLOWED_CIPHERS.has(cipher)) throw weakCipher(cipher);
  return key;
}

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
  const sessionKeys = tags.filter((t) => t === packet.publicKeyEncryptedSessionKey || t === packet.symEncryptedSessionKey).length;
  if (sessionKeys > MAX_SESSION_KEY_PACKETS) throw tooManySessionKeys(sessionKeys);
  if (tags.includes(packet.symmetricallyEncryptedData)) {
    throw new GatewayError('PGP_WEAK_ALGORITHM', "données chiffrées sans contrôle d'intégrité (MDC) / encrypted data without integrity protection", {});
  }
  await checkRecipients(message, decryptionKey);
}
