/**
 * openpgp.js can stop on some corrupt input without settling anything: no read, no output, no
 * error (test/fixtures/pgp-stall/README.md). openMessage must still give a verdict, and must not
 * take for a stall what is only a slow upload or a slow reader.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import * as openpgp from 'openpgp';
import { consume } from './fixtures.js';
import { openMessage, DEFAULT_MAX_AGE_MS, type OpenOptions } from '../../gateway/pgp/open.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'pgp-stall');
const STALL_MS = 300;

async function options(extra: Partial<OpenOptions> = {}): Promise<OpenOptions> {
  return {
    decryptionKey: await openpgp.readPrivateKey({ armoredKey: readFileSync(join(DIR, 'gateway.sec.asc'), 'utf8') }),
    senderKeys: await openpgp.readKeys({ armoredKeys: readFileSync(join(DIR, 'partner.pub.asc'), 'utf8') }),
    now: new Date(),
    maxAgeMs: DEFAULT_MAX_AGE_MS,
    maxDecompressedBytes: 1 << 20,
    stallMs: STALL_MS,
    ...extra,
  };
}

/**
 * `bytes` in `size`-byte chunks, waiting `pauseMs` before each; `ended` once the reader asked
 * for more after the last chunk, `released` once it let go.
 */
function upload(bytes: Uint8Array, size: number, pauseMs = 0): { input: AsyncIterable<Uint8Array>; state: { released: boolean; ended: boolean } } {
  const state = { released: false, ended: false };
  async function* input(): AsyncGenerator<Uint8Array> {
    try {
      for (let off = 0; off < bytes.length; off += size) {
        if (pauseMs > 0) await sleep(pauseMs);
        yield bytes.subarray(off, off + size);
      }
      state.ended = true;
    } finally {
      state.released = true;
    }
  }
  return { input: input(), state };
}

const stalls = readFileSync(join(DIR, 'stalls-openpgp.pgp'));
const armored = Buffer.from(openpgp.armor(openpgp.enums.armor.message, new Uint8Array(stalls)));

describe('a decryptor that stalls', () => {
  it.each([
    ['armored, openpgp.js engine', armored, 'openpgp'],
    ['binary, openpgp.js engine', stalls, 'openpgp'],
  ] as const)('%s: refused as unreadable, the upload released, the result rejected alike', async (_, bytes, engine) => {
    const { input, state } = upload(bytes, 1024);
    const started = Date.now();
    const out = await consume(input, await options({ engine }));
    expect(out.verdict).toBeUndefined();
    expect(out.code).toBe('PGP_CORRUPT');
    expect((out.error as { detail?: unknown }).detail).toEqual({ stalledMs: STALL_MS });
    // openpgp.js never asked for the end of the input: the stall, not the end, gave the verdict.
    expect(state.ended).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(STALL_MS);
    await sleep(50);
    expect(state.released).toBe(true);
  });

  it.each([
    ['binary', stalls],
    ['armored', armored],
  ] as const)('the native engine reads the same file (%s) to its integrity failure, without a stall', async (_, bytes) => {
    const { input, state } = upload(bytes, 1024);
    const out = await consume(input, await options());
    expect(out.code).toBe('PGP_CORRUPT');
    expect(String(out.error)).toContain('MDC');
    expect((out.error as { detail?: unknown }).detail).not.toHaveProperty('stalledMs');
    await sleep(50);
    expect(state.released).toBe(true);
  });
});

describe('not a stall', () => {
  /** A signed and encrypted message from a fresh signer, and options that register that signer. */
  async function valid(armor: boolean): Promise<{ bytes: Uint8Array; opts: OpenOptions }> {
    const { privateKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ email: 'slow@partner.test' }], format: 'object' });
    const opts = await options({ senderKeys: [privateKey.toPublic()] });
    const message = await openpgp.createMessage({ binary: new Uint8Array(Buffer.from('{"id":"1"}\n'.repeat(4000))) });
    const common = { message, encryptionKeys: opts.decryptionKey.toPublic(), signingKeys: privateKey };
    const bytes = armor ? new Uint8Array(Buffer.from(await openpgp.encrypt({ ...common, format: 'armored' }))) : await openpgp.encrypt({ ...common, format: 'binary' }) as Uint8Array;
    return { bytes, opts };
  }

  it.each([false, true])('an upload that pauses longer than the stall limit before each chunk (armored: %s) is accepted', async (armor) => {
    const { bytes, opts } = await valid(armor);
    const out = await consume(upload(bytes, Math.ceil(bytes.length / 3), STALL_MS * 2).input, opts);
    expect(out.code, String(out.error)).toBeUndefined();
    expect(out.plaintext.length).toBe(4000 * 11);
    expect(out.verdict?.engine).toBe('native');
  });

  it('a reader that pauses longer than the stall limit after each chunk gets all the plaintext and the verdict', async () => {
    const { bytes, opts } = await valid(false);
    const opened = openMessage(upload(bytes, 16384).input, opts);
    let n = 0;
    for await (const c of opened.plaintext) {
      n += c.length;
      await sleep(STALL_MS * 2);
    }
    expect(n).toBe(4000 * 11);
    await expect(opened.result).resolves.toMatchObject({ engine: 'native' });
  });
});
