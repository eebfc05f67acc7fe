/**
 * sealNative, read by real peers: GnuPG and sq decrypt what it writes and find the gateway's good
 * signature, openpgp.js accepts it with `expectSigned`, for sizes on either side of the partial
 * body boundaries; a flipped byte is refused; errors and backpressure reach the caller.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createReadStream, createWriteStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import * as openpgp from 'openpgp';
import type { PrivateKey, PublicKey } from 'openpgp';
import { GnuPG, run } from './gnupg.js';
import { consume, loadPrivate, loadPublic, GATEWAY } from './fixtures.js';
import { sealNative, NativeSealer, type NativeSealTuning } from '../../gateway/pgp/seal-native.js';
import { PartialPacketWriter, fixedLength } from '../../gateway/pgp/native-seal/framing.js';
import { createSealPool, type SealPool } from '../../gateway/pgp/native-seal/pool.js';
import type { Worker } from 'node:worker_threads';
import { ByteReader, readHeader, packetBody } from '../../gateway/pgp/native/bytes.js';
import { DEFAULT_MAX_AGE_MS } from '../../gateway/pgp/open.js';
import { GatewayError, isGatewayError } from '../../gateway/errors.js';

const RECIPIENT = 'commune@recipient.test';
const RSA_SIGNER = 'rsa-gateway@passerelle.test';
const RSA_RECIPIENT = 'rsa-commune@recipient.test';
const SIGN_ONLY = 'sign-only@recipient.test';
const PART = 1 << 18; // the default partial body part
const LITERAL_HEADER = 6; // 'b', empty name, date: the literal body bytes before the data

async function* chunked(body: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < body.length; off += size) yield body.subarray(off, off + size);
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function failureOf(stream: Readable): Promise<unknown> {
  return collect(stream).then(() => new Error('the stream ended without error'), (e: unknown) => e);
}

/** An endless source of 64 KiB chunks that counts what was pulled and notes when it is closed. */
function endlessSource(): { source: AsyncGenerator<Uint8Array>; pulled: () => number; closed: () => boolean } {
  let pulled = 0;
  let closed = false;
  const chunk = randomBytes(64 * 1024);
  async function* endless(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) { pulled += chunk.length; yield chunk; }
    } finally {
      closed = true;
    }
  }
  return { source: endless(), pulled: () => pulled, closed: () => closed };
}

/** Reads `stream` until more than `limit` bytes came out, then stops (which destroys it). */
async function readUntil(stream: Readable, limit: number): Promise<number> {
  let read = 0;
  for await (const c of stream) {
    read += (c as Buffer).length;
    if (read > limit) break; // for-await's break destroys the stream
  }
  await new Promise((resolve) => setImmediate(resolve));
  return read;
}

/** A source that yields 1 MiB and then fails with `error`. */
async function* failingAfterOne(error: Error): AsyncGenerator<Uint8Array> {
  yield randomBytes(1 << 20);
  throw error;
}

