import { html, type SafeHtml } from '../html.js';
import { t } from '../i18n.js';
import type { CheckpointStatus, DashboardStats } from '../data.js';
import { hBars, stackedBars } from './chart.js';
import { page, type ViewContext } from './layout.js';

export function checkpointBlock(ctx: ViewContext, status: CheckpointStatus | null): SafeHtml {
  if (!status) return html`<p>${t(ctx.lang, 'cp_none')}</p>`;
  const { checkpoint: cp, verify: v } = status;
  return html`<dl class="kv"><dt>Origin</dt><dd><code>${cp.origin}</code></dd>
<dt>${t(ctx.lang, 'cp_size')}</dt><dd>${cp.size}</dd><dt>${t(ctx.lang, 'cp_root')}</dt><dd><code>${cp.rootHash}</code></dd></dl>
<p class="${v.ok ? 'ok' : 'bad'}" id="verify-status">${v.ok ? t(ctx.lang, 'cp_verify_ok', { n: v.entries }) : t(ctx.lang, 'cp_verify_bad', { index: v.firstBad ?? '?', message: v.message ?? '' })}</p>`;
}

export function dashboardPage(ctx: ViewContext, s: DashboardStats): string {
  const L = ctx.lang;
  const body = html`<section><h2>${t(L, 'dash_uploads_day', { from: s.from })}</h2>
${stackedBars(s.perDay.map((d) => ({ label: d.day.slice(5), ok: d.accepted, bad: d.rejected })), { ok: t(L, 'accepted'), bad: t(L, 'rejected') })}</section>
<section><h2>${t(L, 'dash_uploads_partner')}</h2>
${s.perPartner.length ? stackedBars(s.perPartner.map((p) => ({ label: p.partner, ok: p.accepted, bad: p.rejected })), { ok: t(L, 'accepted'), bad: t(L, 'rejected') }) : ''}
<table><thead><tr><th>${t(L, 'partner')}</th><th>${t(L, 'accepted')}</th><th>${t(L, 'rejected')}</th><th>${t(L, 'last_upload')}</th><th>${t(L, 'verdict')}</th></tr></thead>
<tbody>${s.perPartner.map((p) => html`<tr><td>${p.partner}</td><td class="num">${p.accepted}</td><td class="num">${p.rejected}</td><td>${p.lastUpload}</td><td>${p.lastVerdict}</td></tr>`)}</tbody></table>
${s.perPartner.length ? '' : html`<p>${t(L, 'none')}</p>`}</section>
<section><h2>${t(L, 'dash_records_recipient')}</h2>
${s.recordsPerRecipient.length ? hBars(s.recordsPerRecipient.map((r) => ({ label: r.recipient, value: r.records }))) : html`<p>${t(L, 'none')}</p>`}</section>
<section><h2>${t(L, 'dash_pending')}</h2>
${s.pending.length
    ? html`<table><thead><tr><th>${t(L, 'delivery')}</th><th>${t(L, 'recipient')}</th><th>${t(L, 'upload')}</th><th>${t(L, 'published_at')}</th><th>${t(L, 'age_hours')}</th></tr></thead><tbody>
${s.pending.map((d) => html`<tr><td><code>${d.deliveryId}</code></td><td>${d.recipient}</td><td><a href="/transfer/${encodeURIComponent(d.uploadId)}">${d.uploadId}</a></td><td>${d.publishedAt}</td><td class="num">${d.ageHours}</td></tr>`)}</tbody></table>`
    : html`<p>${t(L, 'none')}</p>`}</section>
<section><h2>${t(L, 'dash_checkpoint')}</h2>${checkpointBlock(ctx, s.checkpoint)}</section>`;
  return page(ctx, t(L, 'nav_dashboard'), body);
}
