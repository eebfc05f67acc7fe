/** Per-request helpers: session typing, language, view context, audit actor, query parsing. */
import type { Request, Response } from 'express';
import type {} from 'express-session';
import type { AuditActor } from '../../gateway/audit/events.js';
import { isLang, type Lang } from './i18n.js';
import type { Role } from './users.js';
import type { ViewContext } from './views/layout.js';

declare module 'express-session' {
  interface SessionData {
    user?: { name: string; role: Role };
    csrf?: string;
    /** Epoch ms of login, for the absolute session lifetime. */
    loginAt?: number;
  }
}

export const LANG_COOKIE = '__Host-lang';

/** One cookie value from the header (no cookie-parser dependency for one value). */
export function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** A single string query parameter, or undefined (arrays and objects are refused as absent). */
export function qs(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function langOf(req: Request, fallback: Lang): Lang {
  const q = qs(req, 'lang');
  if (isLang(q)) return q;
  const c = cookie(req, LANG_COOKIE);
  return isLang(c) ? c : fallback;
}

export function viewContext(req: Request, res: Response, fallback: Lang, demo: boolean): ViewContext {
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.query as Record<string, unknown>)) if (typeof v === 'string' && k !== 'lang') query[k] = v;
  return {
    lang: langOf(req, fallback),
    user: req.session?.user ?? null,
    csrf: req.session?.csrf ?? '',
    fingerprint: String(res.app.locals['fingerprint'] ?? ''),
    demo,
    path: req.path,
    query,
  };
}

export function sourceOf(req: Request): string {
  const a = req.socket.remoteAddress ?? '?';
  return `${a}:${req.socket.remotePort ?? 0}`;
}

/** Address only: lock-out counts per source address, not per ephemeral port. */
export function addressOf(req: Request): string {
  return req.socket.remoteAddress ?? '?';
}

export function actorOf(req: Request): AuditActor {
  const u = req.session?.user;
  return u ? { id: u.name, kind: 'admin', source: sourceOf(req) } : { id: 'anonymous', kind: 'unknown', source: sourceOf(req) };
}
