/** Register of processing (from the conventions) and parties with their keys. */
import { html, type SafeHtml } from '../html.js';
import { t, type MessageKey } from '../i18n.js';
import type { PartyView, RegisterRow } from '../data.js';
import { page, type ViewContext } from './layout.js';

const list = (xs: readonly string[]): SafeHtml => html`${xs.join(', ')}`;

export function registerPage(ctx: ViewContext, rows: readonly RegisterRow[]): string {
  const L = ctx.lang;
  const grants = (gs: RegisterRow['senders']) => html`<ul>${gs.map((g) => html`<li>${g.name} (<code>${g.party}</code>) : ${list(g.datasets)}</li>`)}</ul>`;
  const body = html`<p class="no-print"><a href="/register?lang=${L}&amp;print=1" id="print-link">${t(L, 'reg_print')}</a></p>
${rows.map((r) => html`<article class="register-row"><h2>${r.title} <small>(<code>${r.conventionId}</code>)</small></h2>
<dl class="kv"><dt>${t(L, 'reg_purpose')}</dt><dd>${r.purpose}</dd>
<dt>${t(L, 'reg_legal')}</dt><dd>${r.legalReference}</dd>
<dt>${t(L, 'reg_signed')}</dt><dd>${r.signedOn}</dd>
<dt>${t(L, 'reg_validity')}</dt><dd>${r.validFrom} → ${r.validTo} (${r.inForce ? t(L, 'reg_in_force') : t(L, 'reg_not_in_force')})</dd>
<dt>${t(L, 'reg_categories')}</dt><dd>${list(r.dataCategories)}</dd>
<dt>${t(L, 'reg_datasets')}</dt><dd>${list(r.datasets.map((d) => `${d.title} (${d.id})`))}</dd>
<dt>${t(L, 'reg_senders')}</dt><dd>${grants(r.senders)}</dd>
<dt>${t(L, 'reg_recipients')}</dt><dd>${grants(r.recipients)}</dd>
<dt>${t(L, 'reg_territory')}</dt><dd>${list(r.territory)}</dd>
<dt>${t(L, 'reg_retention')}</dt><dd>${t(L, 'days', { n: r.retentionDays })}</dd></dl></article>`)}
${rows.length ? '' : html`<p>${t(L, 'none')}</p>`}`;
  return page(ctx, t(L, 'reg_title'), body);
}

const STATUS: Record<string, MessageKey | null> = { ok: null, expiring: 'k_expiring', expired: 'k_expired', unreadable: 'k_unreadable', mismatch: 'k_mismatch' };

function partyCard(ctx: ViewContext, p: PartyView): SafeHtml {
  const L = ctx.lang;
  return html`<article class="party" id="party-${p.id}"><h3>${p.name} <small>(<code>${p.id}</code>)</small></h3>
<dl class="kv"><dt>${t(L, 'p_territory')}</dt><dd>${list(p.territory)}</dd>
<dt>${t(L, 'p_ssh')}</dt><dd><ul>${p.ssh.map((k) => html`<li><code>${k.algorithm} ${k.fingerprint}</code> ${k.comment}</li>`)}</ul></dd>
<dt>${t(L, 'p_pgp')}</dt><dd><ul>${p.pgp.map((k) => {
    const status = STATUS[k.status];
    return html`<li class="key key-${k.status}"><code>${k.fingerprint}</code> ${k.algorithm}
${k.created ? t(L, 'p_created', { date: k.created.slice(0, 10) }) : ''}, ${k.expires ? t(L, 'p_expires', { date: k.expires.slice(0, 10) }) : t(L, 'p_never')}
${status ? html`<strong class="badge">${t(L, status)}</strong>` : ''}</li>`;
  })}</ul></dd>
<dt>${t(L, 'p_conventions')}</dt><dd><ul>${p.conventions.map((c) => html`<li>${c.title} (<code>${c.id}</code>) → ${c.validTo}${c.inForce ? '' : html` <strong class="badge">${t(L, 'reg_not_in_force')}</strong>`}</li>`)}</ul></dd></dl></article>`;
}

export function partiesPage(ctx: ViewContext, parties: readonly PartyView[]): string {
  const L = ctx.lang;
  const body = html`<h2>${t(L, 'parties_partners')}</h2>${parties.filter((p) => p.kind === 'partner').map((p) => partyCard(ctx, p))}
<h2>${t(L, 'parties_recipients')}</h2>${parties.filter((p) => p.kind === 'recipient').map((p) => partyCard(ctx, p))}`;
  return page(ctx, t(L, 'nav_parties'), body);
}
