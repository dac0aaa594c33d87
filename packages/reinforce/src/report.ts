/**
 * The run report from the metrics records, with no plotting dependency: hand-written SVG for the reward–metric
 * progression (two panels against the update step) and the per-sample reward distribution of the MLE policy against
 * the tuned one (histograms, plus a view of each distribution's top 1%), and a `report.html` that embeds them with
 * a table of final numbers. `renderReport` is pure; `writeReport` puts its files into a directory;
 * `parseMetricsJsonl` reads a `metrics.jsonl` back.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as E from 'fp-ts/Either';
import { PHASES, type MetricsRecord } from './loop';

type Train = Extract<MetricsRecord, { kind: 'train' }>;
type Eval = Extract<MetricsRecord, { kind: 'eval' }>;
type Dist = Extract<MetricsRecord, { kind: 'distribution' }>;

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly color: string;
  /** Draw markers only (sparse evaluations) instead of a line with markers. */
  readonly markersOnly?: boolean;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const W = 720;
const H = 280;
const M = { left: 60, right: 210, top: 30, bottom: 40 };

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const fmt = (x: number): string =>
  Number.isFinite(x) ? (Math.abs(x) >= 1000 || x === Math.round(x) ? x.toFixed(0) : x.toPrecision(3)) : String(x);

/**
 * Whether [lo, hi] is a single value for plotting: equal, or apart by less than the numbers resolve (e.g. two
 * rewards a few ulps apart), where a step between them would not move a tick.
 */
const pointLike = (lo: number, hi: number): boolean => !(hi - lo > Math.max(Math.abs(lo), Math.abs(hi)) * 1e-12);

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 × 10^k). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (pointLike(lo, hi)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) as number;
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step); k * step <= hi + step * 1e-9; k++) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

function extent(values: number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (pointLike(lo, hi)) {
    lo -= 0.5;
    hi += 0.5;
  }
  return [lo, hi];
}

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

/** The highest ⌈1%⌉ of the values (at least one), ascending. */
export function topPercent(values: readonly number[], percent = 1): number[] {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const k = Math.max(1, Math.ceil((sorted.length * percent) / 100));
  return sorted.slice(Math.max(0, sorted.length - k));
}

/** Linear-interpolated quantile q ∈ [0, 1] (numpy's default). */
export function quantile(values: readonly number[], q: number): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = q * (s.length - 1);
  const i = Math.floor(pos);
  return i + 1 < s.length ? s[i] + (pos - i) * (s[i + 1] - s[i]) : s[i];
}

export interface RenderedReport {
  /** File name → content. */
  readonly files: Readonly<Record<string, string>>;
}

