/**
 * ASCII armor taken off natively (gateway/pgp/native/armor.ts): every way GnuPG, sq and
 * openpgp.js write it comes out byte for byte, however the upload is cut; each way of breaking
 * it is refused with its own reason, reading no more than it must; and through openMessage an
 * armored upload gets the native engine's verdicts (GnuPG and sq armored files are in
 * corpus.test.ts, run through both engines).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as openpgp from 'openpgp';
import { dearmor, MAX_FRAME_TEXT } from '../../gateway/pgp/native/armor.js';
import { isGatewayError } from '../../gateway/errors.js';
import { consume } from './fixtures.js';
import { DEFAULT_MAX_AGE_MS, type OpenOptions } from '../../gateway/pgp/open.js';

/** `bytes` in `size`-byte chunks, counting the pulls; `ended` once asked for more after the last. */
function source(bytes: Buffer, size: number): { it: AsyncGenerator<Uint8Array>; state: { pulls: number; ended: boolean; released: boolean } } {
  const state = { pulls: 0, ended: false, released: false };
  async function* gen(): AsyncGenerator<Uint8Array> {
    try {
      for (let off = 0; off < bytes.length; off += size) {
        state.pulls++;
        yield bytes.subarray(off, off + size);
      }
      state.ended = true;
    } finally {
      state.released = true;
    }
  }
  return { it: gen(), state };
}

async function unarmor(text: string | Buffer, size = 1 << 16): Promise<{ out?: Buffer; code?: string; message?: string }> {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  const parts: Uint8Array[] = [];
  try {
    for await (const c of dearmor(source(bytes, size).it)) parts.push(c);
    return { out: Buffer.concat(parts) };
  } catch (e) {
    if (!isGatewayError(e)) throw e;
    return { code: e.code, message: e.message };
  }
}

/** Armor written by hand: `width` radix-64 characters a line, `eol` line ends. */
function armorByHand(data: Buffer, o: { width?: number; eol?: string; headers?: readonly string[]; checksum?: string; pad?: boolean; tail?: string } = {}): string {
  const eol = o.eol ?? '\n';
  let b64 = data.toString('base64');
  if (o.pad === false) b64 = b64.replace(/=+$/, '');
  const width = o.width ?? 64;
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += width) lines.push(b64.slice(i, i + width));
  return ['-----BEGIN PGP MESSAGE-----', ...(o.headers ?? []), '', ...lines, ...(o.checksum !== undefined ? [o.checksum] : []), o.tail ?? '-----END PGP MESSAGE-----', ''].join(eol);
}

describe('dearmor: every writer, every cut', () => {
  const sizes = [0, 1, 2, 3, 4, 5, 47, 48, 49, 1000, 100_003];
  const chunkSizes = [1, 3, 64, 1000, 1 << 20];

  it.each(sizes)('openpgp.js armor of %i bytes, with and without its CRC-24, in chunks of 1 B to 1 MiB', async (n) => {
    const data = randomBytes(n);
    for (const checksum of [false, true]) {
      const text = openpgp.armor(openpgp.enums.armor.message, data, undefined, undefined, undefined, checksum);
      for (const size of chunkSizes) {
        const r = await unarmor(text, size);
        expect(r.message).toBeUndefined();
        expect(r.out?.equals(data), `checksum ${String(checksum)}, chunks of ${size}`).toBe(true);
      }
    }
  });

  it.each([
    ['CRLF line ends and GnuPG headers', { eol: '\r\n', headers: ['Version: GnuPG v2', 'Comment: Exporté par le logiciel métier'] }],
    ['lines of 63 characters (quanta across line breaks)', { width: 63 }],
    ['lines of 1 character', { width: 1 }],
    ['no padding', { pad: false }],
    ['spaces and tabs around every line', { eol: ' \t\n  ' }],
    ['a checksum that does not match (read, not checked)', { checksum: '=AAAA' }],
    ['a header without value', { headers: ['Comment:'] }],
  ] as const)('%s', async (_, o) => {
    for (const n of [1, 2, 3, 100, 5000]) {
      const data = randomBytes(n);
      for (const size of chunkSizes) {
        const r = await unarmor(armorByHand(data, o), size);
        expect(r.message).toBeUndefined();
        expect(r.out?.equals(data), `${n} bytes, chunks of ${size}`).toBe(true);
      }
    }
  });

  it('blank lines before the armor and whitespace after it', async () => {
    const data = randomBytes(300);
    const r = await unarmor(`\n  \r\n${armorByHand(data)}\n\n \t\r\n`);
    expect(r.out?.equals(data)).toBe(true);
  });

  it('decodes as the bytes arrive: the first bytes come out after one chunk of input', async () => {
    const data = randomBytes(8 << 20);
    const { it: src, state } = source(Buffer.from(armorByHand(data)), 1 << 16);
    const it = dearmor(src);
    const first = await it.next();
    expect(first.done).toBe(false);
    expect(state.pulls).toBe(1);
    let n = (first.value as Uint8Array).length;
    for await (const c of { [Symbol.asyncIterator]: () => it }) n += c.length;
    expect(n).toBe(data.length);
    expect(state.ended).toBe(true);
  });
});

