/**
 * A running admin UI over a small Grand Nancy-like configuration (real OpenPGP key files, one
 * expiring within 60 days), an ArrayAuditData trail seeded with uploads, deliveries and hostile
 * strings, demo accounts, and an HTTPS client that keeps cookies.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey } from 'openpgp';
import { generate } from 'otplib';
import { createAdminApp, startAdminServer, type AdminServer } from '../../admin-ui/server/app.js';
import { createAdminData, type AuditReader } from '../../admin-ui/server/data.js';
import type { ThrottlePolicy } from '../../admin-ui/server/throttle.js';
import { createDemoAccounts, openUserStore, type DemoAccount, type UserStore } from '../../admin-ui/server/users.js';
import type { AuditEvent, AuditSink } from '../../gateway/audit/events.js';
import { openAuditLog, type AuditLog } from '../../gateway/audit/log.js';
import { parseVerifierKey } from '../../gateway/audit/notekey.js';
import { openSqliteAuditStore } from '../../gateway/audit/store.js';
import { verifyAuditStore } from '../../gateway/audit/verify.js';
import { auditLogReader } from '../../admin-ui/server/audit-adapter.js';
import type { ConfigSource, Convention, GatewayConfig, Partner, Recipient } from '../../gateway/config/model.js';
import { newId } from '../../gateway/ids.js';
import { silentLogger } from '../../gateway/log.js';
import { ArrayAuditData } from './array-audit.js';

export const XSS = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'';

async function pgp(dir: string, id: string, expiresInDays?: number) {
  const k = await generateKey({ type: 'curve25519', userIDs: [{ name: id }], format: 'object', ...(expiresInDays ? { keyExpirationTime: expiresInDays * 86_400 } : {}) });
  const file = `${id}.pub.asc`;
  await writeFile(join(dir, file), k.publicKey.armor());
  return { file, fingerprint: k.publicKey.getFingerprint().toUpperCase() };
}

const SSH = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test';

export async function makeConfig(dir: string): Promise<GatewayConfig> {
  const partner = (id: string, name: string, key: { file: string; fingerprint: string }, territory: string[]): Partner => ({ kind: 'partner', id, name, sshKeys: [SSH], territory, pgpKeys: [key] });
  const recipient = (id: string, name: string, key: { file: string; fingerprint: string }, territory: string[]): Recipient => ({ kind: 'recipient', id, name, sshKeys: [SSH], territory, pgpKey: key, outbox: { deleteAllowed: true } });
  const partners = [
    partner('police-nationale', 'Police nationale', await pgp(dir, 'police-nationale'), ['54395', '54328']),
    partner('police-municipale-ludres', `Police municipale de Ludres ${XSS}`, await pgp(dir, 'police-municipale-ludres', 30), ['54328']),
  ];
  const recipients = [
    recipient('ludres', 'Ludres', await pgp(dir, 'ludres'), ['54328']),
    recipient('observatoire', 'Observatoire de la sécurité', await pgp(dir, 'observatoire'), ['54395', '54328']),
  ];
  const conventions: Convention[] = [
    {
      id: 'conv-ludres-2026', title: 'Convention d’échange de données — Ludres', legalReference: 'Délibération n° 2010/03-12 du conseil municipal de Ludres',
      signedOn: '2026-01-15', validFrom: '2026-01-01', validTo: '2028-12-31', purpose: `Observation de la délinquance ${XSS}`,
      dataCategories: ['faits constatés', 'main courante'], retentionDays: 365, validation: 'all_or_nothing',
      senders: [{ party: 'police-nationale', datasets: ['faits-4001'] }, { party: 'police-municipale-ludres', datasets: ['main-courante-pm'] }],
      recipients: [{ party: 'ludres', datasets: ['faits-4001', 'main-courante-pm'] }, { party: 'observatoire', datasets: ['faits-4001', 'main-courante-pm'] }],
    },
  ];
  const datasets = new Map([
    ['faits-4001', { id: 'faits-4001', title: 'Faits constatés (état 4001)', format: { kind: 'ndjson' as const, maxLineBytes: 65536 }, schema: 'datasets/faits-4001.schema.json', idField: 'id', inseeOptional: false }],
    ['main-courante-pm', { id: 'main-courante-pm', title: 'Main courante de police municipale', format: { kind: 'ndjson' as const, maxLineBytes: 65536 }, schema: 'datasets/main-courante-pm.schema.json', idField: 'id', inseeOptional: false }],
  ]);
  return {
    file: join(dir, 'passerelle.json'), dir,
    settings: {} as GatewayConfig['settings'], // the admin UI reads no gateway settings
    datasets, partners: new Map(partners.map((p) => [p.id, p])), recipients: new Map(recipients.map((r) => [r.id, r])), conventions,
  };
}

export function staticConfig(c: GatewayConfig): ConfigSource {
  return { current: () => c, onChange: () => () => undefined };
}

/** Seeds one accepted upload (with two deliveries, one downloaded), one rejected with hostile strings. */
export type Adder = (event: AuditEvent, time: string) => Promise<unknown>;