/** The tuning report's plots and page from a run's records (MLE records, if present, get their own progression). */
export function renderReport(logged: readonly MetricsRecord[], title = 'Reward tuning report'): RenderedReport {
  const records = currentHistory(logged);
  const files: Record<string, string> = {};
  const sections: string[] = [];
  for (const phase of ['oracle', 'mle', 'tune'] as const) {
    const train = records.filter((r): r is Train => r.kind === 'train' && r.phase === phase);
    const evals = records.filter((r): r is Eval => r.kind === 'eval' && r.phase === phase);
    if (train.length === 0 && evals.length === 0) continue;
    const top: Series[] =
      phase === 'tune'
        ? [
            {
              name: 'sample reward (train)',
              color: PALETTE[0],
              points: train.filter((r) => r.rewardMean !== undefined).map((r) => [r.step, r.rewardMean as number]),
            },
            {
              name: 'greedy reward (held-out)',
              color: PALETTE[1],
              points: evals.map((r) => [r.step, r.rewardMean]),
              markersOnly: evals.length < 3,
            },
          ]
        : [
            { name: 'loss (train)', color: PALETTE[0], points: train.map((r) => [r.step, r.loss]) },
            {
              name: 'loss (held-out)',
              color: PALETTE[1],
              points: evals.filter((r) => r.loss !== undefined).map((r) => [r.step, r.loss as number]),
              markersOnly: evals.length < 3,
            },
          ];
    const keys = [...new Set(evals.flatMap((r) => Object.keys(r.metrics)))].sort();
    const bottom: Series[] = keys.map((k, i) => ({
      name: k,
      color: PALETTE[(i + 2) % PALETTE.length],
      points: evals.filter((r) => r.metrics[k] !== undefined).map((r) => [r.step, r.metrics[k]]),
      markersOnly: evals.length < 3,
    }));
    const name = `${phase}-progress`;
    const oracle = phase === 'oracle';
    files[`${name}-top.svg`] = lineChartSvg(
      phase === 'tune' ? 'Reward' : oracle ? 'Stage I loss' : 'MLE loss',
      'update',
      phase === 'tune' ? 'mean reward' : oracle ? 'reconstruction loss' : 'cross-entropy',
      top,
    );
    files[`${name}-metric.svg`] = lineChartSvg(
      oracle ? 'Codebook use' : 'Held-out metric (greedy decoding)',
      'update',
      'metric',
      bottom,
    );
    const heading = phase === 'tune' ? 'Reward tuning' : oracle ? 'Stage I oracle (VQ-VAE)' : 'MLE pretraining';
    sections.push(
      `<h2>${heading}</h2>\n<img src="${name}-top.svg" alt="${name} top"/>\n<img src="${name}-metric.svg" alt="${name} metric"/>`,
      finalTable(phase, train, evals, keys),
    );
  }
  const start = records.find((r): r is Dist => r.kind === 'distribution' && r.label === 'start');
  const end = [...records].reverse().find((r): r is Dist => r.kind === 'distribution' && r.label === 'end');
  if (start || end) {
    const sets: HistogramSet[] = [];
    if (start) sets.push({ name: 'MLE (start)', values: start.rewards, color: PALETTE[0] });
    if (end) sets.push({ name: 'tuned (end)', values: end.rewards, color: PALETTE[1] });
    files['rewards-hist.svg'] = histogramSvg('Per-sample reward, T=1 samples of held-out inputs', 'reward', sets);
    files['rewards-top1.svg'] = histogramSvg(
      'Top 1% of each distribution',
      'reward',
      sets.map((s) => ({ ...s, values: topPercent(s.values) })),
      20,
    );
    sections.push(
      '<h2>Per-sample reward distribution</h2>\n<img src="rewards-hist.svg" alt="reward histogram"/>\n<img src="rewards-top1.svg" alt="top 1% rewards"/>',
      distributionTable(sets),
    );
  }
  files['report.html'] = [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${escapeXml(title)}</title>`,
    '<style>body{font-family:sans-serif;max-width:1320px;margin:auto}img{margin:4px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th:first-child,td:first-child{text-align:left}</style>',
    `</head><body>\n<h1>${escapeXml(title)}</h1>`,
    ...sections,
    '</body></html>',
  ].join('\n');
  return { files };
}

/**
 * The records of the run as it now stands. A loop resumed from its checkpoint at step s repeats the updates after s
 * that a crash or Ctrl-C may already have logged, and one started afresh in a run directory without a checkpoint
 * repeats everything: so a `resumed` event at step s drops its phase's earlier records past s, and a `start` event
 * all of its phase's earlier records.
 */
export function currentHistory(records: readonly MetricsRecord[]): MetricsRecord[] {
  let out: MetricsRecord[] = [];
  for (const r of records) {
    if (r.kind === 'event' && (r.event === 'resumed' || r.event === 'start')) {
      const keepUpTo = r.event === 'resumed' ? r.step : -Infinity;
      out = out.filter((x) => x.phase !== r.phase || x.step <= keepUpTo);
    }
    out.push(r);
  }
  return out;
}

function finalTable(phase: string, train: Train[], evals: Eval[], keys: string[]): string {
  const first = evals[0];
  const last = evals[evals.length - 1];
  const rows: [string, number | undefined, number | undefined][] =
    phase === 'oracle' ? [] : [['greedy reward (held-out)', first?.rewardMean, last?.rewardMean]];
  if (phase !== 'tune') rows.push(['loss (held-out)', first?.loss, last?.loss]);
  for (const k of keys) rows.push([k, first?.metrics[k], last?.metrics[k]]);
  const lastTrain = train[train.length - 1];
  const cell = (x: number | undefined) => `<td>${x === undefined ? '—' : fmt(x)}</td>`;
  const body = rows.map(
    ([name, a, b]) =>
      `<tr><td>${escapeXml(name)}</td>${cell(a)}${cell(b)}${cell(a !== undefined && b !== undefined ? b - a : undefined)}</tr>`,
  );
  return [
    `<table><tr><th>${escapeXml(phase)}: held-out</th><th>update ${first?.step ?? '—'}</th><th>update ${last?.step ?? '—'}</th><th>change</th></tr>`,
    ...body,
    `<tr><td>updates / last train loss</td><td>${train.length}</td><td>${lastTrain ? fmt(lastTrain.loss) : '—'}</td><td></td></tr>`,
    '</table>',
  ].join('\n');
}

function distributionTable(sets: HistogramSet[]): string {
  const stats = (v: readonly number[]) => {
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
    return [v.length, mean, std, quantile(v, 0.01), quantile(v, 0.5), quantile(v, 0.99)];
  };
  const head =
    '<tr><th>policy</th><th>samples</th><th>mean</th><th>std</th><th>p1</th><th>median</th><th>p99</th></tr>';
  const body = sets.map(
    (s) =>
      `<tr><td>${escapeXml(s.name)}</td>${stats(s.values)
        .map((x) => `<td>${fmt(x)}</td>`)
        .join('')}</tr>`,
  );
  return ['<table>', head, ...body, '</table>'].join('\n');
}

/** Writes `renderReport`'s files into `dir` (created if missing); Left names the file that failed. */
export async function writeReport(
  dir: string,
  records: readonly MetricsRecord[],
  title?: string,
): Promise<E.Either<string, string[]>> {
  const { files } = renderReport(records, title);
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (e) {
    return E.left(`${dir}: cannot create the report directory (${(e as Error).message})`);
  }
  const written: string[] = [];
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    try {
      await fs.writeFile(file, content, 'utf8');
    } catch (e) {
      return E.left(`${file}: cannot write (${(e as Error).message})`);
    }
    written.push(file);
  }
  return E.right(written);
}

const KINDS = new Set(['train', 'eval', 'distribution', 'event']);

/** Parses `metrics.jsonl` (one record a line; blank lines skipped); Left names the file, line and field. */
export function parseMetricsJsonl(text: string, file = 'metrics.jsonl'): E.Either<string, MetricsRecord[]> {
  const out: MetricsRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const where = `${file}:${i + 1}`;
    let rec: unknown;
    try {
      rec = JSON.parse(lines[i]);
    } catch {
      return E.left(`${where}: not valid JSON`);
    }
    if (typeof rec !== 'object' || rec === null) return E.left(`${where}: expected an object`);
    const r = rec as Record<string, unknown>;
    if (typeof r.kind !== 'string' || !KINDS.has(r.kind))
      return E.left(`${where}: field 'kind' must be one of ${[...KINDS].join(', ')}`);
    if (!(PHASES as readonly unknown[]).includes(r.phase))
      return E.left(`${where}: field 'phase' must be one of ${PHASES.map((p) => `'${p}'`).join(', ')}`);
    if (typeof r.step !== 'number') return E.left(`${where}: field 'step' must be a number`);
    if (r.kind === 'eval' && (typeof r.metrics !== 'object' || r.metrics === null))
      return E.left(`${where}: field 'metrics' must be an object`);
    if (r.kind === 'distribution' && !Array.isArray(r.rewards))
      return E.left(`${where}: field 'rewards' must be an array`);
    out.push(r as unknown as MetricsRecord);
  }
  return E.right(out);
}
