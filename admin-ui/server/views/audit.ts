import { html, query, type SafeHtml } from '../html.js';
import { t } from '../i18n.js';
import type { AuditEntryView, AuditFilter } from '../data.js';
import { page, type ViewContext } from './layout.js';

/** Key=value pairs of refs or details, as escaped text (values are data, never markup). */
export function pairs(o: Readonly<Record<string, unknown>>): SafeHtml {
  return html`${Object.entries(o).map(([k, v]) => html`<span class="kv-pair"><span class="k">${k}</span>=<span class="v">${String(v)}</span></span> `)}`;
}

export function entryRow(ctx: ViewContext, e: AuditEntryView, extra?: SafeHtml): SafeHtml {
  const upload = e.refs['uploadId'];
  return html`<tr class="outcome-${e.outcome}"><td class="num">${e.index}</td><td>${e.time}</td><td><code>${e.type}</code></td>
<td>${e.actor.id} <small>(${e.actor.kind})</small></td><td>${e.actor.source ?? ''}</td><td>${t(ctx.lang, `outcome_${e.outcome}`)}</td>
<td>${pairs(e.refs)}${upload ? html` <a href="/transfer/${encodeURIComponent(upload)}">→</a>` : ''}</td><td>${pairs(e.details)}</td>${extra ? html`<td>${extra}</td>` : ''}</tr>`;
}

export function entryTable(ctx: ViewContext, entries: readonly AuditEntryView[], extra?: (e: AuditEntryView) => SafeHtml): SafeHtml {
  const L = ctx.lang;
  return html`<table class="audit"><thead><tr><th>${t(L, 'col_index')}</th><th>${t(L, 'col_time')}</th><th>${t(L, 'col_type')}</th><th>${t(L, 'col_actor')}</th>
<th>${t(L, 'col_source')}</th><th>${t(L, 'col_outcome')}</th><th>${t(L, 'col_refs')}</th><th>${t(L, 'col_details')}</th>${extra ? html`<th></th>` : ''}</tr></thead>
<tbody>${entries.map((e) => entryRow(ctx, e, extra?.(e)))}</tbody></table>`;
}

export function filterQuery(f: AuditFilter): Record<string, string | undefined> {
  return { from: f.from, to: f.to, type: f.type, actor: f.actor, outcome: f.outcome, uploadId: f.uploadId };
}

export function auditPage(ctx: ViewContext, f: AuditFilter, entries: readonly AuditEntryView[], total: number, pageNo: number, pageSize: number): string {
  const L = ctx.lang;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const q = filterQuery(f);
  const body = html`<form method="get" action="/audit" class="filters" id="filters"><fieldset><legend>${t(L, 'audit_filters')}</legend>
<label>${t(L, 'f_from')} <input type="datetime-local" name="from" value="${(f.from ?? '').slice(0, 16)}"></label>
<label>${t(L, 'f_to')} <input type="datetime-local" name="to" value="${(f.to ?? '').slice(0, 16)}"></label>
<label>${t(L, 'f_type')} <input name="type" value="${f.type ?? ''}" maxlength="64"></label>
<label>${t(L, 'f_actor')} <input name="actor" value="${f.actor ?? ''}" maxlength="64"></label>
<label>${t(L, 'f_outcome')} <select name="outcome"><option value="">${t(L, 'f_any')}</option>
${(['success', 'failure', 'info'] as const).map((o) => html`<option value="${o}"${f.outcome === o ? html` selected` : ''}>${t(L, `outcome_${o}`)}</option>`)}</select></label>
<label>${t(L, 'f_upload')} <input name="uploadId" value="${f.uploadId ?? ''}" maxlength="26"></label>
<input type="hidden" name="lang" value="${L}"><button type="submit">${t(L, 'f_apply')}</button></fieldset></form>
<p class="exports"><a id="export-csv" href="/audit/export${query({ ...q, format: 'csv' })}">${t(L, 'export_csv')}</a>
<a id="export-ndjson" href="/audit/export${query({ ...q, format: 'ndjson' })}">${t(L, 'export_ndjson')}</a></p>
<p id="result-count">${t(L, 'results', { n: total, page: pageNo, pages })}</p>
${entryTable(ctx, entries)}
<p class="pager">${pageNo > 1 ? html`<a rel="prev" href="/audit${query({ ...q, lang: L, page: pageNo - 1 })}">${t(L, 'prev')}</a>` : ''}
${pageNo < pages ? html`<a rel="next" href="/audit${query({ ...q, lang: L, page: pageNo + 1 })}">${t(L, 'next')}</a>` : ''}</p>`;
  return page(ctx, t(L, 'nav_audit'), body);
}
