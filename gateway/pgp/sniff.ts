/**
 * What kind of OpenPGP data (if any) a stream starts with, read from its first bytes without
 * losing them: the caller gets back a stream that still yields every byte.
 */

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

/**
 * Reads up to PEEK_BYTES from `stream`, classifies them and returns a stream that replays them
 * and then forwards the rest (chunks are passed through, not copied).
 */
export async function sniff(stream: ReadableStream<Uint8Array>): Promise<{ kind: Sniffed; stream: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader();
  const head: Uint8Array[] = [];
  let size = 0;
  let done = false;
  while (size < PEEK_BYTES) {
    const r = await reader.read();
    if (r.done) { done = true; break; }
    head.push(r.value);
    size += r.value.length;
  }
  const joined = new Uint8Array(Math.min(size, PEEK_BYTES));
  let off = 0;
  for (const c of head) {
    if (off >= joined.length) break;
    const part = c.subarray(0, joined.length - off);
    joined.set(part, off);
    off += part.length;
  }
  const replay = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of head) controller.enqueue(c);
      if (done) controller.close();
    },
    async pull(controller) {
      const r = await reader.read();
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return { kind: classify(joined), stream: replay };
}
