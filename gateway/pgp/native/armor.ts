/**
 * ASCII armor (RFC 9580 §6.2) taken off an uploaded message as it streams, so that a message
 * made with `gpg --armor` reaches the native engine like a binary one. openpgp.js reads armor
 * too, but then decrypts the whole message itself: a third of the speed (64 MiB GnuPG message,
 * 37-43 MB/s against 108-120; binary 153-181), and some damaged messages made it stop without
 * a verdict (test/fixtures/pgp-stall/README.md).
 *
 * Accepted: blank lines, then `-----BEGIN PGP MESSAGE-----`, armor headers (`Key: Value`), a
 * blank line, radix-64 data (whitespace anywhere in it is ignored, RFC 9580 §6), its `=` padding,
 * an optional `=XXXX` CRC-24 line, `-----END PGP MESSAGE-----`, then only whitespace. The CRC-24
 * is read, not checked: RFC 9580 deprecates it, openpgp.js and Go's OpenPGP no longer check it,
 * and the MDC and the signature are what protect the message. Everything else is refused with
 * a precise reason: a character outside radix-64 in the data (PGP_CORRUPT: the file was damaged),
 * the input ending inside the armor (PGP_CORRUPT, truncated), a header line, padding or tail that
 * breaks the format, or anything after the tail (PGP_MALFORMED).
 *
 * Memory stays bounded: the data is decoded byte by byte as the chunks arrive (a table lookup per
 * character: converting chunks to strings for Buffer's base64 cost four times more); header
 * lines and what follows the data are judged line by line, and no line may exceed MAX_FRAME_TEXT.
 */
import { GatewayError } from '../../errors.js';
import { Truncated } from './bytes.js';

const BEGIN = '-----BEGIN PGP MESSAGE-----';
const END = '-----END PGP MESSAGE-----';
/** The longest header, checksum or tail line (data lines may be of any length). */
export const MAX_FRAME_TEXT = 64 << 10;

const HEADER_LINE = /^[\x21-\x39\x3b-\x7e]+:(?: .*)?$/;
const BLANK = /^[ \t\r\n\v\f]*$/;
const WHITESPACE = /[ \t\r\n\v\f]+/g;
const CHECKSUM = /^=[A-Za-z0-9+/]{4}$/;

/** Per byte: its radix-64 value, or one of these. */
const INVALID = -1;
const SPACE = -2;
const PAD = -3; // '='
const DASH = -4; // '-'
const RADIX = new Int8Array(256).fill(INVALID);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => { RADIX[c.charCodeAt(0)] = i; });
for (const c of ' \t\r\n\v\f') RADIX[c.charCodeAt(0)] = SPACE;
RADIX[0x3d] = PAD;
RADIX[0x2d] = DASH;
const LF = 0x0a;

function malformed(why: string, detail: Record<string, unknown> = {}): GatewayError {
  return new GatewayError('PGP_MALFORMED', `armure ASCII invalide : ${why.split(' / ')[0]} / invalid ASCII armor: ${why.split(' / ')[1] ?? why}`, detail);
}

/** The failure of the armor, kept once met: it outranks whatever the packets' reader saw next. */
export interface ArmorState {
  error?: GatewayError;
}

/**
 * The binary packets inside an armored message. Errors are thrown where they are met and kept in
 * `state.error`; a caller that drops the iterator early stops reading `source` too.
 */
export async function* dearmor(source: AsyncIterator<Uint8Array>, state: ArmorState = {}): AsyncGenerator<Uint8Array> {
  try {
    yield* decode(source);
  } catch (e) {
    if (e instanceof GatewayError) state.error ??= e;
    throw e;
  } finally {
    await source.return?.(undefined);
  }
}

type Stage =
  | 'begin'   // blank lines, then the header line
  | 'headers' // armor headers up to a blank line
  | 'data'    // radix-64 characters and whitespace
  | 'pad'     // the '=' padding of the last quantum, then the rest of its line
  | 'tail'    // the optional checksum line, then the tail line
  | 'after';  // whitespace only

/** The radix-64 characters of the quantum being read, and whether the line holds data yet. */
interface Quantum { acc: number; n: number; lineHasData: boolean }

/** Decodes `src` from `from` until a byte that is not radix-64 or whitespace (its index, or -1). */
function scan(src: Uint8Array, from: number, q: Quantum): { out: Buffer; stop: number } {
  const out = Buffer.allocUnsafe(Math.floor(((src.length - from) * 3) / 4) + 3);
  let { acc, n, lineHasData } = q;
  let o = 0;
  let i = from;
  for (; i < src.length; i++) {
    const b = src[i] as number;
    const v = RADIX[b] as number;
    if (v >= 0) {
      acc = (acc << 6) | v;
      lineHasData = true;
      if (++n === 4) {
        out[o++] = acc >>> 16;
        out[o++] = (acc >>> 8) & 0xff;
        out[o++] = acc & 0xff;
        acc = 0;
        n = 0;
      }
    } else if (v === SPACE) {
      if (b === LF) lineHasData = false;
    } else {
      break;
    }
  }
  q.acc = acc;
  q.n = n;
  q.lineHasData = lineHasData;
  return { out: out.subarray(0, o), stop: i < src.length ? i : -1 };
}

/** The bytes of the last, incomplete quantum (2 or 3 characters: 1 or 2 bytes). */
function lastBytes(q: Quantum): Buffer {
  if (q.n === 1) throw badPadding();
  const out = q.n === 2 ? Buffer.from([(q.acc >>> 4) & 0xff]) : q.n === 3 ? Buffer.from([(q.acc >>> 10) & 0xff, (q.acc >>> 2) & 0xff]) : Buffer.alloc(0);
  q.acc = 0;
  q.n = 0;
  return out;
}