describe('sealNative, checked by GnuPG, sq and openpgp.js', () => {
  let g: GnuPG;
  let gatewayKey: PrivateKey;
  let gatewayPub: PublicKey[];
  let recipientPub: PublicKey;
  let recipientKey: PrivateKey;
  let gwFpr: string;

  beforeAll(async () => {
    g = new GnuPG();
    gwFpr = g.genKey(GATEWAY);
    g.genKey(RECIPIENT);
    gatewayKey = await loadPrivate(g, `<${GATEWAY}>`);
    gatewayPub = await loadPublic(g, `<${GATEWAY}>`);
    recipientPub = (await loadPublic(g, `<${RECIPIENT}>`))[0] as PublicKey;
    recipientKey = await loadPrivate(g, `<${RECIPIENT}>`);
    g.write('gw.pub.asc', g.exportPublic(`<${GATEWAY}>`));
    g.write('recipient.sec.asc', g.exportSecret(`<${RECIPIENT}>`));
  }, 60_000);
  afterAll(() => g?.cleanup());

  async function sealToFile(name: string, body: Buffer, chunk = 100_000, tuning: NativeSealTuning = {}, recipient = recipientPub, signer = gatewayKey): Promise<string> {
    const path = g.path(name);
    await pipeline(sealNative(chunked(body, chunk), { recipientKey: recipient, signingKey: signer }, tuning), createWriteStream(path));
    return path;
  }

  function expectGpgGood(file: string, body: Buffer, signerFpr = gwFpr): string {
    const r = g.gpg(['--status-fd', '2', '--decrypt', file]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.equals(body)).toBe(true);
    expect(r.stderr).toContain('[GNUPG:] GOODSIG');
    expect(r.stderr).toMatch(new RegExp(`\\[GNUPG:\\] VALIDSIG ${signerFpr} .* 00 ${signerFpr}\\s`));
    expect(r.stderr).toContain('[GNUPG:] GOODMDC');
    expect(r.stderr).toContain('[GNUPG:] DECRYPTION_OKAY');
    return r.stderr;
  }

  function expectSqGood(file: string, body: Buffer): void {
    const r = run('sq', ['decrypt', '--recipient-key', g.path('recipient.sec.asc'), '--signer-cert', g.path('gw.pub.asc'), file]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.equals(body)).toBe(true);
    expect(r.stderr).toMatch(/1 good signature/);
  }

  async function expectOpenpgpGood(message: Uint8Array, body: Buffer): Promise<void> {
    const { data, signatures } = await openpgp.decrypt({
      message: await openpgp.readMessage({ binaryMessage: message }), decryptionKeys: recipientKey,
      verificationKeys: gatewayPub, expectSigned: true, format: 'binary',
    });
    expect(Buffer.from(data).equals(body)).toBe(true);
    expect(signatures).toHaveLength(1);
    expect(await signatures[0]?.verified).toBe(true);
  }

  const sizes: [string, number][] = [
    ['empty', 0], ['1 byte', 1],
    ['one byte short of filling the first literal part', PART - LITERAL_HEADER - 1],
    ['exactly one literal part', PART - LITERAL_HEADER],
    ['one byte over one literal part', PART - LITERAL_HEADER + 1],
    ['part size - 1', PART - 1], ['part size', PART], ['part size + 1', PART + 1],
    ['5 MB', 5_000_000 + 3],
  ];
  for (const [label, size] of sizes) {
    it(`${label} (${size} bytes): gpg, sq and openpgp.js decrypt it and find a good signature`, async () => {
      const body = randomBytes(size);
      const file = await sealToFile(`m-${size}.pgp`, body);
      expectGpgGood(file, body);
      expectSqGood(file, body);
      await expectOpenpgpGood(readFileSync(file), body);
    });
  }

  it('writes PKESK v3 to the Cv25519 subkey, then SEIPD v1 holding OPS v3, a streamed literal and a v4 signature (AES-256, SHA-256, EdDSA)', async () => {
    const body = randomBytes(3 * PART + 5);
    const file = await sealToFile('structure.pgp', body, 65_536);
    const bytes = readFileSync(file);
    expect(bytes[0]).toBe(0xc1); // new-format PKESK
    const pkeskLength = bytes[1] as number;
    expect(bytes[2]).toBe(3);
    expect(bytes[2 + pkeskLength]).toBe(0xd2); // new-format SEIPD…
    expect(bytes[3 + pkeskLength]).toBe(224 + 18); // …in 256 KiB partial parts
    expect(bytes[4 + pkeskLength]).toBe(1);
    const status = expectGpgGood(file, body);
    expect(status).toMatch(/\[GNUPG:\] ENC_TO \S+ 18 /);
    expect(status).toContain('[GNUPG:] DECRYPTION_INFO 2 9'); // MDC (SHA-1), AES-256
    expect(status).toMatch(new RegExp(`VALIDSIG \\S+ \\S+ \\d+ 0 4 0 22 8 00 ${gwFpr}`)); // v4, EdDSA, SHA-256, binary
    const list = g.gpgOk(['--list-packets', file]).toString(); // gpg lists the packets up to the literal data
    expect(list).toMatch(/:pubkey enc packet: version 3, algo 18/);
    expect(list).toMatch(/:encrypted data packet:\s+length: unknown\s+mdc_method: 2/);
    expect(list).toMatch(/:onepass_sig packet: keyid [0-9A-F]{16}\s+version 3, sigclass 0x00, digest 8, pubkey 22, last=1/);
    expect(list).toMatch(/:literal data packet:\s+mode b \(62\), created \d+, name="",\s+raw data: unknown length/);
    const dump = run('sq', ['decrypt', '--dump', '--recipient-key', g.path('recipient.sec.asc'), '--signer-cert', g.path('gw.pub.asc'), file]);
    expect(dump.status, dump.stderr).toBe(0);
    const sig = dump.stderr.slice(dump.stderr.indexOf('── Signature Packet') + 3); // not the One-Pass Signature Packet
    expect(sig).toMatch(/^Signature Packet, new CTB, \d+ bytes\s+│\s+Version: 4\s+│\s+Type: Binary\s+│\s+Pk algo: EdDSA\s+│\s+Hash algo: SHA256\s+│\s+Hashed area:\s+│\s+Signature creation time: [^\n]+\s+│\s+Issuer Fingerprint: (\w+)\s+│\s+Unhashed area:\s+│\s+Issuer: [0-9A-F]{16}\s/);
    expect(sig).toContain(`Issuer Fingerprint: ${gwFpr}`);
    expect(dump.stderr).toMatch(/Modification Detection Code Packet, new CTB, 20 bytes/);
  });

  it('small parts (512 bytes) at every offset around the boundaries are read by openpgp.js, and by gpg and sq', async () => {
    const tuning = { partExp: 9 };
    for (let size = 0; size < 1700; size += 23) {
      const body = randomBytes(size);
      const sealed = await collect(sealNative(chunked(body, 97), { recipientKey: recipientPub, signingKey: gatewayKey }, tuning));
      await expectOpenpgpGood(sealed, body);
    }
    const body = randomBytes(200_001);
    const file = await sealToFile('small-parts.pgp', body, 4096, tuning);
    expectGpgGood(file, body);
    expectSqGood(file, body);
  });

  it('SHA-512 and a Node Readable source work as well', async () => {
    const body = randomBytes(700_000);
    const path = g.path('sha512.pgp');
    await pipeline(sealNative(Readable.from(chunked(body, 50_000)), { recipientKey: recipientPub, signingKey: gatewayKey }, { hash: 'sha512' }), createWriteStream(path));
    expect(expectGpgGood(path, body)).toMatch(/VALIDSIG \S+ \S+ \d+ 0 4 0 22 10 00/);
    expectSqGood(path, body);
  });

  it("the gateway's own intake (openMessage) accepts it with the gateway as signer", async () => {
    const body = randomBytes(1_000_000);
    const file = await sealToFile('loop.pgp', body);
    const out = await consume(createReadStream(file), {
      decryptionKey: recipientKey, senderKeys: gatewayPub, now: new Date(), maxAgeMs: DEFAULT_MAX_AGE_MS, maxDecompressedBytes: 1 << 30,
    });
    expect(out.code, String(out.error)).toBeUndefined();
    expect(out.verdict?.signer).toBe(gwFpr);
    expect(out.plaintext.equals(body)).toBe(true);
  });

  it('a flipped byte in the ciphertext or the MDC is refused by gpg and sq', async () => {
    const body = randomBytes(600_000);
    const file = await sealToFile('tamper.pgp', body);
    const good = readFileSync(file);
    for (const at of [200, 300_000, good.length - 5]) {
      const bad = Buffer.from(good);
      bad[at] = (bad[at] as number) ^ 0x01;
      const path = g.write(`tampered-${at}.pgp`, bad);
      const r = g.gpg(['--status-fd', '2', '--decrypt', path]);
      expect(r.status, `offset ${at}`).not.toBe(0);
      expect(r.stderr).not.toContain('[GNUPG:] DECRYPTION_OKAY');
      const sq = run('sq', ['decrypt', '--recipient-key', g.path('recipient.sec.asc'), '--signer-cert', g.path('gw.pub.asc'), path]);
      expect(sq.status, `sq, offset ${at}`).not.toBe(0);
    }
  });

  it('an RSA signer and an RSA recipient', async () => {
    const signerFpr = g.genKey(RSA_SIGNER, { algo: 'rsa2048' });
    g.genKey(RSA_RECIPIENT, { algo: 'rsa2048' });
    const signer = await loadPrivate(g, `<${RSA_SIGNER}>`);
    const recipient = (await loadPublic(g, `<${RSA_RECIPIENT}>`))[0] as PublicKey;
    const body = randomBytes(300_000);
    const file = await sealToFile('rsa.pgp', body, 100_000, {}, recipient, signer);
    const status = expectGpgGood(file, body, signerFpr);
    expect(status).toMatch(/\[GNUPG:\] ENC_TO \S+ 1 /);
    expect(status).toMatch(new RegExp(`VALIDSIG \\S+ \\S+ \\d+ 0 4 0 1 8 00 ${signerFpr}`));
    g.write('rsa-signer.pub.asc', g.exportPublic(`<${RSA_SIGNER}>`));
    g.write('rsa-recipient.sec.asc', g.exportSecret(`<${RSA_RECIPIENT}>`));
    const sq = run('sq', ['decrypt', '--recipient-key', g.path('rsa-recipient.sec.asc'), '--signer-cert', g.path('rsa-signer.pub.asc'), file]);
    expect(sq.status, sq.stderr).toBe(0);
    expect(sq.stdout.equals(body)).toBe(true);
  }, 60_000);

  it('a recipient key without an encryption subkey, or a locked signing key, fails the stream with GATEWAY_FAILURE', async () => {
    g.gpgOk(['--quick-gen-key', `sign-only <${SIGN_ONLY}>`, 'ed25519', 'sign', 'never']);
    const signOnly = (await loadPublic(g, `<${SIGN_ONLY}>`))[0] as PublicKey;
    const e1 = await failureOf(sealNative(chunked(Buffer.from('x'), 1), { recipientKey: signOnly, signingKey: gatewayKey }));
    expect(isGatewayError(e1, 'GATEWAY_FAILURE'), String(e1)).toBe(true);

    const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ email: 'locked@passerelle.test' }], passphrase: 'secret', format: 'armored' });
    const locked = await openpgp.readPrivateKey({ armoredKey: privateKey });
    const e2 = await failureOf(sealNative(chunked(Buffer.from('x'), 1), { recipientKey: recipientPub, signingKey: locked }));
    expect(isGatewayError(e2, 'GATEWAY_FAILURE'), String(e2)).toBe(true);
    expect((e2 as GatewayError).detail['why']).toBe('locked');
  });

  it("a source's GatewayError reaches the reader unchanged", async () => {
    const boom = new GatewayError('PGP_CORRUPT', 'source failed', {});
    expect(await failureOf(sealNative(failingAfterOne(boom), { recipientKey: recipientPub, signingKey: gatewayKey }))).toBe(boom);
  });

  it('reads the source only as fast as its output is read, and closes the source when destroyed', async () => {
    const s1 = endlessSource();
    const read = await readUntil(sealNative(s1.source, { recipientKey: recipientPub, signingKey: gatewayKey }), 4 * 1024 * 1024);
    expect(s1.pulled()).toBeLessThan(read + 4 * PART);
    expect(s1.closed()).toBe(true);
    // Paused: nothing more is pulled while nobody reads.
    const s2 = endlessSource();
    const paused = sealNative(s2.source, { recipientKey: recipientPub, signingKey: gatewayKey });
    paused.once('readable', () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(s2.pulled()).toBeLessThan(4 * PART);
    paused.destroy();
  });

  describe('in worker threads (createSealPool)', () => {
    let pool: SealPool;
    beforeAll(() => { pool = createSealPool(2); });
    afterAll(async () => pool?.close());

    it('six seals at once, each read by gpg (and one by sq) with a good signature', async () => {
      const bodies = [0, 1, PART - LITERAL_HEADER, 3_000_001, 700_000, 64].map((n) => randomBytes(n));
      const files = await Promise.all(bodies.map(async (body, i) => {
        const path = g.path(`pool-${i}.pgp`);
        await pipeline(pool.seal(chunked(body, 65_536), { recipientKey: recipientPub, signingKey: gatewayKey }), createWriteStream(path));
        return path;
      }));
      files.forEach((file, i) => expectGpgGood(file, bodies[i] as Buffer));
      expectSqGood(files[3] as string, bodies[3] as Buffer);
      await expectOpenpgpGood(readFileSync(files[4] as string), bodies[4] as Buffer);
    });

    it('errors reach the reader: a bad recipient key, a failing source', async () => {
      g.gpgOk(['--quick-gen-key', `sign-only-2 <pool-${SIGN_ONLY}>`, 'ed25519', 'sign', 'never']);
      const signOnly = (await loadPublic(g, `<pool-${SIGN_ONLY}>`))[0] as PublicKey;
      const e1 = await failureOf(pool.seal(chunked(Buffer.from('x'), 1), { recipientKey: signOnly, signingKey: gatewayKey }));
      expect(isGatewayError(e1, 'GATEWAY_FAILURE'), String(e1)).toBe(true);
      const boom = new GatewayError('PGP_CORRUPT', 'source failed', {});
      expect(await failureOf(pool.seal(failingAfterOne(boom), { recipientKey: recipientPub, signingKey: gatewayKey }))).toBe(boom);
    });

    it('sealToFile: the thread writes the file (0600, fsynced), its SHA-256 and size match; gpg and sq read it', async () => {
      const bodies = [randomBytes(0), randomBytes(PART - LITERAL_HEADER), randomBytes(5_000_003)];
      const done = await Promise.all(bodies.map(async (body, i) => {
        const path = g.path(`to-file-${i}.pgp`);
        const job = pool.sealToFile(path, { recipientKey: recipientPub, signingKey: gatewayKey });
        // Chunks of our own (transferred) and views of a larger buffer (copied).
        for (let off = 0; off < body.length; off += 300_000) await job.write(off % 600_000 === 0 ? Buffer.from(body.subarray(off, off + 300_000)) : body.subarray(off, off + 300_000));
        return { path, ...(await job.end()) };
      }));
      done.forEach(({ path, sha256, size }, i) => {
        const bytes = readFileSync(path);
        expect(size).toBe(bytes.length);
        expect(sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
        expect(statSync(path).mode & 0o777).toBe(0o600);
        expectGpgGood(path, bodies[i] as Buffer);
      });
      expectSqGood(done[2]!.path, bodies[2] as Buffer);
    });

    it('sealToFile: an existing file is never overwritten, a bad key fails', async () => {
      const existing = g.path('to-file-exists.pgp');
      writeFileSync(existing, 'keep me');
      const job = pool.sealToFile(existing, { recipientKey: recipientPub, signingKey: gatewayKey });
      await job.write(Buffer.from('x')).catch(() => undefined);
      const e1 = await job.end().then(() => new Error('sealed over an existing file'), (e: unknown) => e);
      expect(isGatewayError(e1, 'GATEWAY_FAILURE'), String(e1)).toBe(true);
      expect(readFileSync(existing, 'utf8')).toBe('keep me');

      g.gpgOk(['--quick-gen-key', `sign-only-3 <file-${SIGN_ONLY}>`, 'ed25519', 'sign', 'never']);
      const signOnly = (await loadPublic(g, `<file-${SIGN_ONLY}>`))[0] as PublicKey;
      const bad = pool.sealToFile(g.path('to-file-bad.pgp'), { recipientKey: signOnly, signingKey: gatewayKey });
      const e2 = await bad.write(Buffer.from('x')).then(() => bad.end()).then(() => new Error('sealed to a sign-only key'), (e: unknown) => e);
      expect(isGatewayError(e2, 'GATEWAY_FAILURE'), String(e2)).toBe(true);
    });

    it('a sealing thread that dies fails its jobs; the next jobs get a new thread', async () => {
      const threads: Worker[] = [];
      const own = createSealPool(1, { onWorker: (w) => threads.push(w) });
      try {
        const opts = { recipientKey: recipientPub, signingKey: gatewayKey };
        const job = own.sealToFile(g.path('dies-file.pgp'), opts);
        await job.write(Buffer.from(randomBytes(100_000)));
        const stream = own.seal(endlessSource().source, opts);
        const streamFailure = failureOf(stream);
        await new Promise((r) => setTimeout(r, 100));
        expect(threads).toHaveLength(1);
        await threads[0]?.terminate();
        const e1 = await job.end().then(() => new Error('sealed by a thread that is gone'), (e: unknown) => e);
        expect(isGatewayError(e1, 'GATEWAY_FAILURE'), String(e1)).toBe(true);
        expect(isGatewayError(await streamFailure, 'GATEWAY_FAILURE')).toBe(true);

        const body = randomBytes(300_000);
        const path = g.path('after-death.pgp');
        await pipeline(own.seal(chunked(body, 65_536), opts), createWriteStream(path));
        expectGpgGood(path, body);
        expect(threads).toHaveLength(2);
      } finally {
        await own.close();
      }
    });

    it('reads the source only as fast as its output is read, and closes the source when destroyed', async () => {
      const s1 = endlessSource();
      const read = await readUntil(pool.seal(s1.source, { recipientKey: recipientPub, signingKey: gatewayKey }), 8 * 1024 * 1024);
      expect(s1.closed()).toBe(true);
      // In flight: the worker's credit (4 MiB), the output buffer (1 MiB) and a part.
      expect(s1.pulled()).toBeLessThan(read + 6 * 1024 * 1024);
    });
  });

  it('two seals of the same data differ (fresh session key and prefix) and both verify', async () => {
    const body = randomBytes(10_000);
    const a = await collect(sealNative(chunked(body, 1000), { recipientKey: recipientPub, signingKey: gatewayKey }));
    const b = await collect(sealNative(chunked(body, 1000), { recipientKey: recipientPub, signingKey: gatewayKey }));
    expect(a.equals(b)).toBe(false);
    writeFileSync(g.path('a.pgp'), a);
    expectGpgGood(g.path('a.pgp'), body);
    await expectOpenpgpGood(b, body);
  });
});

