/** The key policy (security.md invariant 5) and key status, on keys made by GnuPG. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { GnuPG } from './gnupg.js';
import { checkKeyPolicy, fingerprint, keyStatusAt, readPrivateKey, readPublicKeys } from '../../gateway/pgp/keys.js';
import { isGatewayError } from '../../gateway/errors.js';

const DAY = 24 * 3600 * 1000;

describe('OpenPGP keys', () => {
  let g: GnuPG;
  beforeAll(() => {
    g = new GnuPG();
    g.genKey('ed@k.test');
    g.genKey('rsa3072@k.test', { algo: 'rsa3072' });
    g.genKey('rsa2048@k.test', { algo: 'rsa2048' });
    g.genKey('dsa@k.test', { algo: 'dsa' });
    g.genKey('short@k.test', { expire: '2d' });
    g.genKey('revoked@k.test');
    g.revoke(g.fingerprint('revoked@k.test'));
  });
  afterAll(() => g?.cleanup());

  const pub = async (who: string) => (await readPublicKeys(g.exportPublic(`<${who}>`)))[0] ?? (() => { throw new Error(who); })();

  it('fingerprints are upper-case hex, as gpg prints them', async () => {
    expect(fingerprint(await pub('ed@k.test'))).toBe(g.fingerprint('ed@k.test'));
  });

  it('accepts Ed25519/Cv25519 and RSA-3072 without warnings', async () => {
    expect(checkKeyPolicy(await pub('ed@k.test'))).toEqual([]);
    expect(checkKeyPolicy(await pub('rsa3072@k.test'))).toEqual([]);
  });

  it('refuses RSA-2048 unless allowed, then warns once', async () => {
    const k = await pub('rsa2048@k.test');
    expect(() => checkKeyPolicy(k)).toThrow(expect.objectContaining({ code: 'PGP_WEAK_ALGORITHM' }));
    const warnings = checkKeyPolicy(k, { allowRsa2048: true });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(fingerprint(k));
  });

  it('refuses DSA/ElGamal even with allowRsa2048', async () => {
    const k = await pub('dsa@k.test');
    let err: unknown;
    try { checkKeyPolicy(k, { allowRsa2048: true }); } catch (e) { err = e; }
    expect(isGatewayError(err, 'PGP_WEAK_ALGORITHM')).toBe(true);
  });

  it('tells valid, expired and revoked apart at a given time', async () => {
    const short = await pub('short@k.test');
    expect(await keyStatusAt(short, new Date())).toBe('valid');
    expect(await keyStatusAt(short, new Date(Date.now() + 3 * DAY))).toBe('expired');
    expect(await keyStatusAt(await pub('revoked@k.test'), new Date())).toBe('revoked');
    expect(await keyStatusAt(await pub('ed@k.test'), new Date(Date.now() + 365 * DAY))).toBe('valid');
  });

  it('reads an unprotected private key and refuses a passphrase-protected one', async () => {
    const k = await readPrivateKey(g.exportSecret('<ed@k.test>'));
    expect(fingerprint(k)).toBe(g.fingerprint('ed@k.test'));
    g.gpgOk(['--passphrase', 'secret', '--quick-gen-key', 'prot <prot@k.test>', 'ed25519', 'sign', 'never']);
    const prot = g.gpgOk(['--passphrase', 'secret', '--armor', '--export-secret-keys', '<prot@k.test>']).toString();
    await expect(readPrivateKey(prot)).rejects.toMatchObject({ code: 'CONFIG_UNREADABLE' });
    await expect(readPublicKeys('not a key')).rejects.toMatchObject({ code: 'CONFIG_UNREADABLE' });
  });
});
