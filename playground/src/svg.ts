/**
 * The playground's drawings as SVG strings: heatmaps of matrices, a line chart, a bar chart and
 * the autograd graph. Every chart has a title, labelled axes with units, and an aria-label that
 * says in words what it shows.
 */
import type { AutogradGraph } from '../../src/index.ts';
import { savedLines } from '../../src/index.ts';

export interface Matrix {
  rows: number;
  cols: number;
  data: ArrayLike<number>;
}

/** Escapes text for HTML and SVG. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A short number: integers as they are, else 3 significant digits, exponent form outside [10⁻³, 10⁴). */
export function fmt(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e7) return String(x);
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e4 ? x.toPrecision(3) : x.toExponential(2);
}

/** Diverging colour for v in [−1, 1]: blue (negative), white (0), red (positive). */
function diverging(v: number): string {
  const t = Math.min(1, Math.abs(v));
  const c = Math.round(255 * (1 - t));
  return v >= 0 ? `rgb(255,${c},${c})` : `rgb(${c},${c},255)`;
}

/**
 * A heatmap of m, cells coloured by value / max|m| (its colour scale is its own, stated under it),
 * titled with its name and shape. `scale` fixes the colour scale (to compare two matrices).
 */
export function heatmap(m: Matrix, name: string, scale?: number): string {
  const cell = Math.max(4, Math.min(18, Math.floor(180 / Math.max(m.rows, m.cols))));
  const maxAbs = scale ?? Math.max(0, ...Array.from(m.data, Math.abs));
  const w = m.cols * cell, h = m.rows * cell;
  const rects: string[] = [];
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < m.cols; j++) {
      const v = m.data[i * m.cols + j]!;
      rects.push(`<rect x="${j * cell}" y="${i * cell}" width="${cell}" height="${cell}" fill="${diverging(maxAbs > 0 ? v / maxAbs : 0)}"><title>[${i}, ${j}] = ${fmt(v)}</title></rect>`);
    }
  }
  const label = `${name} [${m.rows}, ${m.cols}]`;
  return `<figure class="heatmap"><svg role="img" aria-label="heatmap of ${esc(label)}, colour scale ±${fmt(maxAbs)}" width="${w + 2}" height="${h + 2}" viewBox="-1 -1 ${w + 2} ${h + 2}">` +
    `<rect x="-0.5" y="-0.5" width="${w + 1}" height="${h + 1}" fill="none" stroke="#555"/>${rects.join('')}</svg>` +
    `<figcaption><b>${esc(name)}</b> <span class="shape">[${m.rows}, ${m.cols}]</span><br><small>blue −${fmt(maxAbs)} · white 0 · red +${fmt(maxAbs)}</small></figcaption></figure>`;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** Round numbers for an axis from lo to hi (about n ticks), each with its label (as many decimals as the step has). */
function ticks(lo: number, hi: number, n = 5): { t: number; label: string }[] {
  if (hi <= lo) return [{ t: lo, label: fmt(lo) }];
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= step0)!;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const out: { t: number; label: string }[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push({ t: Number(t.toPrecision(12)), label: t.toFixed(decimals) });
  return out;
}

export interface Series {
  label: string;
  points: { x: number; y: number }[];
}