describe('PartialPacketWriter, read back by the decrypt side\'s packet reader', () => {
  async function roundTrip(body: Buffer, pushes: number[], exp: number): Promise<{ bytes: Buffer; kind: string; read: Buffer }> {
    const w = new PartialPacketWriter(11, exp);
    const out: Uint8Array[] = [];
    let off = 0;
    for (const n of pushes) { w.push(body.subarray(off, off + n), out); off += n; }
    w.push(body.subarray(off), out);
    w.end(out);
    const bytes = Buffer.concat(out);
    async function* once(): AsyncGenerator<Uint8Array> { yield bytes; }
    const r = new ByteReader(once());
    const h = await readHeader(r);
    if (h === null) throw new Error('no packet');
    const parts: Uint8Array[] = [];
    for await (const c of packetBody(r, h)) parts.push(c);
    expect(await r.atEnd()).toBe(true);
    expect(h.tag).toBe(11);
    return { bytes, kind: h.kind, read: Buffer.concat(parts) };
  }

  for (const size of [0, 1, 191, 192, 511, 512, 513, 1023, 1024, 1025, 8383, 8384, 100_000]) {
    it(`${size} bytes in 512-byte parts`, async () => {
      const body = randomBytes(size);
      const { bytes, kind, read } = await roundTrip(body, [1, 300, 211, 1], 9);
      expect(read.equals(body)).toBe(true);
      expect(kind).toBe(size >= 512 ? 'partial' : 'fixed');
      if (size >= 512) {
        expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0xcb, 224 + 9]));
        // The last length is a fixed one for what is left, 0 when the parts came out even.
        const left = size % 512;
        const tail = fixedLength(left);
        expect(bytes.subarray(bytes.length - left - tail.length, bytes.length - left)).toEqual(Buffer.from(tail));
      }
    });
  }

  it('refuses part sizes RFC 9580 does not allow (first part under 512 bytes, over 2^30)', () => {
    expect(() => new PartialPacketWriter(11, 8)).toThrow(RangeError);
    expect(() => new PartialPacketWriter(11, 31)).toThrow(RangeError);
  });
});

