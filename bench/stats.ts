/** Small pure helpers for the benchmark: medians, throughput, ratios, the table. */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** MB/s (10^6 bytes per second), as OpenSSH and performance.md count. */
export function mbPerSec(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

export function round(x: number, digits = 2): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export interface Row {
  readonly figure: string;
  readonly reference: string;
  readonly gateway: string;
  readonly ratio: string;
  readonly target: string;
}

/** A plain-text table, columns padded to the widest cell. */
export function formatTable(rows: readonly Row[]): string {
  const header: Row = { figure: 'figure', reference: 'reference (OpenSSH)', gateway: 'Passerelle', ratio: 'ratio', target: 'target' };
  const all = [header, ...rows];
  const keys: (keyof Row)[] = ['figure', 'reference', 'gateway', 'ratio', 'target'];
  const widths = keys.map((k) => Math.max(...all.map((r) => r[k].length)));
  const line = (r: Row) => keys.map((k, i) => r[k].padEnd(widths[i] as number)).join('  ').trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), sep, ...rows.map(line)].join('\n');
}

/**
 * Runs A and B alternately `n` times each (A B A B …) so drift on a shared machine hits both
 * equally. B may be absent (gateway not runnable): then only A runs.
 */
export async function interleave(n: number, a: () => Promise<number>, b?: () => Promise<number>): Promise<{ a: number[]; b: number[] }> {
  const ra: number[] = [];
  const rb: number[] = [];
  for (let i = 0; i < n; i++) {
    ra.push(await a());
    if (b) rb.push(await b());
  }
  return { a: ra, b: rb };
}
