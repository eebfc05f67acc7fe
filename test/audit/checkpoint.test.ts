import { describe, it, expect } from 'vitest';
import { sign } from 'node:crypto';
import { parseCheckpointBody, parseNote, signCheckpoint, verifyCheckpoint } from '../../gateway/audit/checkpoint.js';
import { formatSignerKey, formatVerifierKey, generateSignerKey, parseSignerKey, parseVerifierKey } from '../../gateway/audit/notekey.js';
import { sha256 } from '../../gateway/audit/merkle.js';
import { isGatewayError } from '../../gateway/errors.js';

const reason = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (!isGatewayError(e, 'AUDIT_CHECKPOINT_INVALID')) throw e;
    return String(e.detail['reason'] ?? 'KEY');
  }
};

// The example keys of golang.org/x/mod/sumdb/note (the reference signed-note implementation).
const GO_VERIFIER = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_SIGNER = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_TEXT = 'If you think cryptography is the answer to your problem,\nthen you don\'t know what your problem is.\n';
const GO_SIG = 'x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=';

describe('note keys', () => {
  it('reads the reference implementation\'s example keys: same key id, same public key, same signature', () => {
    const v = parseVerifierKey(GO_VERIFIER);
    const s = parseSignerKey(GO_SIGNER);
    expect(v.keyId.toString('hex')).toBe('c74f20a3');
    expect(s.raw.equals(v.raw)).toBe(true);
    expect(formatVerifierKey(s)).toBe(GO_VERIFIER);
    expect(formatSignerKey(s)).toBe(GO_SIGNER);
    const sig = Buffer.concat([s.keyId, sign(null, Buffer.from(GO_TEXT), s.privateKey)]).toString('base64');
    expect(sig).toBe(GO_SIG);
  });

  it('round-trips a generated key and computes the key id as SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]', () => {
    const k = generateSignerKey('grand-nancy.example/audit');
    const v = parseVerifierKey(formatVerifierKey(k));
    expect(v.keyId.equals(sha256(Buffer.from('grand-nancy.example/audit\n\x01', 'latin1'), k.raw).subarray(0, 4))).toBe(true);
    expect(parseSignerKey(formatSignerKey(k)).raw.equals(k.raw)).toBe(true);
  });

  it.each([
    ['no fields', 'abc'],
    ['bad name', 'a b+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'],
    ['wrong key id', 'PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'],
    ['wrong algorithm', 'PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'],
    ['short key', 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10'],
    ['not base64', 'PeterNeumann+c74f20a3+AR!c2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'],
  ])('refuses a verifier key with %s', (_n, text) => {
    expect(reason(() => parseVerifierKey(text))).not.toBe('ok');
  });
});

describe('checkpoints', () => {
  const key = generateSignerKey('example.org/log');
  const root = sha256(Buffer.from('root'));
  const note = signCheckpoint({ origin: 'example.org/log', size: 12345, root, extensions: [] }, key);

  it('formats the C2SP tlog-checkpoint signed note', () => {
    const lines = note.split('\n');
    expect(lines.slice(0, 4)).toEqual(['example.org/log', '12345', root.toString('base64'), '']);
    expect(lines[4]).toMatch(/^\u2014 example\.org\/log [A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(lines[4]!.split(' ')[2]!, 'base64').length).toBe(68);
    expect(lines[5]).toBe('');
    const c = verifyCheckpoint(note, parseVerifierKey(formatVerifierKey(key)), 'example.org/log');
    expect(c).toMatchObject({ origin: 'example.org/log', size: 12345, extensions: [] });
    expect(c.root.equals(root)).toBe(true);
  });

  it('accepts cosignatures by other keys and extension lines', () => {
    const other = generateSignerKey('witness');
    const body = 'example.org/log\n7\n' + root.toString('base64') + '\nextra line\n';
    const sigLine = (k: typeof key): string => `\u2014 ${k.name} ${Buffer.concat([k.keyId, sign(null, Buffer.from(body), k.privateKey)]).toString('base64')}\n`;
    const text = `${body}\n${sigLine(other)}${sigLine(key)}`;
    expect(verifyCheckpoint(text, key).extensions).toEqual(['extra line']);
    expect(verifyCheckpoint(text, other).size).toBe(7);
  });

  const v = parseVerifierKey(formatVerifierKey(key));
  it.each([
    ['NO_SEPARATOR', note.replace('\n\n', '\n')],
    ['BAD_SIGNATURE_LINE', note.replace('\u2014 ', '- ')],
    ['BAD_SIGNATURE_LINE', note.slice(0, -1)],
    ['BAD_SIZE', note.replace('\n12345\n', '\n012345\n')],
    ['BAD_SIZE', note.replace('\n12345\n', '\n-1\n')],
    ['BAD_SIZE', note.replace('\n12345\n', '\n99999999999999999\n')],
    ['BAD_ROOT', note.replace(root.toString('base64'), root.toString('base64').slice(0, 40))],
    ['SIGNATURE_INVALID', note.replace('\n12345\n', '\n12346\n')],
    ['SIGNATURE_INVALID', note.replace('example.org/log\n', 'example.org/lag\n')],
    ['NO_SIGNATURE_BY_KEY', signCheckpoint({ origin: 'example.org/log', size: 1, root, extensions: [] }, generateSignerKey('example.org/log'))],
    ['TOO_LONG', 'x'.repeat(70_000)],
    ['BAD_EXTENSION', 'example.org/log\n1\n' + root.toString('base64') + '\n\n\n\u2014 a AAAAAAAA\n'],
  ])('refuses a note: %s', (want, text) => {
    expect(reason(() => verifyCheckpoint(text, v))).toBe(want);
  });

  it('refuses another origin when one is expected', () => {
    expect(reason(() => verifyCheckpoint(note, v, 'other'))).toBe('WRONG_ORIGIN');
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(reason(() => parseNote(Buffer.from([0x61, 0x0a, 0x0a, 0xff, 0x0a])))).toBe('NOT_UTF8');
    expect(reason(() => parseCheckpointBody('a\nb\n'))).toBe('NO_SEPARATOR');
  });
});
