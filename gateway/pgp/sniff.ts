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

/** Classifies the first bytes of `source`; `replay` yields every byte, those included. */
export async function sniff(source: AsyncIterator<Uint8Array>): Promise<{ kind: Sniffed; replay: AsyncGenerator<Uint8Array> }> {
  const r = new ByteReader(source);
  r.record();
  const parts: Uint8Array[] = [];
  let size = 0;
  while (size < PEEK_BYTES) {
    const c = await r.chunk(PEEK_BYTES - size);
    if (c === null) break;
    parts.push(c);
    size += c.length;
  }
  return { kind: classify(Buffer.concat(parts)), replay: r.replay() };
}
