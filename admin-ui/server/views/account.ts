/** Login form and account management. */
import { html } from '../html.js';
import { t } from '../i18n.js';
import type { AdminUser } from '../users.js';
import { csrfField, page, type ViewContext } from './layout.js';

export function loginPage(ctx: ViewContext, error?: string): string {
  const L = ctx.lang;
  return page(ctx, t(L, 'login_title'), html`${error ? html`<p class="error" id="login-error">${error}</p>` : ''}
<form method="post" action="/login?lang=${L}" class="login">${csrfField(ctx)}
<label>${t(L, 'login_user')} <input name="username" autocomplete="username" required maxlength="32"></label>
<label>${t(L, 'login_password')} <input name="password" type="password" autocomplete="current-password" required maxlength="256"></label>
<label>${t(L, 'login_totp')} <input name="totp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6"></label>
<button type="submit">${t(L, 'login_submit')}</button></form>`);
}

export function usersPage(ctx: ViewContext, users: readonly AdminUser[], notice?: { ok: boolean; text: string }): string {
  const L = ctx.lang;
  return page(ctx, t(L, 'users_title'), html`${notice ? html`<p class="${notice.ok ? 'ok' : 'error'}" id="users-notice">${notice.text}</p>` : ''}
<table><thead><tr><th>${t(L, 'users_name')}</th><th>${t(L, 'users_role')}</th><th>${t(L, 'users_totp')}</th><th>${t(L, 'users_created')}</th><th></th></tr></thead><tbody>
${users.map((u) => html`<tr><td>${u.name}</td><td>${u.role}</td><td>${u.totpSecret ? t(L, 'yes') : t(L, 'no')}</td><td>${u.createdAt}</td>
<td>${ctx.user?.name === u.name ? '' : html`<form method="post" action="/users/${encodeURIComponent(u.name)}/delete">${csrfField(ctx)}<button type="submit">${t(L, 'users_delete')}</button></form>`}</td></tr>`)}
</tbody></table>
<h2>${t(L, 'users_new')}</h2>
<form method="post" action="/users" class="filters">${csrfField(ctx)}
<label>${t(L, 'users_name')} <input name="name" required maxlength="32"></label>
<label>${t(L, 'users_role')} <select name="role"><option value="dpo">dpo</option><option value="admin">admin</option></select></label>
<label>${t(L, 'login_password')} <input name="password" type="password" required minlength="12" maxlength="256" autocomplete="new-password"></label>
<button type="submit">${t(L, 'users_create')}</button></form>`);
}
