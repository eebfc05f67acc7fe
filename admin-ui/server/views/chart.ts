/**
 * Small SVG charts built on the server: no script, no inline style (the CSP forbids both);
 * colours come from classes in app.css. Labels are escaped like any other text.
 */
import { html, type SafeHtml } from '../html.js';

export interface StackedBar { readonly label: string; readonly ok: number; readonly bad: number }

/** Vertical stacked bars (accepted below, rejected above), one per label. */
export function stackedBars(bars: readonly StackedBar[], legend: { ok: string; bad: string }): SafeHtml {
  const w = 36;
  const h = 160;
  const top = 20;
  const max = Math.max(1, ...bars.map((b) => b.ok + b.bad));
  const width = bars.length * w + 60;
  const y = (v: number) => (v / max) * h;
  return html`<svg class="chart" role="img" viewBox="0 0 ${width + 60} ${h + top + 110}" width="${width + 60}" height="${h + top + 110}" xmlns="http://www.w3.org/2000/svg">
<text x="0" y="12" class="axis">${max}</text><line x1="30" y1="${top}" x2="${width}" y2="${top}" class="grid"/>
<line x1="30" y1="${top + h}" x2="${width}" y2="${top + h}" class="grid"/>
${bars.map((b, i) => {
    const x = 40 + i * w;
    return html`<g><title>${b.label} : ${legend.ok} ${b.ok}, ${legend.bad} ${b.bad}</title>
<rect class="bar-ok" x="${x}" y="${top + h - y(b.ok)}" width="${w - 8}" height="${y(b.ok)}"/>
<rect class="bar-bad" x="${x}" y="${top + h - y(b.ok) - y(b.bad)}" width="${w - 8}" height="${y(b.bad)}"/>
<text class="axis" x="${x}" y="${top + h + 14}" transform="rotate(45 ${x} ${top + h + 14})">${b.label}</text></g>`;
  })}
<rect class="bar-ok" x="40" y="${h + top + 94}" width="10" height="10"/><text class="axis" x="55" y="${h + top + 103}">${legend.ok}</text>
<rect class="bar-bad" x="140" y="${h + top + 94}" width="10" height="10"/><text class="axis" x="155" y="${h + top + 103}">${legend.bad}</text>
</svg>`;
}

/** Horizontal bars with a value, one per label. */
export function hBars(rows: readonly { label: string; value: number }[]): SafeHtml {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const rowH = 20;
  const labelW = 200;
  const barW = 300;
  return html`<svg class="chart" role="img" viewBox="0 0 ${labelW + barW + 80} ${rows.length * rowH + 4}" width="${labelW + barW + 80}" height="${rows.length * rowH + 4}" xmlns="http://www.w3.org/2000/svg">
${rows.map(
    (r, i) => html`<g><text class="axis" x="0" y="${i * rowH + 14}">${r.label}</text>
<rect class="bar-ok" x="${labelW}" y="${i * rowH + 3}" width="${Math.max(1, (r.value / max) * barW)}" height="${rowH - 6}"/>
<text class="axis" x="${labelW + (r.value / max) * barW + 6}" y="${i * rowH + 14}">${r.value}</text></g>`,
  )}
</svg>`;
}