/** A line chart of the series, with axes titled xTitle and yTitle (each with its unit) and a legend. */
export function lineChart(series: Series[], title: string, xTitle: string, yTitle: string): string {
  const W = 520, H = 260, L = 60, R = 150, T = 28, B = 44;
  const pts = series.flatMap((s) => s.points);
  const [x0, x1] = pts.length ? [Math.min(...pts.map((p) => p.x)), Math.max(...pts.map((p) => p.x))] : [0, 1];
  const [y0, y1] = pts.length ? [Math.min(...pts.map((p) => p.y)), Math.max(...pts.map((p) => p.y))] : [0, 1];
  const pad = (y1 - y0) * 0.05 || 0.5;
  const [ya, yb] = [y0 - pad, y1 + pad], [xa, xb] = [x0, x1 > x0 ? x1 : x0 + 1];
  const sx = (x: number) => L + ((x - xa) / (xb - xa)) * (W - L - R), sy = (y: number) => H - B - ((y - ya) / (yb - ya)) * (H - T - B);
  const xt = ticks(xa, xb).map(({ t, label }) => `<line x1="${sx(t)}" x2="${sx(t)}" y1="${H - B}" y2="${H - B + 4}" stroke="#333"/><text x="${sx(t)}" y="${H - B + 16}" text-anchor="middle">${label}</text>`);
  const yt = ticks(ya, yb).map(({ t, label }) => `<line x1="${L - 4}" x2="${L}" y1="${sy(t)}" y2="${sy(t)}" stroke="#333"/><text x="${L - 6}" y="${sy(t) + 4}" text-anchor="end">${label}</text>`);
  const lines = series.map((s, i) => {
    const c = PALETTE[i % PALETTE.length]!;
    const d = s.points.map((p, k) => `${k ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join('');
    const dots = s.points.map((p) => `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="2.5" fill="${c}"/>`).join('');
    const legend = `<rect x="${W - R + 12}" y="${T + i * 18}" width="12" height="3" fill="${c}"/><text x="${W - R + 30}" y="${T + i * 18 + 5}">${esc(s.label)}</text>`;
    return `<path d="${d}" fill="none" stroke="${c}" stroke-width="2"/>${dots}${legend}`;
  });
  const words = series.map((s) => `${s.label}: ${s.points.length} points${s.points.length ? `, last ${fmt(s.points[s.points.length - 1]!.y)}` : ''}`).join('; ');
  return `<svg class="chart" role="img" aria-label="${esc(`${title}. ${xTitle} against ${yTitle}. ${words}`)}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">` +
    `<text x="${L}" y="16" class="title">${esc(title)}</text>` +
    `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/><line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/>` +
    `${xt.join('')}${yt.join('')}<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">${esc(xTitle)}</text>` +
    `<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(yTitle)}</text>${lines.join('')}</svg>`;
}

export interface Bar {
  group: string;
  label: string;
  value: number;
}

/** Grouped bars (one group per method, one bar per label), value axis titled yTitle (with its unit). */
export function barChart(bars: Bar[], labels: string[], title: string, yTitle: string): string {
  const groups = [...new Set(bars.map((b) => b.group))];
  const W = 640, H = 270, L = 70, R = 230, T = 28, B = 40;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const yt = ticks(0, max * 1.08);
  const top = Math.max(max * 1.08, yt[yt.length - 1]!.t);
  const sy = (y: number) => H - B - (y / top) * (H - T - B);
  const gw = (W - L - R) / groups.length, bw = (gw * 0.8) / labels.length;
  const rects = bars.map((b) => {
    const g = groups.indexOf(b.group), k = labels.indexOf(b.label);
    const x = L + g * gw + gw * 0.1 + k * bw;
    return `<rect x="${x.toFixed(1)}" y="${sy(b.value).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(H - B - sy(b.value)).toFixed(1)}" fill="${PALETTE[k % PALETTE.length]}"><title>${esc(`${b.group}, ${b.label}: ${b.value} B`)}</title></rect>`;
  });
  const gx = groups.map((g, i) => `<text x="${L + (i + 0.5) * gw}" y="${H - B + 16}" text-anchor="middle">${esc(g)}</text>`);
  const ty = yt.map(({ t, label }) => `<line x1="${L - 4}" x2="${L}" y1="${sy(t)}" y2="${sy(t)}" stroke="#333"/><text x="${L - 6}" y="${sy(t) + 4}" text-anchor="end">${label}</text>`);
  const legend = labels.map((l, k) => `<rect x="${W - R + 12}" y="${T + k * 18 - 8}" width="12" height="12" fill="${PALETTE[k % PALETTE.length]}"/><text x="${W - R + 30}" y="${T + k * 18 + 2}">${esc(l)}</text>`);
  const words = bars.map((b) => `${b.group} ${b.label} ${b.value} B`).join('; ');
  return `<svg class="chart" role="img" aria-label="${esc(`${title}: ${words}`)}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">` +
    `<text x="${L}" y="16" class="title">${esc(title)}</text><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/>` +
    `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/>${rects.join('')}${gx.join('')}${ty.join('')}${legend.join('')}` +
    `<text x="${(L + W - R) / 2}" y="${H - 4}" text-anchor="middle">method</text>` +
    `<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(yTitle)}</text></svg>`;
}

/**
 * The autograd graph in columns by depth (leaves left, the output right): ops as boxes, leaves as
 * rounded boxes, each with the tensors it saves (shape, dtype, bytes); edges labelled by argument.
 */
export function graphDrawing(g: AutogradGraph, title: string): string {
  const depth = new Map<string, number>();
  for (const n of g.nodes) depth.set(n.id, Math.max(0, ...g.edges.filter((e) => e.to === n.id).map((e) => depth.get(e.from)! + 1)));
  const columns = new Map<number, string[]>();
  for (const n of g.nodes) columns.set(depth.get(n.id)!, [...(columns.get(depth.get(n.id)!) ?? []), n.id]);
  const BW = 230, gap = 60, lineH = 15;
  const height = (id: string) => (1 + g.nodes.find((n) => n.id === id)!.saved.length) * lineH + 12;
  const pos = new Map<string, { x: number; y: number; h: number }>();
  let H = 0;
  for (const [d, ids] of columns) {
    let y = 30;
    for (const id of ids) {
      const h = height(id);
      pos.set(id, { x: 10 + d * (BW + gap), y, h });
      y += h + 16;
    }
    H = Math.max(H, y);
  }
  const W = 20 + columns.size * (BW + gap) - gap;
  const edges = g.edges.map((e) => {
    const a = pos.get(e.from)!, b = pos.get(e.to)!;
    const [x1, y1, x2, y2] = [a.x + BW, a.y + a.h / 2, b.x, b.y + 10 + e.input * 6];
    return `<path d="M${x1},${y1} C${x1 + gap / 2},${y1} ${x2 - gap / 2},${y2} ${x2},${y2}" fill="none" stroke="#666" marker-end="url(#arrow)"/>` +
      `<text x="${x2 - 12}" y="${y2 - 3}" class="small">${e.input}</text>`;
  });
  const nodes = g.nodes.map((n) => {
    const p = pos.get(n.id)!;
    const head = n.type === 'op' ? `${n.label} → [${n.shape.join(', ')}]` : `${n.label} [${n.shape.join(', ')}]`;
    const lines = savedLines(n).map((s, i) => `<text x="${p.x + 8}" y="${p.y + 16 + (i + 1) * lineH}" class="${n.saved[i]!.bytes > 0 ? 'saved' : 'small'}">${esc(s)}</text>`);
    return `<rect x="${p.x}" y="${p.y}" width="${BW}" height="${p.h}" rx="${n.type === 'op' ? 2 : 12}" class="${n.type}"/>` +
      `<text x="${p.x + 8}" y="${p.y + 16}" class="node">${esc(head)}</text>${lines.join('')}`;
  });
  const words = g.nodes.map((n) => `${n.type} ${n.label} [${n.shape.join(', ')}]${n.saved.length ? `: ${savedLines(n).join(', ')}` : ''}`).join('; ');
  return `<svg class="graph" role="img" aria-label="${esc(`${title}: ${words}; ${g.savedBytes} bytes saved in all`)}" width="${W}" height="${H + 10}" viewBox="0 0 ${W} ${H + 10}">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#666"/></marker></defs>` +
    `<text x="10" y="16" class="title">${esc(title)} — saved for backward: ${g.savedBytes} B</text>${edges.join('')}${nodes.join('')}</svg>`;
}
