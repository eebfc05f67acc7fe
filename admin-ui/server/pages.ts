/** Read-only page handlers: each one audits the view before answering (no entry, no page). */
import { once } from 'node:events';
import type { Request, Response } from 'express';
import type { AuditOutcome, AuditSink } from '../../gateway/audit/events.js';
import { isGatewayError } from '../../gateway/errors.js';
import { ID_PATTERN } from '../../gateway/ids.js';
import { scanAudit, type AdminData, type AuditFilter } from './data.js';
import { actorOf, qs, viewContext } from './context.js';
import { CSV_HEADER, csvLine, entryCsv, entryNdjson, type ExportFormat } from './export.js';
import { t, type Lang } from './i18n.js';
import { auditPage, filterQuery } from './views/audit.js';
import { dashboardPage } from './views/dashboard.js';
import { message } from './views/layout.js';
import { partiesPage, registerPage } from './views/reference.js';
import { transferLookup, transferPage } from './views/transfer.js';

export const PAGE_SIZE = 50;
const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z?)?$/;
const TYPE = /^[a-z0-9][a-z0-9._-]{0,127}$/;
const ACTOR = /^[^\p{Cc}]{1,64}$/u;
const OUTCOMES: readonly AuditOutcome[] = ['success', 'failure', 'info'];

function isoDate(v: string | undefined): string | undefined | null {
  if (v === undefined) return undefined;
  if (!DATE.test(v)) return null;
  const d = new Date(v.length === 10 ? `${v}T00:00Z` : v.endsWith('Z') ? v : `${v}Z`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** Filters from the query string; null when a parameter is malformed (answered 400). */
export function parseFilter(req: Request): AuditFilter | null {
  const from = isoDate(qs(req, 'from'));
  const to = isoDate(qs(req, 'to'));
  const type = qs(req, 'type');
  const actor = qs(req, 'actor');
  const outcome = qs(req, 'outcome');
  const uploadId = qs(req, 'uploadId');
  if (from === null || to === null) return null;
  if (type !== undefined && !TYPE.test(type)) return null;
  if (actor !== undefined && !ACTOR.test(actor)) return null;
  if (outcome !== undefined && !(OUTCOMES as readonly string[]).includes(outcome)) return null;
  if (uploadId !== undefined && !/^[0-9a-z]{1,64}$/.test(uploadId)) return null;
  return { from, to, type, actor, outcome: outcome as AuditOutcome | undefined, uploadId };
}

function filterDetails(f: AuditFilter): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(filterQuery(f))) if (v !== undefined) out[`filter_${k}`] = v;
  return out;
}

export interface PageDeps { readonly data: AdminData; readonly audit: AuditSink; readonly lang: Lang; readonly demo: boolean; readonly now: () => Date }

export function pageHandlers(d: PageDeps) {
  const ctx = (req: Request, res: Response) => viewContext(req, res, d.lang, d.demo);
  const viewed = (req: Request, type: string, details: Record<string, string | number> = {}, refs?: Record<string, string>) =>
    d.audit.append({ type, actor: actorOf(req), outcome: 'success', details, ...(refs ? { refs } : {}) });
  const badRequest = (req: Request, res: Response) => {
    const c = ctx(req, res);
    res.status(400).type('html').send(message(c, t(c.lang, 'err_bad_request'), t(c.lang, 'err_bad_request')));
  };

  return {
    async dashboard(req: Request, res: Response) {
      const stats = await d.data.dashboard(d.now());
      await viewed(req, 'admin.page.viewed', { page: 'dashboard' });
      res.type('html').send(dashboardPage(ctx(req, res), stats));
    },

    async audit(req: Request, res: Response) {
      const f = parseFilter(req);
      const pageNo = Math.max(1, Math.min(1_000_000, Number.parseInt(qs(req, 'page') ?? '1', 10) || 1));
      if (!f) return badRequest(req, res);
      const [entries, total] = await Promise.all([d.data.auditQuery({ ...f, limit: PAGE_SIZE, offset: (pageNo - 1) * PAGE_SIZE }), d.data.auditCount(f)]);
      await viewed(req, 'audit.viewed', { ...filterDetails(f), page: pageNo, shown: entries.length, total });
      res.type('html').send(auditPage(ctx(req, res), f, entries, total, pageNo, PAGE_SIZE));
    },

    async exportAudit(req: Request, res: Response) {
      const f = parseFilter(req);
      const format = qs(req, 'format') as ExportFormat | undefined;
      if (!f || (format !== 'csv' && format !== 'ndjson')) return badRequest(req, res);
      const total = await d.data.auditCount(f);
      await viewed(req, 'audit.exported', { ...filterDetails(f), format, entries: total });
      const stamp = d.now().toISOString().replace(/[:.]/g, '-');
      res.status(200);
      res.setHeader('Content-Type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
      res.setHeader('Content-Disposition', `attachment; filename="passerelle-audit-${stamp}.${format}"`);
      const write = async (s: string) => {
        if (!res.write(s)) await once(res, 'drain');
      };
      if (format === 'csv') await write(`\uFEFF${csvLine(CSV_HEADER)}`);
      for await (const e of scanAudit({ query: (q) => d.data.auditQuery(q) }, f)) await write(format === 'csv' ? entryCsv(e) : entryNdjson(e));
      res.end();
    },

    transferLookup(req: Request, res: Response) {
      const id = qs(req, 'uploadId');
      if (id === undefined) return void res.type('html').send(transferLookup(ctx(req, res)));
      const c = ctx(req, res);
      if (!ID_PATTERN.test(id)) return void res.status(400).type('html').send(transferLookup(c, t(c.lang, 'transfer_invalid')));
      res.redirect(303, `/transfer/${id}?lang=${c.lang}`);
    },

    async transfer(req: Request, res: Response) {
      const id = String(req.params['uploadId'] ?? '');
      const c = ctx(req, res);
      if (!ID_PATTERN.test(id)) return void res.status(400).type('html').send(transferLookup(c, t(c.lang, 'transfer_invalid')));
      const chain = await d.data.transfer(id);
      await viewed(req, 'transfer.viewed', { found: chain !== null ? 1 : 0 }, { uploadId: id });
      if (!chain) return void res.status(404).type('html').send(transferLookup(c, t(c.lang, 'transfer_unknown')));
      res.type('html').send(transferPage(c, chain, d.data.checkpointVerifierKey()));
    },

    async proof(req: Request, res: Response) {
      const raw = String(req.params['index'] ?? '');
      if (!/^\d{1,15}$/.test(raw)) return void res.status(400).json({ error: 'bad index' });
      const index = Number(raw);
      await viewed(req, 'audit.proof.viewed', { index });
      let proof;
      try {
        proof = await d.data.proof(index);
      } catch (e) {
        // No such entry, or not yet covered by a signed checkpoint: a coded answer, no detail echoed.
        if (isGatewayError(e, 'AUDIT_PROOF_INVALID')) return void res.status(404).json({ error: 'AUDIT_PROOF_INVALID' });
        throw e;
      }
      res.json({ ...proof, verifierKey: d.data.checkpointVerifierKey() });
    },

    async register(req: Request, res: Response) {
      const rows = d.data.register(d.now());
      await viewed(req, 'register.viewed', { conventions: rows.length, print: qs(req, 'print') === '1' ? 1 : 0 });
      res.type('html').send(registerPage(ctx(req, res), rows));
    },

    async parties(req: Request, res: Response) {
      const parties = await d.data.parties(d.now());
      await viewed(req, 'parties.viewed', { parties: parties.length });
      res.type('html').send(partiesPage(ctx(req, res), parties));
    },
  };
}