function damaged(byte: number): GatewayError {
  const shown = byte >= 0x21 && byte <= 0x7e ? JSON.stringify(String.fromCharCode(byte)) : `0x${byte.toString(16).padStart(2, '0')}`;
  return new GatewayError('PGP_CORRUPT', `armure ASCII endommagée : caractère ${shown} dans les données / damaged ASCII armor: character ${shown} in the data`, { byte });
}

function badPadding(): GatewayError {
  return malformed('fin des données mal formée (remplissage « = ») / malformed end of the data ("=" padding)');
}

function padInside(): GatewayError {
  return malformed('« = » au milieu des données / "=" inside the data');
}

async function* decode(source: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  const at: { stage: Stage } = { stage: 'begin' };
  // The partial line of a line-by-line stage (begin, headers, tail, after).
  let text = '';
  let lineNo = 0;
  const q: Quantum = { acc: 0, n: 0, lineHasData: false };
  let padLeft = 0;

  /** A whole line of the begin or headers stage. */
  function headLine(raw: string): void {
    const line = raw.replace(/[ \t\r\v\f]+$/, '');
    lineNo++;
    if (at.stage === 'begin') {
      if (BLANK.test(line)) return;
      if (line.trimStart() !== BEGIN) throw malformed("ce n'est pas un message OpenPGP armuré / not an armored OpenPGP message", { line: lineNo });
      at.stage = 'headers';
    } else if (BLANK.test(line)) {
      at.stage = 'data';
    } else if (!HEADER_LINE.test(line)) {
      throw malformed(`ligne ${lineNo} : en-tête d'armure mal formé (« Clé: valeur » attendu, puis une ligne vide) / line ${lineNo}: malformed armor header ("Key: Value" expected, then a blank line)`, { line: lineNo });
    }
  }

  /** A whole line after the data: the checksum, the tail, then blank lines only. */
  function tailLine(raw: string): void {
    const line = raw.trim();
    if (line === '') return;
    if (at.stage === 'after') throw malformed("des données suivent la fin de l'armure / data after the armor tail");
    if (line.startsWith('=')) {
      if (!CHECKSUM.test(line.replace(WHITESPACE, ''))) throw malformed('ligne de somme de contrôle mal formée (« =XXXX » attendu) / malformed checksum line ("=XXXX" expected)');
      return;
    }
    if (line !== END) throw malformed(`ligne de fin attendue : ${END} / tail line expected: ${END}`);
    at.stage = 'after';
  }

  /** Feeds the line-by-line stages; returns where in `buf` the data starts if they end there. */
  function lines(buf: Buffer, from: number): number {
    let pos = from;
    while (at.stage !== 'data' && at.stage !== 'pad') {
      const nl = buf.indexOf(LF, pos);
      if (nl < 0) {
        text += buf.toString('latin1', pos);
        if (text.length > MAX_FRAME_TEXT) throw malformed(`ligne de plus de ${MAX_FRAME_TEXT} octets hors des données / a line over ${MAX_FRAME_TEXT} bytes outside the data`);
        return buf.length;
      }
      const line = text + buf.toString('latin1', pos, nl);
      text = '';
      pos = nl + 1;
      if (at.stage === 'tail' || at.stage === 'after') tailLine(line);
      else headLine(line);
    }
    return pos;
  }

  for (;;) {
    const r = await source.next();
    if (r.done === true) break;
    const buf = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    let pos = 0;
    while (pos < buf.length) {
      if (at.stage === 'data') {
        const { out, stop } = scan(buf, pos, q);
        if (out.length > 0) yield out;
        if (stop < 0) break;
        pos = stop;
        const b = buf[stop] as number;
        const v = RADIX[b] as number;
        if (v === INVALID) throw damaged(b);
        if (v === DASH) {
          // The tail, at the start of a line (any other dash is damage).
          if (q.lineHasData) throw damaged(b);
          const last = lastBytes(q);
          if (last.length > 0) yield last;
          at.stage = 'tail';
        } else if (q.n === 0) {
          // A checksum line, or padding after a complete quantum.
          if (q.lineHasData) throw badPadding();
          at.stage = 'tail';
        } else {
          if (q.n === 1) throw badPadding();
          padLeft = 4 - q.n;
          at.stage = 'pad';
        }
      } else if (at.stage === 'pad') {
        // The padding ('=' and whitespace), then only whitespace to the end of its line.
        for (; pos < buf.length; pos++) {
          const b = buf[pos] as number;
          const v = RADIX[b] as number;
          if (v === SPACE) {
            if (b === LF && padLeft === 0) break;
          } else if (v === PAD) {
            if (padLeft === 0) throw badPadding();
            if (--padLeft === 0) {
              const last = lastBytes(q);
              if (last.length > 0) yield last;
            }
          } else if (v >= 0) {
            throw padInside();
          } else if (v === DASH && padLeft > 0) {
            throw badPadding();
          } else {
            throw padLeft > 0 ? damaged(b) : malformed("la ligne de remplissage continue après le « = » / the padding line goes on after the \"=\"");
          }
        }
        if (pos < buf.length) {
          pos++; // its line feed
          at.stage = 'tail';
        }
      } else {
        pos = lines(buf, pos);
      }
    }
  }
  // The input ended: a last line without its line feed is judged too.
  if ((at.stage === 'tail' || at.stage === 'after') && text !== '') tailLine(text);
  if (at.stage === 'pad' && padLeft === 0) at.stage = 'tail';
  if (at.stage !== 'after') throw new Truncated('armor');
}
