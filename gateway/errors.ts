/**
 * One error type for the whole gateway. The code travels unchanged into the receipt, the SFTP
 * status text, the audit entry and the admin UI; every code is documented in docs/errors.md
 * (a test checks it).
 */
export const ERROR_CODES = {
  // configuration
  CONFIG_INVALID: 'a configuration file does not match its schema or refers to something unknown',
  CONFIG_UNREADABLE: 'a configuration or key file cannot be read or parsed',
  KEY_PERMISSIONS: 'a private key file is readable by others than its owner (0600 required outside demo mode)',
  DEMO_KEY_REFUSED: 'a demo key from keys-example/ is configured outside demo mode',
  // SFTP / virtual file system
  PATH_INVALID: 'a client path is malformed (control characters, NUL, backslash, over-long, not normalized)',
  PATH_NOT_FOUND: 'no such file or directory in this party\'s view',
  PERMISSION_DENIED: 'the operation is not allowed on this path for this party',
  LIMIT_HANDLES: 'too many open handles in this session',
  LIMIT_REQUESTS: 'too many requests in flight in this session',
  UPLOAD_INCOMPLETE: 'the upload was aborted or the connection dropped before the commit',
  GATEWAY_FAILURE: 'an internal error: nothing was published, the upload can be sent again',
  STORAGE_FULL: 'the gateway\'s disk is full: nothing was published, the upload can be sent again later',
  // OpenPGP
  PGP_NOT_ENCRYPTED: 'the file is not an OpenPGP message encrypted to the gateway',
  PGP_WRONG_RECIPIENT: 'the file is encrypted, but not to the gateway\'s key',
  PGP_NOT_SIGNED: 'the message carries no signature',
  PGP_UNKNOWN_SIGNER: 'the signature is by a key that is not registered for this partner',
  PGP_BAD_SIGNATURE: 'the signature does not verify',
  PGP_KEY_EXPIRED: 'the signing key is expired',
  PGP_KEY_REVOKED: 'the signing key is revoked',
  PGP_WEAK_ALGORITHM: 'an algorithm below the policy (SHA-1, DSA, ElGamal, RSA < 3072 unless allowed, a cipher other than AES)',
  PGP_SIGNATURE_TOO_OLD: 'the signature is older than the replay window',
  PGP_SIGNATURE_IN_FUTURE: 'the signature time is in the future',
  PGP_CORRUPT: 'the ciphertext is corrupt or truncated (integrity check failed)',
  PGP_MALFORMED: 'the OpenPGP packet structure is not a single signed and encrypted message',
  PGP_TOO_LARGE: 'the decompressed size is over the limit',
  // intake
  FILE_TOO_LARGE: 'the uploaded file is over the size limit',
  DATASET_NOT_GRANTED: 'no valid convention lets this partner send this dataset',
  FORMAT_ENCODING: 'the file is not valid UTF-8 (or the dataset\'s declared encoding)',
  FORMAT_HEADER: 'the CSV header is missing, has unknown or missing columns, or uses another delimiter',
  FORMAT_SYNTAX: 'the file cannot be parsed (CSV quoting, JSON syntax, wrong envelope)',
  FORMAT_LINE_TOO_LONG: 'a line is over the dataset\'s line-length limit',
  TOO_MANY_RECORDS: 'the file has more records than the limit',
  SCHEMA_INVALID: 'a record does not match the dataset schema',
  RULE_INVALID: 'a record breaks a rule of the contract (pair fields, dates, coordinates box, envelope period)',
  DUPLICATE_ID: 'two records of the file have the same identifier',
  OUTSIDE_TERRITORY: 'a record is outside the sending partner\'s territory',
  DUPLICATE_FILE: 'a byte-identical file was already accepted (answered OK, delivered nowhere again)',
  // audit
  AUDIT_ENTRY_MISMATCH: 'a stored audit entry does not hash to the recomputed tree',
  AUDIT_CHECKPOINT_INVALID: 'a checkpoint signature or format is invalid',
  AUDIT_INCONSISTENT: 'a checkpoint is not consistent with an earlier one',
  AUDIT_PROOF_INVALID: 'an inclusion or consistency proof does not verify',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class GatewayError extends Error {
  readonly code: ErrorCode;
  /** Structured, non-secret detail (record number, field, path…); never record contents. */
  readonly detail: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, detail: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GatewayError';
    this.code = code;
    this.detail = Object.freeze({ ...detail });
  }
}

export function isGatewayError(e: unknown, code?: ErrorCode): e is GatewayError {
  return e instanceof GatewayError && (code === undefined || e.code === code);
}

const FAILURE_TEXT = {
  STORAGE_FULL: 'espace disque insuffisant sur la passerelle, rien n\'a été publié, renvoyer plus tard / gateway storage full, nothing published, send again later',
  GATEWAY_FAILURE: 'erreur interne de la passerelle, rien n\'a été publié / gateway error, nothing published',
} as const;

/**
 * Whether `e` (or what caused it) says the disk is full: ENOSPC or EDQUOT from the file system,
 * SQLITE_FULL from a store. Such a failure is the gateway's, not the file's, and goes away once
 * the operator frees room: the partner is told to send again later, the operator what to fix.
 */
export function isStorageFull(e: unknown): boolean {
  return someCause(e, (c) => {
    const code = (c as { code?: unknown }).code;
    return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL' || code === 'STORAGE_FULL';
  });
}

/** Whether `e` or an error under it (its `cause`, and so on, five deep) satisfies `test`. */
export function someCause(e: unknown, test: (c: Error) => boolean): boolean {
  for (let c = e, depth = 0; c instanceof Error && depth < 5; c = c.cause, depth++) if (test(c)) return true;
  return false;
}

/** The error a client is told for a failure of the gateway itself, with its fixed text (the cause stays in the logs). */
export function gatewayFailureOf(code: keyof typeof FAILURE_TEXT, cause?: unknown): GatewayError {
  return new GatewayError(code, FAILURE_TEXT[code], {}, cause === undefined ? undefined : { cause });
}

/**
 * `e`, a failure of the gateway itself, as its client is told: STORAGE_FULL, or GATEWAY_FAILURE
 * with `text` (default: the generic one) when the disk is not the cause.
 */
export function gatewayFailure(e: unknown, text?: string): GatewayError {
  if (isStorageFull(e)) return gatewayFailureOf('STORAGE_FULL', e);
  return text === undefined ? gatewayFailureOf('GATEWAY_FAILURE', e) : new GatewayError('GATEWAY_FAILURE', text, {}, { cause: e });
}

/**
 * For the operator's log: the message of `e` and of each cause under it ("cannot encrypt for the
 * recipient: Could not find valid encryption key packet…"), so that a wrapped error still says
 * what went wrong. Never sent to a client.
 */
export function describeError(e: unknown): string {
  const parts: string[] = [];
  for (let c = e, depth = 0; c !== undefined && c !== null && depth < 5; c = c instanceof Error ? c.cause : undefined, depth++) {
    const text = c instanceof Error ? c.message : String(c);
    if (text !== '' && !parts.includes(text)) parts.push(text);
  }
  return parts.join(': ');
}
