/**
 * The one place where an error becomes an SFTP status (draft-ietf-secsh-filexfer-02, the
 * version every stock client speaks). The message starts with the gateway's error code so
 * a partner's batch log says what happened; French text first.
 */
import { GatewayError, gatewayFailure, isGatewayError, isStorageFull, type ErrorCode } from '../errors.js';

export const SFTP_STATUS = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  OP_UNSUPPORTED: 8,
} as const;

export type SftpStatusCode = (typeof SFTP_STATUS)[keyof typeof SFTP_STATUS];

export interface SftpStatus {
  readonly code: SftpStatusCode;
  readonly message: string;
}

/** Thrown for requests the gateway does not implement (symbolic links, extensions…). */
export class Unsupported extends Error {
  constructor(what: string) {
    super(`opération non prise en charge / unsupported: ${what}`);
    this.name = 'Unsupported';
  }
}

const BY_CODE: Partial<Record<ErrorCode, SftpStatusCode>> = {
  PATH_NOT_FOUND: SFTP_STATUS.NO_SUCH_FILE,
  PATH_INVALID: SFTP_STATUS.PERMISSION_DENIED,
  PERMISSION_DENIED: SFTP_STATUS.PERMISSION_DENIED,
};

const DEFAULT_TEXT: Partial<Record<ErrorCode, string>> = {
  PATH_NOT_FOUND: 'fichier ou dossier introuvable / no such file',
  PATH_INVALID: 'chemin refusé / invalid path',
  PERMISSION_DENIED: 'opération non autorisée / permission denied',
};

/** Any thrown value → the status sent to the client. Unknown errors never leak their text. */
export function toSftpStatus(err: unknown): SftpStatus {
  if (err instanceof Unsupported) return { code: SFTP_STATUS.OP_UNSUPPORTED, message: err.message };
  // A full disk is said as such, under a generic failure (a thread's wrapper) or raw (the
  // partner can only wait; the operator must act); any other error's text stays in the logs.
  if ((!isGatewayError(err) || err.code === 'GATEWAY_FAILURE') && isStorageFull(err)) err = gatewayFailure(err);
  if (isGatewayError(err)) {
    const code = BY_CODE[err.code] ?? SFTP_STATUS.FAILURE;
    return { code, message: `${err.code}: ${oneLine(err.message || DEFAULT_TEXT[err.code] || '')}` };
  }
  return { code: SFTP_STATUS.FAILURE, message: 'GATEWAY_FAILURE: erreur interne / internal error' };
}

/** A coded refusal from the virtual file system, as a GatewayError. */
export function refusal(code: 'PATH_INVALID' | 'PATH_NOT_FOUND' | 'PERMISSION_DENIED', path?: string): GatewayError {
  return new GatewayError(code, DEFAULT_TEXT[code] ?? code, path === undefined ? {} : { path });
}

function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 400);
}
