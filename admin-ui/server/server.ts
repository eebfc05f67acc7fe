/**
 * HTTPS listener for the admin app. Loopback only unless `allowRemote` is set; a self-signed
 * certificate (RSA-3072, SHA-256, SAN 127.0.0.1 and localhost) is generated at first start in
 * dataDir/admin, key 0600; its SHA-256 fingerprint is returned for the caller to print and is
 * shown in every page footer.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { isIP, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Application } from 'express';
import forge from 'node-forge';
import { GatewayError } from '../../gateway/errors.js';
import { dataLayout } from '../../gateway/paths.js';

export interface AdminServerOptions {
  readonly app: Application;
  readonly host?: string;
  readonly port: number;
  readonly dataDir: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  /** Bind a non-loopback address: only when the operator says so explicitly. */
  readonly allowRemote?: boolean;
}

export interface AdminServer {
  readonly port: number;
  /** SHA-256 of the certificate (DER), colon-separated upper-case hex, as browsers show it. */
  readonly fingerprint: string;
  /** Where an unusable generated certificate found at start was moved (a new one replaced it). */
  readonly replacedCertificate?: string;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '::ffff:127.0.0.1';
}

/**
 * The certificate's serial number (hex) from 16 random bytes: positive and minimally encoded as
 * DER requires, 126 random bits. The first byte is put in 0x40-0x7f: neither a sign bit nor a
 * leading zero. A leading "0" in front of the random hex used to keep it positive, but node-forge
 * drops only one redundant zero byte, so a random first byte of 0x00 followed by one below 0x80
 * (1 certificate in 512) gave a DER INTEGER that OpenSSL refuses ("illegal padding"): the admin
 * UI then failed to start.
 */
export function certificateSerial(random: Uint8Array): string {
  if (random.length !== 16) throw new RangeError('certificateSerial: 16 random bytes expected');
  const bytes = Buffer.from(random);
  bytes[0] = 0x40 | ((bytes[0] ?? 0) & 0x3f);
  return bytes.toString('hex');
}

/** A self-signed server certificate for 127.0.0.1 and localhost (pure apart from randomness). */
export function makeCertificate(now: Date = new Date(), serialRandom: Uint8Array = randomBytes(16)): { cert: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = certificateSerial(serialRandom);
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + 825 * 86_400_000);
  const name = [{ name: 'commonName', value: 'Passerelle admin (127.0.0.1)' }, { name: 'organizationName', value: 'Passerelle' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }, { type: 2, value: 'localhost' }] },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keyPem };
}

async function readIfThere(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Whether node:crypto (OpenSSL, as the HTTPS server) reads the pair and the key is the certificate's. */
function usablePair(cert: string, key: string): boolean {
  try {
    return new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}

/**
 * The configured certificate, or the generated one in dataDir/admin (made at first start).
 * A generated pair is checked before it is written, and again when read: one that OpenSSL
 * refuses (a serial made before `certificateSerial`, 1 in 512, kept the admin UI from starting
 * at every start, since it was read back each time) is moved aside as `*.unusable` and made
 * anew; `replaced` says so, for the caller's log. A configured pair is the operator's: it is
 * used as it is, and an unreadable one stops the start with OpenSSL's error.
 */
export async function loadOrCreateCertificate(dataDir: string, tlsCert?: string, tlsKey?: string): Promise<{ cert: string; key: string; replaced?: string }> {
  if (tlsCert && tlsKey) return { cert: await readFile(tlsCert, 'utf8'), key: await readFile(tlsKey, 'utf8') };
  const dir = dataLayout(dataDir).admin;
  const certFile = join(dir, 'tls-cert.pem');
  const keyFile = join(dir, 'tls-key.pem');
  const cert = await readIfThere(certFile);
  const key = await readIfThere(keyFile);
  if (cert !== undefined && key !== undefined && usablePair(cert, key)) return { cert, key };
  let replaced: string | undefined;
  if (cert !== undefined || key !== undefined) {
    // Half a pair, or one OpenSSL refuses: kept for the record, out of the way.
    replaced = `${certFile}.unusable`;
    if (cert !== undefined) await rename(certFile, replaced);
    if (key !== undefined) await rename(keyFile, `${keyFile}.unusable`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const made = makeCertificate();
  // Never written unless readable: a pair stored unusable would stop every later start.
  if (!usablePair(made.cert, made.key)) throw new Error('admin certificate: OpenSSL refuses the certificate just made');
  await writeFile(keyFile, made.key, { mode: 0o600, flag: 'wx' });
  await chmod(keyFile, 0o600);
  await writeFile(certFile, made.cert, { mode: 0o644, flag: 'wx' });
  return replaced ? { ...made, replaced } : made;
}

export function certificateFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopback(host) && opts.allowRemote !== true) {
    throw new GatewayError('CONFIG_INVALID', `l'interface d'administration n'écoute que sur la boucle locale (${host} refusé sans allowRemote)`, { setting: 'admin.host', host });
  }
  const { cert, key, replaced } = await loadOrCreateCertificate(opts.dataDir, opts.tlsCert, opts.tlsKey);
  const fingerprint = certificateFingerprint(cert);
  opts.app.locals['fingerprint'] = fingerprint;
  const server = createServer({ cert, key, minVersion: 'TLSv1.2' }, opts.app);
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  server.maxHeadersCount = 50;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    fingerprint,
    ...(replaced ? { replacedCertificate: replaced } : {}),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
