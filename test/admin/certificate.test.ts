/**
 * The admin UI's self-signed certificate, made at first start: OpenSSL (node:crypto, and so the
 * HTTPS server and browsers) must accept it whatever the random serial. One random serial in
 * 512 used to be refused ("illegal padding"), and the admin UI did not start.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { certificateFingerprint, certificateSerial, loadOrCreateCertificate, makeCertificate } from '../../admin-ui/server/server.js';
import { dataLayout } from '../../gateway/paths.js';

const EDGES: [string, Uint8Array][] = [
  ['all zero', new Uint8Array(16)],
  ['zero then below 0x80 (the old failure)', Uint8Array.of(0x00, 0x01, ...new Array<number>(14).fill(0x21))],
  ['zero then 0x80', Uint8Array.of(0x00, 0x80, ...new Array<number>(14).fill(0x55))],
  ['sign bit set', new Uint8Array(16).fill(0xff)],
  ['0x80 then zeros', Uint8Array.of(0x80, ...new Array<number>(15).fill(0))],
];

describe('admin certificate serial', () => {
  it('is 16 bytes, positive, without a leading zero, whatever the random bytes', () => {
    for (const [, random] of EDGES) {
      const hex = certificateSerial(random);
      expect(hex).toMatch(/^[4-7][0-9a-f]{31}$/);
      expect(hex.slice(2)).toBe(Buffer.from(random).subarray(1).toString('hex'));
    }
    expect(() => certificateSerial(new Uint8Array(15))).toThrow(RangeError);
  });

  it.each(EDGES)('makes a certificate OpenSSL reads, serial %s', (_name, random) => {
    const { cert } = makeCertificate(new Date(), random);
    const x509 = new X509Certificate(cert);
    expect(x509.serialNumber.toLowerCase()).toBe(certificateSerial(random));
    expect(certificateFingerprint(cert)).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(x509.checkHost('localhost')).toBe('localhost');
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
  });
});

/** A certificate as the old code could make it: serial bytes 00 00 01 …, which OpenSSL refuses. */
function refusedCertificate(): { cert: string; key: string } {
  const made = makeCertificate(new Date(), Uint8Array.of(0x00, 0x01, ...new Array<number>(14).fill(0x21)));
  const cert = forge.pki.certificateFromPem(made.cert);
  cert.serialNumber = `0${'00'}${'01'}${'21'.repeat(14)}`;
  cert.sign(forge.pki.privateKeyFromPem(made.key), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: made.key };
}

describe('admin certificate at start', () => {
  const withDataDir = async (fn: (dataDir: string, admin: string) => Promise<void>): Promise<void> => {
    const dataDir = mkdtempSync(join(tmpdir(), 'passerelle-cert-'));
    try {
      await fn(dataDir, dataLayout(dataDir).admin);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  };

  it('is made once (key 0600) and read back the same at the next start', async () => {
    await withDataDir(async (dataDir, admin) => {
      const first = await loadOrCreateCertificate(dataDir);
      expect(first.replaced).toBeUndefined();
      expect(statSync(join(admin, 'tls-key.pem')).mode & 0o777).toBe(0o600);
      const again = await loadOrCreateCertificate(dataDir);
      expect(again.cert).toBe(first.cert);
      expect(again.replaced).toBeUndefined();
    });
  });

  it('one OpenSSL refuses, left by an earlier version, is moved aside and made anew', async () => {
    await withDataDir(async (dataDir, admin) => {
      const bad = refusedCertificate();
      expect(() => new X509Certificate(bad.cert)).toThrow(/illegal padding/);
      mkdirSync(admin, { recursive: true });
      writeFileSync(join(admin, 'tls-cert.pem'), bad.cert);
      writeFileSync(join(admin, 'tls-key.pem'), bad.key, { mode: 0o600 });
      const got = await loadOrCreateCertificate(dataDir);
      expect(got.replaced).toBe(join(admin, 'tls-cert.pem.unusable'));
      expect(readFileSync(join(admin, 'tls-cert.pem.unusable'), 'utf8')).toBe(bad.cert);
      expect(existsSync(join(admin, 'tls-key.pem.unusable'))).toBe(true);
      expect(new X509Certificate(got.cert).checkPrivateKey((await import('node:crypto')).createPrivateKey(got.key))).toBe(true);
      expect(readFileSync(join(admin, 'tls-cert.pem'), 'utf8')).toBe(got.cert);
      expect((await loadOrCreateCertificate(dataDir)).cert).toBe(got.cert);
    });
  });

  it('a certificate without its key (or a key of another certificate) is replaced too', async () => {
    await withDataDir(async (dataDir, admin) => {
      const a = makeCertificate();
      const b = makeCertificate();
      mkdirSync(admin, { recursive: true });
      writeFileSync(join(admin, 'tls-cert.pem'), a.cert);
      writeFileSync(join(admin, 'tls-key.pem'), b.key, { mode: 0o600 });
      const mismatched = await loadOrCreateCertificate(dataDir);
      expect(mismatched.replaced).toBeDefined();
      expect(mismatched.cert).not.toBe(a.cert);
      rmSync(join(admin, 'tls-key.pem'));
      const halfMissing = await loadOrCreateCertificate(dataDir);
      expect(halfMissing.replaced).toBeDefined();
      expect(halfMissing.cert).not.toBe(mismatched.cert);
    });
  });

  it('a configured pair is used as it is, even one OpenSSL refuses (for the operator to fix)', async () => {
    await withDataDir(async (dataDir) => {
      const bad = refusedCertificate();
      const certFile = join(dataDir, 'mine.pem');
      const keyFile = join(dataDir, 'mine.key');
      writeFileSync(certFile, bad.cert);
      writeFileSync(keyFile, bad.key, { mode: 0o600 });
      const got = await loadOrCreateCertificate(dataDir, certFile, keyFile);
      expect(got.cert).toBe(bad.cert);
      expect(existsSync(join(dataLayout(dataDir).admin, 'tls-cert.pem'))).toBe(false);
    });
  });
});
