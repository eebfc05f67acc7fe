import { html } from '../html.js';
import { t } from '../i18n.js';
import type { TransferChain } from '../data.js';
import { entryTable } from './audit.js';
import { page, type ViewContext } from './layout.js';

export function transferLookup(ctx: ViewContext, error?: string): string {
  const L = ctx.lang;
  return page(ctx, t(L, 'nav_transfer'), html`${error ? html`<p class="error">${error}</p>` : ''}
<form method="get" action="/transfer" class="filters"><label>${t(L, 'transfer_lookup')} <input name="uploadId" maxlength="26" required></label>
<input type="hidden" name="lang" value="${L}"><button type="submit">${t(L, 'transfer_open')}</button></form>`);
}

/** The chain; each entry has a button that verify.js wires to an in-browser proof check. */
export function transferPage(ctx: ViewContext, chain: TransferChain, verifierKey: string): string {
  const L = ctx.lang;
  const messages = { ok: t(L, 'v_ok'), bad: t(L, 'v_bad'), running: t(L, 'v_running') };
  const body = html`<p>${t(L, 'partner')} : <strong>${chain.partner}</strong></p>
<h2>${t(L, 'transfer_chain')}</h2>
<ol class="chain">${chain.steps.map((s) => html`<li class="step-${s.step}">${t(L, `step_${s.step}`)} — <code>${s.entry.type}</code> (${s.entry.time})</li>`)}</ol>
<div id="verifier" data-key="${verifierKey}" data-msg-ok="${messages.ok}" data-msg-bad="${messages.bad}" data-msg-running="${messages.running}">
<label>${t(L, 'verify_key')} <input id="verifier-key" class="wide" value="${verifierKey}" spellcheck="false"></label></div>
${entryTable(ctx, chain.steps.map((s) => s.entry), (e) => html`<button type="button" class="verify" data-index="${e.index}">${t(L, 'verify_button')}</button><output class="verify-result" data-for="${e.index}"></output>`)}
<h2>${t(L, 'transfer_deliveries')}</h2>
${chain.deliveries.length
    ? html`<table><thead><tr><th>${t(L, 'delivery')}</th><th>${t(L, 'recipient')}</th><th>${t(L, 'records')}</th><th>${t(L, 'published_at')}</th><th></th></tr></thead><tbody>
${chain.deliveries.map((d) => html`<tr><td><code>${d.deliveryId}</code></td><td>${d.recipient}</td><td class="num">${d.records}</td><td>${d.publishedAt}</td>
<td class="${d.downloadedAt ? 'ok' : 'warn'}">${d.downloadedAt ? t(L, 'downloaded', { time: d.downloadedAt }) : t(L, 'not_downloaded')}</td></tr>`)}</tbody></table>`
    : html`<p>${t(L, 'none')}</p>`}`;
  return page(ctx, t(L, 'transfer_title', { id: chain.uploadId }), body, { scripts: ['verify.js'] });
}
