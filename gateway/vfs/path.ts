/**
 * Syntax of client paths (pure). A client path is attacker-controlled: it is split into
 * segments and checked here, and never joined onto a disk path anywhere.
 */

export const MAX_PATH_BYTES = 1024;
export const MAX_NAME_BYTES = 255;

export type PathSyntaxError = 'PATH_INVALID';

/**
 * C0 and C1 controls, DEL, the backslash, U+FFFD (what ssh2 decodes invalid UTF-8 into),
 * format characters (bidi overrides, zero-width joiners), line/paragraph separators and
 * non-characters: refused anywhere in a path.
 */
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\\\ufffd\u2028\u2029\ufeff\ufff9-\ufffb]|\p{Cf}|\p{Co}|\p{Cs}/u;

function bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * Splits a client path into normalized segments: relative paths start at `/`, empty segments
 * (repeated or trailing `/`) and `.` vanish, `..` removes the previous segment. `..` above
 * the root, control characters, backslashes, non-NFC text and over-long names are refused.
 */
export function parseClientPath(clientPath: string): { ok: true; segments: string[] } | { ok: false; code: PathSyntaxError } {
  if (typeof clientPath !== 'string' || bytes(clientPath) > MAX_PATH_BYTES) return { ok: false, code: 'PATH_INVALID' };
  if (FORBIDDEN.test(clientPath) || clientPath.normalize('NFC') !== clientPath) return { ok: false, code: 'PATH_INVALID' };
  const segments: string[] = [];
  for (const part of clientPath.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (segments.length === 0) return { ok: false, code: 'PATH_INVALID' };
      segments.pop();
      continue;
    }
    if (bytes(part) > MAX_NAME_BYTES) return { ok: false, code: 'PATH_INVALID' };
    segments.push(part);
  }
  return { ok: true, segments };
}

export function canonicalPath(segments: readonly string[]): string {
  return '/' + segments.join('/');
}

/**
 * A file name a partner may give an upload: letters and digits (any script, NFC already
 * checked), and a few ASCII punctuation marks; not starting with `-` or a space, not ending
 * with a space or a dot, at least one letter or digit. A leading dot marks a temporary name.
 * The name is kept only as data (receipt, UI), never as a path.
 */
const UPLOAD_NAME = /^\.?[\p{L}\p{N}_][\p{L}\p{N}_.,+=@()~ -]*$/u;

export function isValidUploadName(name: string): boolean {
  return UPLOAD_NAME.test(name) && !name.endsWith(' ') && !name.endsWith('.') && !name.includes('..');
}

/** Suffixes clients use while a transfer is in progress, renamed onto the final name after. */
export const TEMPORARY_SUFFIXES = ['.filepart', '.partial', '.part', '.tmp'] as const;

/** A temporary name is never a commit point on CLOSE; only a RENAME onto a final name is. */
export function isTemporaryName(name: string): boolean {
  const lower = name.toLowerCase();
  return name.startsWith('.') || TEMPORARY_SUFFIXES.some((s) => lower.endsWith(s) && lower.length > s.length);
}

/** Names the gateway itself writes into outboxes and receipts; anything else is not served. */
const GATEWAY_NAME = /^[0-9A-Za-z][0-9A-Za-z._-]{0,200}$/;

export function isGatewayFileName(name: string): boolean {
  return GATEWAY_NAME.test(name) && !name.includes('..');
}
