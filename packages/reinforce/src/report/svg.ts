/**
 * The report's chart drawing, hand-written SVG with no plotting dependency: a line chart (axes with round ticks, a
 * polyline and/or markers per series, a legend on the right) and overlaid histograms on shared bins. What goes on
 * which chart and the axis ranges are decided before (scales.ts); these functions only draw.
 */
import { extent, niceTicks, type Axis, type Series } from './scales';

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
export const CHART_WIDTH = 640;
export const CHART_HEIGHT = 300;
const W = CHART_WIDTH;
const H = CHART_HEIGHT;
const M = { left: 62, right: 190, top: 44, bottom: 42 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A number as the report prints it: integers and large values whole, others to 3 significant digits. */
export const fmt = (x: number): string =>
  Number.isFinite(x) ? (Math.abs(x) >= 1000 || x === Math.round(x) ? x.toFixed(0) : x.toPrecision(3)) : String(x);

export interface ChartOptions {
  /** The y axis (scales.ts `yAxis`); by default the data's own extent with round ticks inside it. */
  readonly yAxis?: Axis;
  /** A line under the title (e.g. what the axis spans). */
  readonly subtitle?: string;
}

/** One panel: axes with ticks, a polyline (and/or markers) per series, a legend on the right. */
export function lineChartSvg(
  title: string,
  xLabel: string,
  yLabel: string,
  series: readonly Series[],
  opts: ChartOptions = {},
): string {
  const [x0, x1] = extent(series.flatMap((s) => s.points.map((p) => p[0])));
  const [y0, y1] = opts.yAxis?.range ?? extent(series.flatMap((s) => s.points.map((p) => p[1])));
  const sx = (x: number) => M.left + ((x - x0) / (x1 - x0)) * PW;
  const sy = (y: number) => M.top + PH - ((y - y0) / (y1 - y0)) * PH;
  const parts: string[] = [svgOpen(`data-y-range="${y0} ${y1}"`), heading(title, opts.subtitle)];
  parts.push(axes(niceTicks(x0, x1), [...(opts.yAxis?.ticks ?? niceTicks(y0, y1))], sx, sy, xLabel, yLabel));
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
    const dash = i >= PALETTE.length ? ' stroke-dasharray="5 3"' : '';
    if (!s.markersOnly && pts.length > 1) {
      const d = pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
      parts.push(`<polyline class="series" fill="none" stroke="${s.color}" stroke-width="1.5"${dash} points="${d}"/>`);
    }
    if (s.markersOnly || pts.length <= 40) {
      for (const p of pts)
        parts.push(`<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="3" fill="${s.color}"/>`);
    }
    parts.push(legendEntry(i, s.name, `height="4" fill="${s.color}"`));
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface HistogramSet {
  readonly name: string;
  readonly values: readonly number[];
  readonly color: string;
}

/** Overlaid histograms on shared bins (fractions of each set, so sets of different sizes compare). */
export function histogramSvg(title: string, xLabel: string, sets: readonly HistogramSet[], bins = 30): string {
  const all = sets.flatMap((s) => s.values).filter(Number.isFinite);
  const [lo, hi] = extent(all);
  const width = (hi - lo) / bins;
  const fractions = sets.map((s) => {
    const counts = new Array<number>(bins).fill(0);
    for (const v of s.values) if (Number.isFinite(v)) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
    return counts.map((c) => (s.values.length > 0 ? c / s.values.length : 0));
  });
  const yMax = Math.max(1e-9, ...fractions.flat());
  const sx = (x: number) => M.left + ((x - lo) / (hi - lo)) * PW;
  const sy = (y: number) => M.top + PH - (y / yMax) * PH;
  const parts: string[] = [svgOpen(`data-y-range="0 ${yMax}"`), heading(title)];
  parts.push(axes(niceTicks(lo, hi), niceTicks(0, yMax), sx, sy, xLabel, 'fraction of samples'));
  sets.forEach((s, i) => {
    fractions[i].forEach((f, k) => {
      if (f === 0) return;
      const x = sx(lo + k * width);
      const y = sy(f);
      parts.push(
        `<rect class="bar" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, sx(lo + (k + 1) * width) - x - 1).toFixed(1)}" height="${(M.top + PH - y).toFixed(1)}" fill="${s.color}" fill-opacity="0.5"/>`,
      );
    });
    parts.push(legendEntry(i, `${s.name} (n=${s.values.length})`, `height="8" fill="${s.color}" fill-opacity="0.5"`));
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function svgOpen(attrs: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12" ${attrs}>\n<rect width="${W}" height="${H}" fill="white"/>`;
}

function heading(title: string, subtitle?: string): string {
  const out = [
    `<text x="${W / 2}" y="18" text-anchor="middle" font-weight="bold" font-size="13">${escapeXml(title)}</text>`,
  ];
  if (subtitle)
    out.push(
      `<text class="subtitle" x="${W / 2}" y="34" text-anchor="middle" font-size="11" fill="#555">${escapeXml(subtitle)}</text>`,
    );
  return out.join('\n');
}

/** The i-th legend line on the right: a swatch (`swatch`: its height and fill attributes) and the name. */
function legendEntry(i: number, name: string, swatch: string): string {
  const ly = M.top + 8 + i * 17;
  return `<rect x="${W - M.right + 12}" y="${ly - 7}" width="14" ${swatch}/>\n<text x="${W - M.right + 32}" y="${ly}" font-size="11">${escapeXml(name)}</text>`;
}

/** A tick label: the tick value, rid of float noise. */
const tickLabel = (t: number): string => String(Number(t.toPrecision(10)));

/** Axes with the (already rounded) tick values. */
function axes(
  xt: number[],
  yt: number[],
  sx: (x: number) => number,
  sy: (y: number) => number,
  xLabel: string,
  yLabel: string,
): string {
  const bottom = M.top + PH;
  const out = [
    `<line x1="${M.left}" y1="${bottom}" x2="${M.left + PW}" y2="${bottom}" stroke="black"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${bottom}" stroke="black"/>`,
  ];
  for (const t of xt) {
    const x = sx(t).toFixed(1);
    out.push(
      `<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 4}" stroke="black"/><text x="${x}" y="${bottom + 16}" text-anchor="middle" font-size="11">${tickLabel(t)}</text>`,
    );
  }
  for (const t of yt) {
    const y = sy(t).toFixed(1);
    out.push(
      `<line x1="${M.left - 4}" y1="${y}" x2="${M.left + PW}" y2="${y}" stroke="#ddd"/><text class="ytick" x="${M.left - 6}" y="${y}" dy="3" text-anchor="end" font-size="11">${tickLabel(t)}</text>`,
    );
  }
  out.push(`<text x="${M.left + PW / 2}" y="${bottom + 34}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  out.push(
    `<text transform="translate(14 ${M.top + PH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
  );
  return out.join('\n');
}
