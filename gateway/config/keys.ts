/**
 * Checks on the key material a configuration names: pinned OpenPGP fingerprints against the
 * key files, SSH public keys that parse, the gateway's private keys (readable, unencrypted,
 * mode 0600 outside demo mode), and demo keys refused outside demo mode.
 * Key contents never appear in a problem: only file names, fingerprints and algorithms.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readKey, readPrivateKey, type Key } from 'openpgp';
import ssh2 from 'ssh2';
import type { ConfigProblem } from './problems.js';
import { parseSignerKeyText } from '../audit/keyfile.js';

const SSH_CLIENT_TYPES = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa']);
const SSH_HOST_TYPES = new Set(['ssh-ed25519', 'ssh-rsa']);

/** Where problems go, and what every check needs to know. */
export interface KeyCheckContext {
  readonly demo: boolean;
  /** Fingerprints of the demo keys (keys-example/DEMO-FINGERPRINTS): PGP hex upper-case, SSH "SHA256:…". */
  readonly demoFingerprints: ReadonlySet<string>;
  readonly problems: ConfigProblem[];
}

export async function loadDemoFingerprints(keysExampleDir: string): Promise<Set<string>> {
  const out = new Set<string>();
  let text: string;
  try {
    text = await readFile(join(keysExampleDir, 'DEMO-FINGERPRINTS'), 'utf8');
  } catch {
    return out; // no list shipped: the DEMO-ONLY marker check still applies
  }
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const fpr = t.split(/\s+/).pop();
    if (fpr) out.add(fpr.startsWith('SHA256:') ? fpr : fpr.toUpperCase());
  }
  return out;
}

/** Whether a `DEMO-ONLY` marker file sits in the directory of `file` or any directory above it. */
export async function isDemoKeyFile(file: string): Promise<boolean> {
  let dir = dirname(await realpath(file).catch(() => file));
  for (;;) {
    if (existsSync(join(dir, 'DEMO-ONLY'))) return true;
    const up = dirname(dir);
    if (up === dir) return false;
    dir = up;
  }
}

/** OpenSSH fingerprint of a public key blob: "SHA256:" + unpadded base64 of its SHA-256. */
export function sshFingerprint(publicBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(publicBlob).digest('base64').replace(/=+$/, '');
}

function problem(ctx: KeyCheckContext, file: string, path: string, text: string, code: ConfigProblem['code'] = 'CONFIG_INVALID'): void {
  ctx.problems.push({ code, file, path, problem: text });
}

/**
 * Key files are small; anything else is refused before it is read: a device such as /dev/zero
 * (read to the end, it would fill memory), a directory, a certificate flooded with signatures.
 */
export const MAX_KEY_FILE_BYTES = 1 << 20;

