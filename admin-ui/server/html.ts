/**
 * The one place where text becomes HTML. Every interpolation in an `html` template is escaped
 * unless it is itself a `SafeHtml` produced by this module; there is no other way to make one.
 * Partner file names, dataset values and error messages are data: they reach the page only
 * through `escapeHtml`.
 */
const BRAND = Symbol('SafeHtml');

export interface SafeHtml {
  readonly [BRAND]: true;
  readonly value: string;
}

function safe(value: string): SafeHtml {
  return { [BRAND]: true, value };
}

export function isSafeHtml(v: unknown): v is SafeHtml {
  return typeof v === 'object' && v !== null && (v as { [BRAND]?: unknown })[BRAND] === true;
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (c) => ENTITIES[c] ?? c);
}

/** Interpolated values: text (escaped), numbers, booleans, nothing, SafeHtml, or arrays of these. */
export type HtmlValue = string | number | boolean | null | undefined | SafeHtml | readonly HtmlValue[];

function render(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return '';
  if (Array.isArray(v)) return v.map(render).join('');
  if (isSafeHtml(v)) return v.value;
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return safe(out);
}

/** A URL query string built from parameters (encoded), for links that keep the current filters. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