describe('dearmor: broken armor is refused with its reason', () => {
  const data = randomBytes(200);
  const good = armorByHand(data);
  /** `good` with `by` in place of the radix-64 characters at `offset` of its first data line. */
  const change = (offset: number, by: string): string => {
    const at = good.indexOf('\n\n') + 2 + offset;
    return good.slice(0, at) + by + good.slice(at + by.length);
  };

  it.each([
    ['a character outside radix-64 in the data', change(10, '!'), 'PGP_CORRUPT', 'caractère "!"'],
    ['a dash inside a data line', change(30, '-'), 'PGP_CORRUPT', 'caractère "-"'],
    ['a non-ASCII byte in the data', change(50, 'é'), 'PGP_CORRUPT', 'endommagée'],
    ['padding in the middle of the data', change(42, '=='), 'PGP_MALFORMED', '« = » au milieu'],
    ['the input ends inside the data', good.slice(0, 120), 'PGP_CORRUPT', 'tronqué'],
    ['the input ends inside the headers', '-----BEGIN PGP MESSAGE-----\nVersion: x\n', 'PGP_CORRUPT', 'tronqué'],
    ['the input ends after the padding, before the tail', good.slice(0, good.indexOf('-----END')), 'PGP_CORRUPT', 'tronqué'],
    ['a header line without a colon', good.replace('-----\n\n', '-----\nVersion GnuPG\n\n'), 'PGP_MALFORMED', 'en-tête'],
    ['no blank line after the headers', good.replace('-----\n\n', '-----\n'), 'PGP_MALFORMED', 'en-tête'],
    ['another armor type', good.replace('BEGIN PGP MESSAGE', 'BEGIN PGP MESSAGE, PART 1/2'), 'PGP_MALFORMED', "n'est pas un message"],
    ['a tail of another type', good.replace('END PGP MESSAGE', 'END PGP SIGNATURE'), 'PGP_MALFORMED', 'ligne de fin'],
    ['a malformed checksum line', armorByHand(data, { checksum: '=AB' }), 'PGP_MALFORMED', 'somme de contrôle'],
    ['too much padding', armorByHand(randomBytes(200)).replace('=\n', '==\n'), 'PGP_MALFORMED', 'remplissage'],
    ['a last quantum of one character', armorByHand(randomBytes(199)).replace(/.==\n/, '\n'), 'PGP_MALFORMED', 'remplissage'],
    ['text after the tail', `${good}Envoyé depuis mon ordinateur\n`, 'PGP_MALFORMED', 'suivent la fin'],
    ['a second armored message after the first', good + good, 'PGP_MALFORMED', 'suivent la fin'],
  ] as const)('%s', async (_, text, code, words) => {
    for (const size of [1, 7, 1 << 16]) {
      const r = await unarmor(text, size);
      expect(r.code, `chunks of ${size}: ${String(r.message)}`).toBe(code);
      expect(r.message).toContain(words);
    }
  });

  it('headers that never end are refused after 64 KiB, without reading the rest', async () => {
    const text = Buffer.from('-----BEGIN PGP MESSAGE-----\n' + 'Comment: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'.repeat(1 << 20));
    const { it, state } = source(text, 1 << 12);
    await expect(async () => { for await (const _ of dearmor(it)) { /* nothing comes out */ } }).rejects.toMatchObject({ code: 'PGP_MALFORMED' });
    expect(state.pulls * (1 << 12)).toBeLessThanOrEqual(MAX_FRAME_TEXT + 2 * (1 << 12));
    expect(state.released).toBe(true);
  });

  it('a flood after the tail is refused after 64 KiB, without reading the rest', async () => {
    const text = Buffer.concat([Buffer.from(good), Buffer.alloc(64 << 20, 'x')]);
    const { it, state } = source(text, 1 << 12);
    const r: Uint8Array[] = [];
    await expect(async () => { for await (const c of dearmor(it)) r.push(c); }).rejects.toMatchObject({ code: 'PGP_MALFORMED' });
    expect(Buffer.concat(r).equals(data)).toBe(true);
    expect(state.pulls * (1 << 12)).toBeLessThanOrEqual(good.length + MAX_FRAME_TEXT + 2 * (1 << 12));
    expect(state.released).toBe(true);
  });
});

