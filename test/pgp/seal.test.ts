/**
 * What the gateway produces, read by real peers: deliveries sealed for a recipient (gpg and sq
 * decrypt them and find the gateway's good signature) and detached receipt signatures (gpg and
 * sq verify them; a changed receipt fails).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createWriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { PrivateKey, PublicKey } from 'openpgp';
import { GnuPG, run } from './gnupg.js';
import { consume, loadPrivate, loadPublic, GATEWAY } from './fixtures.js';
import { sealForRecipient } from '../../gateway/pgp/seal.js';
import { detachedSign } from '../../gateway/pgp/sign.js';
import { DEFAULT_MAX_AGE_MS } from '../../gateway/pgp/open.js';

const RECIPIENT = 'commune@recipient.test';

describe('sealForRecipient and detachedSign, checked by GnuPG and sq', () => {
  let g: GnuPG;
  let gatewayKey: PrivateKey;
  let recipientPub: PublicKey;
  let gwFpr: string;
  const body = randomBytes(3 * 1024 * 1024 + 17);

  beforeAll(async () => {
    g = new GnuPG();
    g.genKey(GATEWAY);
    g.genKey(RECIPIENT);
    gwFpr = g.fingerprint(GATEWAY);
    gatewayKey = await loadPrivate(g, `<${GATEWAY}>`);
    recipientPub = (await loadPublic(g, `<${RECIPIENT}>`))[0] as PublicKey;
    g.write('gw.pub.asc', g.exportPublic(`<${GATEWAY}>`));
    g.write('recipient.sec.asc', g.exportSecret(`<${RECIPIENT}>`));
  });
  afterAll(() => g?.cleanup());

  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let off = 0; off < body.length; off += 100_000) yield body.subarray(off, off + 100_000);
  }

  async function sealToFile(name: string, source: AsyncIterable<Uint8Array> | Readable): Promise<string> {
    const path = g.path(name);
    await pipeline(sealForRecipient(source, { recipientKey: recipientPub, signingKey: gatewayKey }), createWriteStream(path));
    return path;
  }

  it('gpg --decrypt by the recipient gives the plaintext and a good signature by the gateway', async () => {
    const file = await sealToFile('delivery.pgp', chunks());
    const r = g.gpg(['--status-fd', '2', '--decrypt', file]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.equals(body)).toBe(true);
    expect(r.stderr).toMatch(new RegExp(`\\[GNUPG:\\] VALIDSIG \\S+ .* ${gwFpr}\\s`));
    expect(r.stderr).toContain('[GNUPG:] DECRYPTION_OKAY');
    expect(r.stderr).toMatch(/\[GNUPG:\] ENC_TO \S+ 18 /); // to the recipient's Cv25519 subkey
  });

  it('sq decrypt by the recipient checks the gateway signature', async () => {
    const file = await sealToFile('delivery-sq.pgp', Readable.from(chunks()));
    const r = run('sq', ['decrypt', '--recipient-key', g.path('recipient.sec.asc'), '--signer-cert', g.path('gw.pub.asc'), file]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.equals(body)).toBe(true);
    expect(r.stderr).toMatch(/1 good signature/);
  });

  it('openMessage on the recipient side accepts it with the gateway as signer', async () => {
    const file = await sealToFile('delivery-loop.pgp', chunks());
    const recipientKey = await loadPrivate(g, `<${RECIPIENT}>`);
    const gatewayPub = await loadPublic(g, `<${GATEWAY}>`);
    const { createReadStream } = await import('node:fs');
    const out = await consume(createReadStream(file), {
      decryptionKey: recipientKey, senderKeys: gatewayPub, now: new Date(), maxAgeMs: DEFAULT_MAX_AGE_MS, maxDecompressedBytes: 1 << 30,
    });
    expect(out.code, String(out.error)).toBeUndefined();
    expect(out.verdict?.signer).toBe(gwFpr);
    expect(out.plaintext.equals(body)).toBe(true);
  });

  it('a detached receipt signature verifies with gpg and sq, and fails on a changed receipt', async () => {
    const receipt = Buffer.from(JSON.stringify({ upload: '01JDEMO', verdict: 'accepted', records: 12 }, null, 2));
    const data = g.write('receipt.json', receipt);
    const sig = g.write('receipt.json.asc', await detachedSign(receipt, gatewayKey));
    const ok = g.gpg(['--status-fd', '2', '--verify', sig, data]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(new RegExp(`\\[GNUPG:\\] VALIDSIG \\S+ .* ${gwFpr}\\s`));
    const sq = run('sq', ['verify', '--signer-cert', g.path('gw.pub.asc'), '--detached', sig, data]);
    expect(sq.status, sq.stderr).toBe(0);
    g.write('receipt.json', Buffer.from(receipt.toString().replace('accepted', 'rejected')));
    const bad = g.gpg(['--status-fd', '2', '--verify', sig, data]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('[GNUPG:] BADSIG');
    expect(run('sq', ['verify', '--signer-cert', g.path('gw.pub.asc'), '--detached', sig, data]).status).not.toBe(0);
  });
});
