/**
 * The partner onboarding kit (pure): everything a partner's IT needs to send its first file,
 * made from values the caller read from the configuration and the gateway's public keys.
 *
 *   known_hosts          the gateway's SSH host key, for StrictHostKeyChecking
 *   passerelle.pub.asc   the gateway's OpenPGP public key (encrypt to it)
 *   EMPREINTES.txt       fingerprints to confirm with the operator out of band
 *   envoyer.sh           sign + encrypt with gpg, upload with `sftp -b`, fetch the receipt
 *   README.md            the short guide, in French (English summary at the end)
 */
import { GatewayError } from '../errors.js';
import { sendScript } from './script.js';
import { kitReadme } from './readme.js';

export interface KitDataset {
  readonly id: string;
  readonly title: string;
  /** e.g. "CSV, séparateur ;" — a short human description of the expected format. */
  readonly format: string;
}

export interface KitInput {
  readonly partnerId: string;
  readonly partnerName: string;
  /** Host name or address the partner connects to, and the SFTP port. */
  readonly host: string;
  readonly port: number;
  /** The gateway's SSH host public key: algorithm and base64 blob. */
  readonly hostKey: { readonly type: string; readonly base64: string; readonly fingerprint: string };
  /** Armored OpenPGP public key of the gateway, and its primary fingerprint (upper-case hex). */
  readonly gatewayPgpArmored: string;
  readonly gatewayPgpFingerprint: string;
  /** Fingerprints of the partner's registered OpenPGP keys (the first one signs by default). */
  readonly partnerPgpFingerprints: readonly string[];
  /** Datasets the partner may send under a convention in force. */
  readonly datasets: readonly KitDataset[];
  readonly generatedAt: Date;
}

export interface KitFile {
  readonly name: string;
  readonly content: string;
  readonly mode: number;
}

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})?)*|[0-9A-Fa-f:.]+)$/;
const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const FPR = /^[0-9A-F]{40}(?:[0-9A-F]{24})?$/;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Everything interpolated into the shell script and the known_hosts line goes through these
 * checks first, so nothing in a kit can break out of its quoting.
 */
export function checkKitInput(k: KitInput): void {
  const bad = (what: string, value: unknown) => {
    throw new GatewayError('CONFIG_INVALID', `kit partenaire : ${what} invalide / partner kit: invalid ${what}`, { value: String(value) });
  };
  if (!HOST.test(k.host) || k.host.length > 253) bad('hôte', k.host);
  // A listen-on-every-interface address is no address a partner can reach: ask for --host.
  if (k.host === '0.0.0.0' || k.host === '::') bad('hôte (adresse d\'écoute générique : préciser --host)', k.host);
  if (!Number.isInteger(k.port) || k.port < 1 || k.port > 65535) bad('port', k.port);
  if (!ID.test(k.partnerId)) bad('identifiant', k.partnerId);
  if (!/^ssh-[a-z0-9-]+$|^ecdsa-sha2-nistp\d+$/.test(k.hostKey.type) || !B64.test(k.hostKey.base64)) bad('clé d\'hôte', k.hostKey.type);
  if (!FPR.test(k.gatewayPgpFingerprint)) bad('empreinte OpenPGP de la passerelle', k.gatewayPgpFingerprint);
  if (k.partnerPgpFingerprints.length === 0) bad('clé OpenPGP du partenaire (aucune)', '');
  for (const f of k.partnerPgpFingerprints) if (!FPR.test(f)) bad('empreinte OpenPGP du partenaire', f);
  if (k.datasets.length === 0) bad('jeu de données (aucune convention en vigueur)', k.partnerId);
  for (const d of k.datasets) if (!ID.test(d.id)) bad('jeu de données', d.id);
}

/** The host pattern OpenSSH writes: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function knownHostsLine(k: Pick<KitInput, 'host' | 'port' | 'hostKey'>): string {
  return `${knownHostsPattern(k.host, k.port)} ${k.hostKey.type} ${k.hostKey.base64}`;
}

/** `ABCD 1234 …`: the grouping GnuPG prints, easier to read over the phone. */
export function groupFingerprint(fpr: string): string {
  return (fpr.match(/.{1,4}/g) ?? []).join(' ');
}

function fingerprintsText(k: KitInput): string {
  return [
    `# Passerelle — empreintes à confirmer auprès de l'exploitant (par téléphone ou en personne)`,
    `# Passerelle — fingerprints to confirm with the operator out of band`,
    '',
    `Clé d'hôte SSH de la passerelle (${k.hostKey.type}) : ${k.hostKey.fingerprint}`,
    `Clé OpenPGP de la passerelle (chiffrer pour) :      ${groupFingerprint(k.gatewayPgpFingerprint)}`,
    ...k.partnerPgpFingerprints.map((f, i) => `Votre clé OpenPGP enregistrée ${i === 0 ? '(signature)' : `n° ${i + 1}`} :    ${groupFingerprint(f)}`),
    '',
  ].join('\n');
}

export function buildKit(k: KitInput): KitFile[] {
  checkKitInput(k);
  return [
    { name: 'known_hosts', content: knownHostsLine(k) + '\n', mode: 0o644 },
    { name: 'passerelle.pub.asc', content: k.gatewayPgpArmored.endsWith('\n') ? k.gatewayPgpArmored : k.gatewayPgpArmored + '\n', mode: 0o644 },
    { name: 'EMPREINTES.txt', content: fingerprintsText(k), mode: 0o644 },
    { name: 'envoyer.sh', content: sendScript(k), mode: 0o755 },
    { name: 'README.md', content: kitReadme(k), mode: 0o644 },
  ];
}