describe('openMessage on armored uploads', () => {
  const DIR = join(import.meta.dirname, '..', 'fixtures', 'pgp-stall');
  let signer: openpgp.PrivateKey | undefined;

  async function setup(): Promise<{ opts: OpenOptions; seal: (data: Buffer, to?: openpgp.PublicKey) => Promise<Buffer> }> {
    signer ??= (await openpgp.generateKey({ type: 'curve25519', userIDs: [{ email: 'armor@partner.test' }], format: 'object' })).privateKey;
    const key = signer;
    const opts: OpenOptions = {
      decryptionKey: await openpgp.readPrivateKey({ armoredKey: readFileSync(join(DIR, 'gateway.sec.asc'), 'utf8') }),
      senderKeys: [key.toPublic()],
      now: new Date(),
      maxAgeMs: DEFAULT_MAX_AGE_MS,
      maxDecompressedBytes: 8 << 20,
    };
    const seal = async (data: Buffer, to = opts.decryptionKey.toPublic()): Promise<Buffer> => {
      const message = await openpgp.createMessage({ binary: new Uint8Array(data) });
      return Buffer.from(await openpgp.encrypt({ message, encryptionKeys: to, signingKeys: key, format: 'armored' }));
    };
    return { opts, seal };
  }

  it('a good armored message is read by the native engine, in any chunking', async () => {
    const { opts, seal } = await setup();
    const body = randomBytes(300_000);
    const msg = await seal(body);
    for (const size of [13, 4096, 1 << 20]) {
      const out = await consume(source(msg, size).it, opts);
      expect(out.code, String(out.error)).toBeUndefined();
      expect(out.verdict?.engine).toBe('native');
      expect(out.plaintext.equals(body)).toBe(true);
    }
  });

  it('one radix-64 character changed for another: the MDC says corrupt', async () => {
    const { opts, seal } = await setup();
    const msg = (await seal(randomBytes(50_000))).toString('latin1');
    const at = msg.indexOf('\n\n') + 2000;
    const changed = msg.slice(0, at) + (msg[at] === 'A' ? 'B' : 'A') + msg.slice(at + 1);
    const out = await consume(source(Buffer.from(changed, 'latin1'), 4096).it, opts);
    expect(out.code).toBe('PGP_CORRUPT');
    expect(String(out.error)).toContain('MDC');
  });

  it('a character outside radix-64: refused for the armor, before the packets are judged', async () => {
    const { opts, seal } = await setup();
    const msg = (await seal(randomBytes(50_000))).toString('latin1');
    const at = msg.indexOf('\n\n') + 30; // inside the session key packet
    const out = await consume(source(Buffer.from(msg.slice(0, at) + '*' + msg.slice(at + 1), 'latin1'), 4096).it, opts);
    expect(out.code).toBe('PGP_CORRUPT');
    expect(String(out.error)).toContain('armure ASCII endommagée');
  });

  it('text after the armor: PGP_MALFORMED, even though the message inside is good', async () => {
    const { opts, seal } = await setup();
    const msg = Buffer.concat([await seal(randomBytes(10_000)), Buffer.from('--\nEnvoyé par la messagerie\n')]);
    const out = await consume(source(msg, 4096).it, opts);
    expect(out.code).toBe('PGP_MALFORMED');
    expect(String(out.error)).toContain("suivent la fin de l'armure");
  });

  it.each([true, false])('encrypted to another key (armored: %s): refused, and the upload let go without being read to its end', async (armored) => {
    const { opts, seal } = await setup();
    const other = (await openpgp.generateKey({ type: 'curve25519', userIDs: [{ email: 'other@gateway.test' }], format: 'object' })).privateKey;
    let msg = await seal(randomBytes(2 << 20), other.toPublic());
    if (!armored) msg = Buffer.from((await openpgp.unarmor(msg.toString())).data as Uint8Array);
    const { it, state } = source(msg, 1 << 14);
    const out = await consume(it, opts);
    expect(out.code).toBe('PGP_WRONG_RECIPIENT');
    await new Promise((r) => setTimeout(r, 20));
    expect(state.ended).toBe(false);
    expect(state.released).toBe(true);
  });
});
