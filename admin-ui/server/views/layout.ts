/** The page frame: navigation, language toggle, sign-out form, certificate fingerprint. */
import { html, query, type SafeHtml } from '../html.js';
import { t, type Lang, type MessageKey } from '../i18n.js';
import type { Role } from '../users.js';

export interface ViewContext {
  readonly lang: Lang;
  readonly user: { readonly name: string; readonly role: Role } | null;
  readonly csrf: string;
  readonly fingerprint: string;
  readonly demo: boolean;
  /** Current path and query, for the language toggle. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
}

const NAV: readonly { href: string; key: MessageKey; roles: readonly Role[] }[] = [
  { href: '/', key: 'nav_dashboard', roles: ['admin', 'dpo'] },
  { href: '/audit', key: 'nav_audit', roles: ['admin', 'dpo'] },
  { href: '/transfer', key: 'nav_transfer', roles: ['admin', 'dpo'] },
  { href: '/register', key: 'nav_register', roles: ['admin', 'dpo'] },
  { href: '/parties', key: 'nav_parties', roles: ['admin', 'dpo'] },
  { href: '/users', key: 'nav_users', roles: ['admin'] },
];

export function csrfField(ctx: ViewContext): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`;
}

export function page(ctx: ViewContext, title: string, body: SafeHtml, opts: { scripts?: readonly string[] } = {}): string {
  const other: Lang = ctx.lang === 'fr' ? 'en' : 'fr';
  const toggle = `${ctx.path}${query({ ...ctx.query, lang: other })}`;
  const nav = ctx.user
    ? html`<nav class="no-print"><ul>${NAV.filter((n) => ctx.user && n.roles.includes(ctx.user.role)).map(
        (n) => html`<li><a href="${n.href}"${ctx.path === n.href ? html` aria-current="page"` : ''}>${t(ctx.lang, n.key)}</a></li>`,
      )}</ul>
      <form method="post" action="/logout" class="logout">${csrfField(ctx)}<span>${t(ctx.lang, 'signed_in_as', { user: ctx.user.name, role: ctx.user.role })}</span>
      <button type="submit">${t(ctx.lang, 'logout')}</button></form></nav>`
    : '';
  return `<!doctype html>${html`<html lang="${ctx.lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} — ${t(ctx.lang, 'app')}</title>
<link rel="stylesheet" href="/assets/app.css">
<link rel="stylesheet" href="/assets/print.css" media="print">
${(opts.scripts ?? []).map((s) => html`<script type="module" src="/assets/${s}"></script>`)}
</head><body>
<header><strong>${t(ctx.lang, 'app')}</strong> <a class="lang no-print" href="${toggle}">${t(ctx.lang, 'other_lang')}</a>${nav}</header>
${ctx.demo ? html`<p class="demo">${t(ctx.lang, 'demo_banner')}</p>` : ''}
<main><h1>${title}</h1>${body}</main>
<footer>${t(ctx.lang, 'footer_fp', { fp: ctx.fingerprint })}</footer>
</body></html>`.value}`;
}

export function message(ctx: ViewContext, title: string, text: string): string {
  return page(ctx, title, html`<p class="error">${text}</p>`);
}