async function readText(ctx: KeyCheckContext, abs: string, cfgFile: string, path: string): Promise<string | undefined> {
  try {
    const st = await stat(abs);
    if (!st.isFile()) {
      problem(ctx, cfgFile, path, `pas un fichier ordinaire : ${abs}`, 'CONFIG_UNREADABLE');
      return undefined;
    }
    if (st.size > MAX_KEY_FILE_BYTES) {
      problem(ctx, cfgFile, path, `fichier trop grand pour une clé (${st.size} octets, ${MAX_KEY_FILE_BYTES} au plus) : ${abs}`);
      return undefined;
    }
    return await readFile(abs, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'fichier introuvable' : 'fichier illisible';
    problem(ctx, cfgFile, path, `${why} : ${abs}`, 'CONFIG_UNREADABLE');
    return undefined;
  }
}

/** Outside demo mode: refuse a key file under a DEMO-ONLY marker, or whose fingerprint is a demo one. */
async function refuseDemo(ctx: KeyCheckContext, abs: string | undefined, fingerprint: string | undefined, cfgFile: string, path: string): Promise<void> {
  if (ctx.demo) return;
  if (abs !== undefined && (await isDemoKeyFile(abs))) {
    problem(ctx, cfgFile, path, `clé de démonstration (marqueur DEMO-ONLY) refusée hors mode démo : ${abs}`, 'DEMO_KEY_REFUSED');
  } else if (fingerprint !== undefined && ctx.demoFingerprints.has(fingerprint)) {
    problem(ctx, cfgFile, path, `clé de démonstration (empreinte ${fingerprint} listée dans keys-example/DEMO-FINGERPRINTS) refusée hors mode démo`, 'DEMO_KEY_REFUSED');
  }
}

/** Outside demo mode a private key file must not be readable by group or others (0600 or stricter). */
async function checkPrivateMode(ctx: KeyCheckContext, abs: string, cfgFile: string, path: string): Promise<void> {
  if (ctx.demo) return;
  const mode = (await stat(abs)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    problem(ctx, cfgFile, path, `clé privée accessible à d'autres que son propriétaire (mode ${mode.toString(8).padStart(4, '0')}, 0600 exigé) : ${abs}`, 'KEY_PERMISSIONS');
  }
}

function pgpAlgorithmProblem(key: Key, allowRsa2048: boolean): string | undefined {
  const info = key.getAlgorithmInfo();
  const alg = String(info.algorithm);
  if (alg.startsWith('rsa')) {
    const bits = info.bits ?? 0;
    if (bits >= 3072) return undefined;
    if (bits >= 2048 && allowRsa2048) return undefined;
    return `clé RSA de ${bits} bits refusée (3072 minimum${bits >= 2048 ? ', ou allowRsa2048' : ''})`;
  }
  if (alg === 'dsa' || alg === 'elgamal') return `algorithme ${alg} refusé`;
  return undefined;
}

/**
 * A partner's or recipient's pinned OpenPGP public key: the file holds one public key whose
 * primary fingerprint is the pinned one, of an allowed algorithm, usable for `use`.
 */
export async function checkPgpRef(
  ctx: KeyCheckContext,
  ref: { file: string; fingerprint: string; allowRsa2048?: boolean },
  abs: string,
  use: 'sign' | 'encrypt',
  cfgFile: string,
  path: string,
): Promise<void> {
  const pinned = ref.fingerprint.toUpperCase();
  await refuseDemo(ctx, existsSync(abs) ? abs : undefined, pinned, cfgFile, `${path}/file`);
  const text = await readText(ctx, abs, cfgFile, `${path}/file`);
  if (text === undefined) return;
  let key: Key;
  try {
    key = await readKey({ armoredKey: text });
  } catch (e) {
    problem(ctx, cfgFile, `${path}/file`, `clé OpenPGP illisible (${e instanceof Error ? e.message : String(e)}) : ${abs}`, 'CONFIG_UNREADABLE');
    return;
  }
  if (key.isPrivate()) {
    problem(ctx, cfgFile, `${path}/file`, `le fichier contient une clé privée, une clé publique est attendue : ${abs}`);
    return;
  }
  const actual = key.getFingerprint().toUpperCase();
  if (actual !== pinned) {
    problem(ctx, cfgFile, `${path}/fingerprint`, `l'empreinte épinglée ${pinned} ne correspond pas à la clé du fichier (${actual})`);
    return;
  }
  const weak = pgpAlgorithmProblem(key, ref.allowRsa2048 === true);
  if (weak) problem(ctx, cfgFile, `${path}/file`, weak);
  try {
    if (use === 'encrypt') await key.getEncryptionKey();
    else await key.getSigningKey();
  } catch {
    problem(ctx, cfgFile, `${path}/file`, `la clé ${actual} n'a pas de clé valide pour ${use === 'encrypt' ? 'chiffrer' : 'signer'} (expirée, révoquée ou absente)`);
  }
}

/** The base64 key blob of an OpenSSH public key line: the key itself, without type or comment. */
export function sshKeyBlob(line: string): string {
  return line.trim().split(/\s+/)[1] ?? '';
}

/** Parses one OpenSSH public key line; returns the normalized line or a problem text. */
function parseSshLine(line: string): { line: string; fingerprint: string } | string {
  const parsed = ssh2.utils.parseKey(line);
  if (parsed instanceof Error) return `clé SSH illisible (${parsed.message})`;
  if (Array.isArray(parsed)) return 'une seule clé SSH par ligne';
  if (parsed.isPrivateKey()) return 'clé SSH privée : une clé publique est attendue';
  if (!SSH_CLIENT_TYPES.has(parsed.type)) return `type de clé SSH refusé : ${parsed.type}`;
  return { line: line.trim(), fingerprint: sshFingerprint(parsed.getPublicSSH()) };
}

/** A party's SSH keys: inline lines and files (one key per line, # comments), resolved to lines. */
export async function resolveSshKeys(
  ctx: KeyCheckContext,
  entries: readonly (string | { file: string })[],
  resolvePath: (rel: string) => string,
  cfgFile: string,
  path: string,
): Promise<string[]> {
  const out: string[] = [];
  for (const [i, entry] of entries.entries()) {
    const at = `${path}/${i}`;
    let lines: string[];
    let abs: string | undefined;
    if (typeof entry === 'string') {
      lines = [entry];
    } else {
      abs = resolvePath(entry.file);
      const text = await readText(ctx, abs, cfgFile, `${at}/file`);
      if (text === undefined) continue;
      lines = text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
      if (lines.length === 0) problem(ctx, cfgFile, `${at}/file`, `aucune clé SSH dans ${abs}`);
    }
    for (const l of lines) {
      const r = parseSshLine(l);
      if (typeof r === 'string') {
        problem(ctx, cfgFile, abs ? `${at}/file` : at, abs ? `${r} : ${abs}` : r);
        continue;
      }
      await refuseDemo(ctx, abs, r.fingerprint, cfgFile, abs ? `${at}/file` : at);
      if (!out.some((o) => sshKeyBlob(o) === sshKeyBlob(r.line))) out.push(r.line); // same key listed twice: once is enough
    }
  }
  return out;
}

/** The gateway's own keys: SSH host key, OpenPGP secret + public key, checkpoint key. */
export async function checkGatewayKeys(
  ctx: KeyCheckContext,
  keys: { sshHostKey: string; pgpSecretKey: string; pgpPublicKey: string; checkpointKey?: string },
  resolvePath: (rel: string) => string,
  cfgFile: string,
): Promise<void> {
  const base = '/settings/keys';
  // SSH host key
  const hostAbs = resolvePath(keys.sshHostKey);
  const hostText = await readText(ctx, hostAbs, cfgFile, `${base}/sshHostKey`);
  if (hostText !== undefined) {
    const parsed = ssh2.utils.parseKey(hostText);
    if (parsed instanceof Error || Array.isArray(parsed) || !parsed.isPrivateKey()) {
      problem(ctx, cfgFile, `${base}/sshHostKey`, `clé d'hôte SSH privée illisible ou chiffrée : ${hostAbs}`, 'CONFIG_UNREADABLE');
    } else {
      if (!SSH_HOST_TYPES.has(parsed.type)) problem(ctx, cfgFile, `${base}/sshHostKey`, `type de clé d'hôte refusé : ${parsed.type}`);
      await refuseDemo(ctx, hostAbs, sshFingerprint(parsed.getPublicSSH()), cfgFile, `${base}/sshHostKey`);
      await checkPrivateMode(ctx, hostAbs, cfgFile, `${base}/sshHostKey`);
    }
  }
  // OpenPGP secret key: unencrypted (the gateway signs and decrypts unattended), and the public file matches it
  const secAbs = resolvePath(keys.pgpSecretKey);
  const secText = await readText(ctx, secAbs, cfgFile, `${base}/pgpSecretKey`);
  let secFpr: string | undefined;
  if (secText !== undefined) {
    try {
      const sec = await readPrivateKey({ armoredKey: secText });
      secFpr = sec.getFingerprint().toUpperCase();
      if (!sec.isDecrypted()) problem(ctx, cfgFile, `${base}/pgpSecretKey`, `la clé OpenPGP secrète est protégée par une phrase de passe : ${secAbs}`);
      const weak = pgpAlgorithmProblem(sec, false);
      if (weak) problem(ctx, cfgFile, `${base}/pgpSecretKey`, weak);
      await refuseDemo(ctx, secAbs, secFpr, cfgFile, `${base}/pgpSecretKey`);
      await checkPrivateMode(ctx, secAbs, cfgFile, `${base}/pgpSecretKey`);
    } catch (e) {
      problem(ctx, cfgFile, `${base}/pgpSecretKey`, `clé OpenPGP secrète illisible (${e instanceof Error ? e.message : String(e)}) : ${secAbs}`, 'CONFIG_UNREADABLE');
    }
  }
  const pubAbs = resolvePath(keys.pgpPublicKey);
  const pubText = await readText(ctx, pubAbs, cfgFile, `${base}/pgpPublicKey`);
  if (pubText !== undefined) {
    try {
      const pub = await readKey({ armoredKey: pubText });
      const fpr = pub.getFingerprint().toUpperCase();
      if (pub.isPrivate()) problem(ctx, cfgFile, `${base}/pgpPublicKey`, `le fichier contient une clé privée, une clé publique est attendue : ${pubAbs}`);
      else if (secFpr !== undefined && fpr !== secFpr) problem(ctx, cfgFile, `${base}/pgpPublicKey`, `la clé publique (${fpr}) n'est pas celle de la clé secrète (${secFpr})`);
    } catch (e) {
      problem(ctx, cfgFile, `${base}/pgpPublicKey`, `clé OpenPGP publique illisible (${e instanceof Error ? e.message : String(e)}) : ${pubAbs}`, 'CONFIG_UNREADABLE');
    }
  }
  // Checkpoint key: its format belongs to the audit module, which creates it at first start.
  if (keys.checkpointKey !== undefined) await checkOptionalKeyFile(ctx, resolvePath(keys.checkpointKey), cfgFile, `${base}/checkpointKey`, 'checkpoint-key');
}

/**
 * A private key whose format belongs to another module and that may not exist yet (checkpoint
 * key, admin TLS key: generated at first start): when present, not a demo key outside demo
 * mode, and mode 0600.
 */
/**
 * A key file the gateway creates at first start when it is absent (the checkpoint key, the admin
 * UI's TLS key and certificate): if present, it must parse (`parse` throws otherwise) and, when
 * private, pass the demo and permission checks.
 */
export async function checkOptionalKeyFile(ctx: KeyCheckContext, abs: string, cfgFile: string, path: string, kind: 'checkpoint-key' | 'tls-key' | 'tls-cert'): Promise<void> {
  if (!existsSync(abs)) return;
  const text = await readText(ctx, abs, cfgFile, path);
  if (text === undefined) return;
  try {
    if (kind === 'checkpoint-key') parseSignerKeyText(text);
    else if (kind === 'tls-key') createPrivateKey(text);
    else new X509Certificate(text);
  } catch {
    const what = kind === 'checkpoint-key' ? 'clé de checkpoint (format signed note)' : kind === 'tls-key' ? 'clé privée TLS (PEM)' : 'certificat TLS (PEM)';
    problem(ctx, cfgFile, path, `${what} illisible : ${abs}`, 'CONFIG_UNREADABLE');
    return;
  }
  if (kind === 'tls-cert') return;
  await refuseDemo(ctx, abs, undefined, cfgFile, path);
  await checkPrivateMode(ctx, abs, cfgFile, path);
}
