import { GatewayError, type ErrorCode } from '../errors.js';

/** One thing wrong with the configuration: which file, where in it (JSON Pointer), what. */
export interface ConfigProblem {
  readonly code: ErrorCode;
  readonly file: string;
  /** JSON Pointer (RFC 6901) into the file; "" for the whole file. */
  readonly path: string;
  readonly problem: string;
}

/** JSON Pointer from path segments, with ~ and / escaped. */
export function pointer(...segments: (string | number)[]): string {
  return segments.map((s) => '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file} ${p.path === '' ? '(racine)' : p.path} : ${p.problem} [${p.code}]`;
}

/**
 * The error for a refused configuration: its code is the first problem's, its message lists
 * every problem (one per line), its detail carries the first one's file/path/problem and the
 * whole list.
 */
export function configError(problems: readonly ConfigProblem[]): GatewayError {
  const first = problems[0];
  if (!first) throw new Error('configError needs at least one problem');
  const head = problems.length === 1 ? 'configuration invalide' : `configuration invalide (${problems.length} problèmes)`;
  const message = `${head} :\n${problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}`;
  return new GatewayError(first.code, message, {
    file: first.file,
    path: first.path,
    problem: first.problem,
    problems: problems.map((p) => ({ ...p })),
  });
}

/** The problems carried by an error from `loadConfig` (one synthesized from any other error). */
export function problemsOf(err: GatewayError): ConfigProblem[] {
  const list = err.detail['problems'];
  if (Array.isArray(list)) return list as ConfigProblem[];
  return [{ code: err.code, file: String(err.detail['file'] ?? ''), path: String(err.detail['path'] ?? ''), problem: err.message }];
}