export async function seedWith(add: Adder, now: Date): Promise<{ accepted: string; rejected: string }> {
  const t = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * 60_000).toISOString();
  const accepted = newId(now.getTime() - 3_600_000);
  const rejected = newId(now.getTime() - 1_500_000 - 5_000);
  const pn = { id: 'police-nationale', kind: 'partner' as const, source: '192.0.2.10:50022' };
  await add({ type: 'ssh.auth', actor: pn, outcome: 'success', refs: { key: 'SHA256:abc' } }, t(62));
  await add({ type: 'sftp.upload.committed', actor: pn, outcome: 'success', refs: { uploadId: accepted, sha256: 'ab'.repeat(32) }, details: { bytes: 1234, fileName: 'export-2026.pgp' } }, t(61));
  await add({ type: 'upload.verified', actor: pn, outcome: 'success', refs: { uploadId: accepted }, details: { signer: 'F'.repeat(40) } }, t(61));
  await add({ type: 'upload.validated', actor: pn, outcome: 'success', refs: { uploadId: accepted }, details: { records: 12 } }, t(61));
  await add({ type: 'upload.accepted', actor: pn, outcome: 'success', refs: { uploadId: accepted }, details: { dataset: 'faits-4001', records: 12 } }, t(60));
  const d1 = newId(now.getTime() - 3_590_000);
  const d2 = newId(now.getTime() - 3_580_000);
  await add({ type: 'delivery.published', actor: { id: 'gateway', kind: 'gateway' }, outcome: 'success', refs: { uploadId: accepted, deliveryId: d1, recipient: 'ludres' }, details: { dataset: 'faits-4001', records: 5, file: `${accepted}-faits-4001.ndjson.pgp` } }, t(60));
  await add({ type: 'delivery.published', actor: { id: 'gateway', kind: 'gateway' }, outcome: 'success', refs: { uploadId: accepted, deliveryId: d2, recipient: 'observatoire' }, details: { dataset: 'faits-4001', records: 12, file: `${accepted}-faits-4001.ndjson.pgp` } }, t(60));
  await add({ type: 'delivery.downloaded', actor: { id: 'ludres', kind: 'recipient', source: '192.0.2.20:40000' }, outcome: 'success', refs: { file: `${accepted}-faits-4001.ndjson.pgp`, dataset: 'faits-4001' }, details: { complete: true, bytes: 900, bytesRead: 900 } }, t(30));
  // A partial read of the other delivery: not an acknowledgement.
  await add({ type: 'delivery.downloaded', actor: { id: 'observatoire', kind: 'recipient', source: '192.0.2.21:40001' }, outcome: 'info', refs: { file: `${accepted}-faits-4001.ndjson.pgp`, dataset: 'faits-4001' }, details: { complete: false, bytes: 2000, bytesRead: 100 } }, t(20));
  const pm = { id: 'police-municipale-ludres', kind: 'partner' as const, source: '192.0.2.11:50023' };
  // As sftp/ writes it: the upload id under refs.upload.
  await add({ type: 'sftp.upload.committed', actor: pm, outcome: 'success', refs: { upload: rejected, dataset: 'main-courante-pm' }, details: { bytes: 100, clientName: `${XSS}.pgp` } }, t(25));
  await add({ type: 'upload.rejected', actor: pm, outcome: 'failure', refs: { uploadId: rejected }, details: { reason: 'SCHEMA_INVALID', message: `champ ${XSS} invalide`, value: XSS } }, t(25));
  return { accepted, rejected };
}

export async function seed(audit: ArrayAuditData, now: Date): Promise<{ accepted: string; rejected: string }> {
  const ids = await seedWith(async (e, t) => audit.add(e, t), now);
  audit.sign();
  return ids;
}

export interface Fixture {
  readonly url: string;
  readonly server: AdminServer;
  /** The array trail (backend 'array'; unused with 'auditlog'). */
  readonly audit: ArrayAuditData;
  /** The gateway's AuditLog (backend 'auditlog'). */
  readonly auditLog: AuditLog | null;
  readonly users: UserStore;
  readonly accounts: Record<'admin' | 'dpo', LoginAccount>;
  readonly uploads: { accepted: string; rejected: string };
  readonly dataDir: string;
  /** Moves the app's clock forward (session lifetime, lock-out windows). */
  advance(ms: number): void;
  close(): Promise<void>;
}

