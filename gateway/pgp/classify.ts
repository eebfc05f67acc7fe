/**
 * openpgp.js reports failures as plain Errors with English messages; this is the one place that
 * turns them into codes. Unknown messages get the caller's fallback (PGP_CORRUPT while reading
 * the encrypted stream), so a new openpgp message can only make a rejection less specific, never
 * turn it into an acceptance.
 */
import { GatewayError, isGatewayError, type ErrorCode } from '../errors.js';

const RULES: ReadonlyArray<readonly [RegExp, ErrorCode]> = [
  [/decompressed (message )?size exceeded/i, 'PGP_TOO_LARGE'],
  [/Session key decryption failed|No decryption key packets found|decryption key/i, 'PGP_WRONG_RECIPIENT'],
  [/Unexpected packet|Parsing \w+Packet failed|Trailing signature|Missing trailing signature|OPS following|GrammarError|not a valid OpenPGP message|No literal data|Packet not allowed/i, 'PGP_MALFORMED'],
  [/Modification detected|authentication tag|MDC|Unexpected end|premature|truncat|incomplete|Error during parsing|Invalid session key|checksum/i, 'PGP_CORRUPT'],
  [/insecure|weak|considered too|Symmetrically encrypted data without integrity|unsupported/i, 'PGP_WEAK_ALGORITHM'],
];

/** A GatewayError for any error thrown by openpgp.js (GatewayErrors pass through unchanged). */
export function classifyOpenpgpError(e: unknown, fallback: ErrorCode): GatewayError {
  if (isGatewayError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  const code = RULES.find(([re]) => re.test(message))?.[1] ?? fallback;
  // The openpgp message is English and may quote packet data; keep it in `cause`, not in the detail.
  return new GatewayError(code, DESCRIPTIONS[code] ?? 'message OpenPGP refusé / OpenPGP message refused', {}, { cause: e });
}

const DESCRIPTIONS: Partial<Record<ErrorCode, string>> = {
  PGP_TOO_LARGE: 'le contenu décompressé dépasse la limite / the decompressed size is over the limit',
  PGP_WRONG_RECIPIENT: "le message n'est pas chiffré pour la clé de la passerelle / not encrypted to the gateway key",
  PGP_MALFORMED: "la structure OpenPGP n'est pas un message signé et chiffré unique / not a single signed and encrypted message",
  PGP_CORRUPT: 'le chiffré est corrompu ou tronqué / the ciphertext is corrupt or truncated',
  PGP_WEAK_ALGORITHM: 'algorithme refusé par la politique / algorithm below the policy',
};
