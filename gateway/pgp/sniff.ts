/**
 * What kind of OpenPGP data (if any) a stream starts with, read from its first bytes without
 * losing them: the caller gets back a stream that still yields every byte.
 */
import { ByteReader } from './native/bytes.js';

export type Sniffed =
  | 'binary'          // a binary OpenPGP packet sequence
  | 'armored-message' // -----BEGIN PGP MESSAGE-----
  | 'armored-other'   // a cleartext-signed message, a detached signature, a key…
  | 'not-openpgp';    // anything else (plain text, empty)

const PEEK_BYTES = 64;

function classify(head: Uint8Array): Sniffed {
  const first = head[0];
  if (first === undefined) return 'not-openpgp';
  if ((first & 0x80) !== 0) return 'binary';
  const text = new TextDecoder('latin1').decode(head).trimStart();
  if (text.startsWith('-----BEGIN PGP MESSAGE-----')) return 'armored-message';
  if (text.startsWith('-----BEGIN PGP ')) return 'armored-other';
  return 'not-openpgp';
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Classifies the first bytes of `source`; `replay` yields every byte, those included, except a
 * UTF-8 byte order mark in front of an armor: Windows tools write one when they save a text
 * file (`Set-Content -Encoding UTF8`), GnuPG then finds no OpenPGP data, and the file is the
 * armored message all the same.
 */
export async function sniff(source: AsyncIterator<Uint8Array>): Promise<{ kind: Sniffed; replay: AsyncGenerator<Uint8Array> }> {
  const r = new ByteReader(source);
  r.record();
  const parts: Uint8Array[] = [];
  let size = 0;
  while (size < PEEK_BYTES + BOM.length) {
    const c = await r.chunk(PEEK_BYTES + BOM.length - size);
    if (c === null) break;
    parts.push(c);
    size += c.length;
  }
  const head = Buffer.concat(parts);
  if (head.subarray(0, BOM.length).equals(BOM)) {
    const kind = classify(head.subarray(BOM.length));
    if (kind === 'armored-message' || kind === 'armored-other') {
      const rest = new ByteReader(r.replay());
      await rest.exact(BOM.length, 'BOM');
      return { kind, replay: rest.replay() };
    }
  }
  return { kind: classify(head), replay: r.replay() };
}
