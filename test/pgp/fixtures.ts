/**
 * Shared material for the OpenPGP tests: a GnuPG home with the gateway and partner keys, the
 * keys loaded into openpgp.js, and a helper that consumes an opened message the way the
 * intake pipeline must (plaintext to the end, then the result).
 */
import * as openpgp from 'openpgp';
import { openMessage, type OpenOptions, type VerifiedSignature } from '../../gateway/pgp/open.js';
import type { InputStream } from '../../gateway/pgp/streams.js';
import { readPrivateKey, readPublicKeys } from '../../gateway/pgp/keys.js';
import { isGatewayError } from '../../gateway/errors.js';
import { GnuPG } from './gnupg.js';

export const DAY = 24 * 3600;
/** Keys are made 30 days ago so that signatures can be made (faked) in the past. */
export const KEYS_AT = Math.floor(Date.now() / 1000) - 30 * DAY;

export const GATEWAY = 'gateway@passerelle.test';
export const PARTNER_ED = 'partner-ed@partner.test';
export const PARTNER_RSA = 'partner-rsa@partner.test';

export interface Outcome {
  plaintext: Buffer;
  verdict?: VerifiedSignature;
  code?: string;
  error?: unknown;
}

/** Consumes `plaintext` fully, then awaits `result`: the contract of openMessage. */
export async function consume(input: InputStream, opts: OpenOptions): Promise<Outcome> {
  const opened = openMessage(input, opts);
  const chunks: Buffer[] = [];
  try {
    for await (const c of opened.plaintext) chunks.push(Buffer.from(c));
    const verdict = await opened.result;
    return { plaintext: Buffer.concat(chunks), verdict };
  } catch (e) {
    // The iteration's error and the result's rejection are the same error.
    const fromResult = await opened.result.then(() => undefined, (r: unknown) => r);
    if (fromResult !== e) throw new Error(`result rejected with another error than the iteration: ${String(fromResult)} vs ${String(e)}`, { cause: e });
    return { plaintext: Buffer.concat(chunks), code: isGatewayError(e) ? e.code : 'NOT_A_GATEWAY_ERROR', error: e };
  }
}

export function fileStream(buf: Buffer, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (off >= buf.length) { c.close(); return; }
      c.enqueue(new Uint8Array(buf.subarray(off, off + chunk)));
      off += chunk;
    },
  });
}

export async function loadPrivate(g: GnuPG, who: string): Promise<openpgp.PrivateKey> {
  return readPrivateKey(g.exportSecret(who));
}

export async function loadPublic(g: GnuPG, who: string): Promise<openpgp.PublicKey[]> {
  return readPublicKeys(g.exportPublic(who));
}

/**
 * Builds a signed message with openpgp.js, lets `tamper` change its packets after signing (add a
 * literal packet, change the data), then encrypts the packets as they are to `recipient`: what
 * an attacker who builds packets by hand can send. GnuPG cannot make these.
 */
export async function craftSignedEncrypted(
  body: Uint8Array, signer: openpgp.PrivateKey, recipient: openpgp.PublicKey,
  tamper: (packets: openpgp.PacketList<openpgp.AnyPacket>) => void = () => undefined,
): Promise<Buffer> {
  const message = await openpgp.createMessage({ binary: body });
  const signed = await message.sign([signer]);
  tamper(signed.packets);
  const encrypted = await signed.encrypt([recipient]);
  return Buffer.from(encrypted.write() as Uint8Array);
}

/** A literal data packet holding `data`. */
export function literalPacket(data: Uint8Array): openpgp.LiteralDataPacket {
  const p = new openpgp.LiteralDataPacket();
  (p as unknown as { setBytes(b: Uint8Array, f: openpgp.enums.literal): void }).setBytes(data, openpgp.enums.literal.binary);
  return p;
}