describe('NativeSealer', () => {
  it('refuses input after final and a second final', async () => {
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ email: 'gw@passerelle.test' }], format: 'object', config: { v6Keys: false } });
    const sealer = await NativeSealer.create({ recipientKey: publicKey, signingKey: privateKey });
    const head = sealer.update(Buffer.from('abc'));
    const tail = sealer.final();
    expect(() => sealer.update(Buffer.from('x'))).toThrow();
    expect(() => sealer.final()).toThrow();
    const message = await openpgp.readMessage({ binaryMessage: Buffer.concat([head ?? Buffer.alloc(0), tail]) });
    const { data, signatures } = await openpgp.decrypt({ message, decryptionKeys: privateKey, verificationKeys: publicKey, expectSigned: true, format: 'binary' });
    expect(Buffer.from(data).toString()).toBe('abc');
    expect(await signatures[0]?.verified).toBe(true);
  });
});

describe('sealNative memory', () => {
  /** Peak RSS (MiB) of a child process that seals `mib` MiB to nowhere. */
  function peakRss(mib: number): number {
    const sealUrl = new URL('../../gateway/pgp/seal-native.ts', import.meta.url).href;
    const script = `
      import * as openpgp from 'openpgp';
      import { Writable } from 'node:stream';
      import { pipeline } from 'node:stream/promises';
      import { createHash, randomBytes } from 'node:crypto';
      const { sealNative } = await import(${JSON.stringify(sealUrl)});
      const mk = (email) => openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ email }], format: 'object', config: { v6Keys: false } });
      const [gw, r] = await Promise.all([mk('gw@passerelle.test'), mk('r@recipient.test')]);
      const block = randomBytes(1 << 20);
      async function* source() { for (let i = 0; i < ${mib}; i++) yield block; }
      let bytes = 0;
      await pipeline(sealNative(source(), { recipientKey: r.publicKey, signingKey: gw.privateKey }), new Writable({ write(c, _e, cb) { bytes += c.length; cb(); } }));
      process.stdout.write(JSON.stringify({ bytes, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url).pathname });
    expect(r.status, r.stderr.toString()).toBe(0);
    const out = JSON.parse(r.stdout.toString()) as { bytes: number; maxRssMiB: number };
    expect(out.bytes).toBeGreaterThan(mib * (1 << 20));
    return out.maxRssMiB;
  }

  it('is flat in the size sealed (32 MiB vs 320 MiB in a child process)', () => {
    // Measured here: ≈ 120 MiB for tsx + openpgp.js alone, + ≈ 25 MiB of garbage the GC has not
    // returned yet. Holding the data would add ≈ 290 MiB.
    const small = peakRss(32);
    const large = peakRss(320);
    expect(large - small).toBeLessThan(64);
    expect(large).toBeLessThan(256);
  }, 180_000);
});
