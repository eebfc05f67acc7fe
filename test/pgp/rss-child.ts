/**
 * Run in a child process by memory.test.ts (so that its peak RSS is its own): opens one message
 * with openMessage, writes the plaintext to a quarantine file, prints a JSON line with the
 * outcome and the peak RSS.
 * Usage: tsx rss-child.ts <gateway.sec.asc> <sender.pub.asc> <message> <quarantine-file> <maxDecompressedBytes>
 */
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { openMessage, DEFAULT_MAX_AGE_MS } from '../../gateway/pgp/open.js';
import { readPrivateKey, readPublicKeys } from '../../gateway/pgp/keys.js';
import { isGatewayError } from '../../gateway/errors.js';

const [secPath, pubPath, msgPath, outPath, maxBytes] = process.argv.slice(2) as [string, string, string, string, string];
const decryptionKey = await readPrivateKey(readFileSync(secPath, 'utf8'));
const senderKeys = await readPublicKeys(readFileSync(pubPath, 'utf8'));
const opened = openMessage(createReadStream(msgPath, { highWaterMark: 1 << 20 }), {
  decryptionKey, senderKeys, now: new Date(), maxAgeMs: DEFAULT_MAX_AGE_MS, maxDecompressedBytes: Number(maxBytes),
});
let code: string | null = null;
let bytes = 0;
try {
  await pipeline(Readable.from(opened.plaintext), async function* (src: AsyncIterable<Uint8Array>) {
    for await (const c of src) { bytes += c.length; yield c; }
  }, createWriteStream(outPath));
  await opened.result;
} catch (e) {
  code = isGatewayError(e) ? e.code : `UNEXPECTED ${String(e)}`;
}
// maxRSS is in KiB.
process.stdout.write(JSON.stringify({ code, bytes, maxRssMiB: process.resourceUsage().maxRSS / 1024 }) + '\n');
