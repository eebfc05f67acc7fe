/**
 * Mutants of real GnuPG messages through openMessage (security.md, invariants 2 and 6): the
 * native engine parses packet headers, partial body lengths and the decrypted inner packets
 * itself, so every header byte, every truncation point and every flipped bit in the first
 * blocks of ciphertext is tried, fed in 64 KiB and in 7-byte chunks. Each mutant must end in a
 * coded GatewayError (never a TypeError, a RangeError or a hang), and one that is accepted must
 * be a change that does not matter (a key id hint, say): the same signer, the same plaintext.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrivateKey, PublicKey } from 'openpgp';
import { GnuPG } from './gnupg.js';
import { consume, fileStream, loadPrivate, loadPublic, GATEWAY, KEYS_AT, PARTNER_ED, type Outcome } from './fixtures.js';
import { DEFAULT_MAX_AGE_MS, type OpenOptions } from '../../gateway/pgp/open.js';

const HEAD = 400;
const PER_MUTANT_MS = 10_000;

let g: GnuPG;
let body: Buffer;
let gatewayKey: PrivateKey;
let partner: PublicKey[];
let signer: string;
const messages: Record<string, Buffer> = {};

beforeAll(async () => {
  g = new GnuPG();
  for (const who of [GATEWAY, PARTNER_ED]) g.genKey(who, { at: KEYS_AT });
  body = Buffer.concat(Array.from({ length: 300 }, (_, i) => Buffer.from(`{"id":"${i}","payload":"${randomBytes(24).toString('hex')}"}\n`)));
  const make = (extra: string[]): Buffer => g.gpgOk(['--local-user', `<${PARTNER_ED}>`, '--recipient', `<${GATEWAY}>`, ...extra, '--sign', '--encrypt', '--output', '-'], body);
  messages['uncompressed'] = make(['-z', '0']);
  messages['zlib'] = make(['--compress-algo', 'zlib', '-z', '6']);
  gatewayKey = await loadPrivate(g, `<${GATEWAY}>`);
  partner = await loadPublic(g, `<${PARTNER_ED}>`);
  signer = g.fingerprint(PARTNER_ED);
}, 60_000);

afterAll(() => g?.cleanup());

function options(): OpenOptions {
  return { decryptionKey: gatewayKey, senderKeys: partner, now: new Date(), maxAgeMs: DEFAULT_MAX_AGE_MS, maxDecompressedBytes: 1 << 20 };
}

/** Truncations, bit and byte flips over the first HEAD bytes, then every 37th byte. */
function* mutants(msg: Buffer): Generator<{ name: string; bytes: Buffer }> {
  const positions = [...Array(Math.min(HEAD, msg.length)).keys()];
  for (let i = HEAD; i < msg.length; i += 37) positions.push(i);
  for (const i of positions) yield { name: `truncated at ${i}`, bytes: msg.subarray(0, i) };
  for (const i of positions) {
    for (const mask of [0x01, 0x80, 0xff]) {
      const bytes = Buffer.from(msg);
      bytes[i] = (bytes[i] ?? 0) ^ mask;
      yield { name: `byte ${i} ^ 0x${mask.toString(16)}`, bytes };
    }
  }
  // Packet lengths turned into partial body lengths, and into the largest lengths there are.
  for (const i of positions.slice(0, 64)) {
    for (const value of [0xe0, 0xfe, 0xff, 0x00]) {
      const bytes = Buffer.from(msg);
      bytes[i] = value;
      yield { name: `byte ${i} = 0x${value.toString(16)}`, bytes };
    }
  }
}

/**
 * Every failure gets a code (classify.ts falls back to PGP_CORRUPT), so the code alone cannot
 * tell a check that refused the input from a parser that tripped over it: a TypeError or a
 * RangeError anywhere in the causes is the latter. openpgp.js throws one TypeError on purpose,
 * when a packet that may not have partial lengths has one (its packet reader, openpgp.mjs).
 */
const DELIBERATE = /^This packet type does not support partial lengths\.$/;
function programmingError(e: unknown): Error | undefined {
  for (let c = e; c instanceof Error; c = c.cause) {
    if ((c instanceof TypeError || c instanceof RangeError || c instanceof ReferenceError) && !DELIBERATE.test(c.message)) return c;
  }
  return undefined;
}

/** Writes the unmutated message and both keys to a directory that outlives the test; returns it. */
function keepForReplay(kind: string, msg: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), `passerelle-mutants-${kind}-`));
  writeFileSync(join(dir, 'message.pgp'), msg);
  writeFileSync(join(dir, 'gateway.sec.asc'), g.exportSecret(`<${GATEWAY}>`));
  writeFileSync(join(dir, 'partner.pub.asc'), g.exportPublic(`<${PARTNER_ED}>`));
  return dir;
}

async function open(bytes: Buffer, chunk: number): Promise<Outcome | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), PER_MUTANT_MS)));
  try {
    return await Promise.race([consume(fileStream(bytes, chunk), options()), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('mutated GnuPG messages', () => {
  for (const kind of ['uncompressed', 'zlib']) {
    it(`${kind}: every mutant is refused with a code, or accepted unchanged`, async () => {
      const msg = messages[kind] as Buffer;
      // The unmutated message is accepted, in both chunkings: the mutants below mean something.
      for (const chunk of [64 << 10, 7]) {
        const ok = await open(msg, chunk);
        expect(ok !== 'timeout' && ok.verdict?.signer).toBe(signer);
      }
      const problems: string[] = [];
      const codes = new Map<string, number>();
      let accepted = 0;
      let n = 0;
      for (const m of mutants(msg)) {
        // Small chunks for a third of them: header fields split across reads.
        const chunk = n++ % 3 === 0 ? 7 : 64 << 10;
        const out = await open(m.bytes, chunk);
        if (out === 'timeout') problems.push(`${m.name}: no verdict within ${PER_MUTANT_MS} ms`);
        else if (out.verdict) {
          accepted++;
          if (out.verdict.signer !== signer || !out.plaintext.equals(body)) problems.push(`${m.name}: accepted with other content or signer`);
        } else if (out.code === undefined || !/^PGP_[A-Z_]+$/.test(out.code)) problems.push(`${m.name}: ${out.code} ${String(out.error)}`);
        else if (programmingError(out.error)) problems.push(`${m.name}: ${out.code} from ${String(programmingError(out.error))}`);
        else codes.set(out.code, (codes.get(out.code) ?? 0) + 1);
      }
      // The keys are new each run: keep what it takes to replay a failure.
      const kept = problems.length > 0 ? keepForReplay(kind, msg) : '';
      expect(problems.slice(0, 20), `message and keys kept in ${kept}`).toEqual([]);
      // The mutants reach several distinct checks, not one early refusal.
      expect(codes.size).toBeGreaterThanOrEqual(3);
      expect(accepted).toBeLessThan(n / 10);
    }, 600_000);
  }
});
