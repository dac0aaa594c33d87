/**
 * The report's chart drawing, hand-written SVG with no plotting dependency: a line chart (axes with round ticks, a
 * polyline and/or markers per series, a legend on the right) and overlaid histograms on shared bins.
 */
import { extent, niceTicks, type Series } from './scales';

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const W = 720;
const H = 280;
const M = { left: 60, right: 210, top: 30, bottom: 40 };

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A number as the report prints it: integers and large values whole, others to 3 significant digits. */
export const fmt = (x: number): string =>
  Number.isFinite(x) ? (Math.abs(x) >= 1000 || x === Math.round(x) ? x.toFixed(0) : x.toPrecision(3)) : String(x);

/** One panel: axes with ticks, a polyline (and/or markers) per series, a legend on the right. */
export function lineChartSvg(title: string, xLabel: string, yLabel: string, series: readonly Series[]): string {
  const [x0, x1] = extent(series.flatMap((s) => s.points.map((p) => p[0])));
  const [y0, y1] = extent(series.flatMap((s) => s.points.map((p) => p[1])));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) => M.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => M.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const parts: string[] = [
    svgOpen(W, H),
    `<text x="${W / 2}" y="18" text-anchor="middle" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  parts.push(axes(niceTicks(x0, x1), niceTicks(y0, y1), sx, sy, pw, ph, xLabel, yLabel));
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
    if (!s.markersOnly && pts.length > 1) {
      const d = pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
      parts.push(`<polyline class="series" fill="none" stroke="${s.color}" stroke-width="1.5" points="${d}"/>`);
    }
    if (s.markersOnly || pts.length <= 40) {
      for (const p of pts)
        parts.push(`<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="3" fill="${s.color}"/>`);
    }
    const ly = M.top + 10 + i * 18;
    parts.push(`<rect x="${W - M.right + 12}" y="${ly - 8}" width="12" height="4" fill="${s.color}"/>`);
    parts.push(`<text x="${W - M.right + 30}" y="${ly}" font-size="11">${escapeXml(s.name)}</text>`);
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
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) => M.left + ((x - lo) / (hi - lo)) * pw;
  const sy = (y: number) => M.top + ph - (y / yMax) * ph;
  const parts: string[] = [
    svgOpen(W, H),
    `<text x="${W / 2}" y="18" text-anchor="middle" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  parts.push(axes(niceTicks(lo, hi), niceTicks(0, yMax), sx, sy, pw, ph, xLabel, 'fraction of samples'));
  sets.forEach((s, i) => {
    fractions[i].forEach((f, k) => {
      if (f === 0) return;
      const x = sx(lo + k * width);
      const y = sy(f);
      parts.push(
        `<rect class="bar" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, sx(lo + (k + 1) * width) - x - 1).toFixed(1)}" height="${(M.top + ph - y).toFixed(1)}" fill="${s.color}" fill-opacity="0.5"/>`,
      );
    });
    const ly = M.top + 10 + i * 18;
    parts.push(
      `<rect x="${W - M.right + 12}" y="${ly - 8}" width="12" height="8" fill="${s.color}" fill-opacity="0.5"/>`,
    );
    parts.push(
      `<text x="${W - M.right + 30}" y="${ly}" font-size="11">${escapeXml(`${s.name} (n=${s.values.length})`)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function svgOpen(w: number, h: number): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="12">\n<rect width="${w}" height="${h}" fill="white"/>`;
}

/** Axes with the (already rounded) tick values printed as they are. */
function axes(
  xt: number[],
  yt: number[],
  sx: (x: number) => number,
  sy: (y: number) => number,
  pw: number,
  ph: number,
  xLabel: string,
  yLabel: string,
): string {
  const bottom = M.top + ph;
  const out = [
    `<line x1="${M.left}" y1="${bottom}" x2="${M.left + pw}" y2="${bottom}" stroke="black"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${bottom}" stroke="black"/>`,
  ];
  for (const t of xt) {
    const x = sx(t).toFixed(1);
    out.push(
      `<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 4}" stroke="black"/><text x="${x}" y="${bottom + 16}" text-anchor="middle" font-size="10">${t}</text>`,
    );
  }
  for (const t of yt) {
    const y = sy(t).toFixed(1);
    out.push(
      `<line x1="${M.left - 4}" y1="${y}" x2="${M.left + pw}" y2="${y}" stroke="#ddd"/><text x="${M.left - 6}" y="${y}" dy="3" text-anchor="end" font-size="10">${t}</text>`,
    );
  }
  out.push(`<text x="${M.left + pw / 2}" y="${bottom + 32}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  out.push(
    `<text transform="translate(14 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
  );
  return out.join('\n');
}
