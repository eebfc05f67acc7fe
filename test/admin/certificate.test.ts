/**
 * The admin UI's self-signed certificate, made at first start: OpenSSL (node:crypto, and so the
 * HTTPS server and browsers) must accept it whatever the random serial. One random serial in
 * 512 used to be refused ("illegal padding"), and the admin UI did not start.
 */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { certificateFingerprint, certificateSerial, makeCertificate } from '../../admin-ui/server/server.js';

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
