/** Detached signatures by the gateway (receipts: `<upload-id>.json` + `<upload-id>.json.asc`). */
import * as openpgp from 'openpgp';
import type { PrivateKey } from 'openpgp';

/** An armored detached signature of `data` by `signingKey`; `gpg --verify sig data` checks it. */
export async function detachedSign(data: Uint8Array, signingKey: PrivateKey, date: Date = new Date()): Promise<string> {
  const message = await openpgp.createMessage({ binary: data });
  return openpgp.sign({ message, signingKeys: signingKey, detached: true, format: 'armored', date });
}