/** The UI over the gateway's real AuditLog (SQLite, signed checkpoints), seeded at fixed times. */
async function realAuditLog(dir: string): Promise<{ sink: AuditSink; reader: AuditReader; log: AuditLog; uploads: { accepted: string; rejected: string } }> {
  let clock: Date | null = null;
  const log = await openAuditLog({ dir, origin: 'passerelle.test/audit', checkpointKeyFile: join(dir, 'checkpoint.key'), checkpointIntervalMs: 3_600_000, log: silentLogger(), now: () => clock ?? new Date() });
  const uploads = await seedWith(async (e, t) => {
    clock = new Date(t);
    await log.append(e);
  }, new Date());
  clock = null;
  await log.checkpoint();
  const key = parseVerifierKey(log.verifierKey!);
  const store = openSqliteAuditStore(dir, { readonly: true });
  const reader = auditLogReader({ log, verifierKey: log.verifierKey!, verify: () => verifyAuditStore(store, { key }), verifyEveryMs: 0 });
  return { sink: log, reader, log: { ...log, close: async () => { await log.close(); await store.close(); } } as AuditLog, uploads };
}

export async function startFixture(options: { throttle?: ThrottlePolicy; backend?: 'array' | 'auditlog' } = {}): Promise<Fixture> {
  const dataDir = await mkdtemp(join(tmpdir(), 'passerelle-admin-'));
  const confDir = await mkdtemp(join(tmpdir(), 'passerelle-admin-conf-'));
  const config = staticConfig(await makeConfig(confDir));
  const audit = new ArrayAuditData();
  let sink: AuditSink = audit;
  let reader: AuditReader = audit;
  let auditLog: AuditLog | null = null;
  let uploads: { accepted: string; rejected: string };
  if (options.backend === 'auditlog') {
    const real = await realAuditLog(join(dataDir, 'audit'));
    ({ sink, reader, uploads } = real);
    auditLog = real.log;
  } else uploads = await seed(audit, new Date());
  const users = await openUserStore(join(dataDir, 'admin'), { requireTotp: true });
  const demo = await createDemoAccounts(users);
  const data = createAdminData({ config, audit: reader });
  // A TOTP code is accepted once: each login moves the app's clock one 30 s step ahead so that
  // tests can sign in many times without waiting for the next real step.
  let skewMs = 0;
  const now = () => new Date(Date.now() + skewMs);
  const withCode = (a: DemoAccount): LoginAccount => ({
    ...a,
    async nextCode() {
      skewMs += 30_000;
      return generate({ secret: a.totpSecret, epoch: Math.floor(now().getTime() / 1000) });
    },
  });
  const app = createAdminApp({ data, audit: sink, users, config, demo: true, log: silentLogger(), now, ...(options.throttle ? { throttle: options.throttle } : {}) });
  const server = await startAdminServer({ app, host: '127.0.0.1', port: 0, dataDir });
  return {
    url: `https://127.0.0.1:${server.port}`, server, audit, auditLog, users, dataDir, uploads,
    advance(ms: number) {
      skewMs += ms;
    },
    accounts: { admin: withCode(demo.find((a) => a.role === 'admin')!), dpo: withCode(demo.find((a) => a.role === 'dpo')!) },
    async close() {
      await server.close();
      await auditLog?.close();
      await rm(dataDir, { recursive: true, force: true });
      await rm(confDir, { recursive: true, force: true });
    },
  };
}

export interface LoginAccount {
  readonly name: string;
  readonly password: string;
  readonly totpSecret: string;
  /** A fresh code the app accepts (fixture clock); absent: the code of the real current step. */
  nextCode?(): Promise<string>;
}

export interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** A minimal HTTPS client with a cookie jar (self-signed certificate accepted on purpose). */
export class Client {
  readonly jar = new Map<string, string>();
  constructor(readonly base: string) {}

  request(method: string, path: string, opts: { form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Reply> {
    const body = opts.form ? new URLSearchParams(opts.form).toString() : undefined;
    const headers: Record<string, string> = { ...opts.headers };
    if (this.jar.size) headers['cookie'] = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, this.base), { method, headers, rejectUnauthorized: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          for (const c of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
            const [pair = ''] = c.split(';');
            const i = pair.indexOf('=');
            if (/expires=Thu, 01 Jan 1970/i.test(c)) this.jar.delete(pair.slice(0, i));
            else this.jar.set(pair.slice(0, i), pair.slice(i + 1));
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  get(path: string, headers?: Record<string, string>) {
    return this.request('GET', path, { ...(headers ? { headers } : {}) });
  }

  /** CSRF token from the last page's hidden field. */
  static csrf(body: string): string {
    const m = /name="_csrf" value="([^"]+)"/.exec(body);
    if (!m?.[1]) throw new Error('no CSRF field in page');
    return m[1];
  }

  async login(account: LoginAccount, code?: string): Promise<Reply> {
    const form = await this.get('/login');
    const totp = code ?? (account.nextCode ? await account.nextCode() : await generate({ secret: account.totpSecret }));
    return this.request('POST', '/login', { form: { _csrf: Client.csrf(form.body), username: account.name, password: account.password, totp } });
  }
}
