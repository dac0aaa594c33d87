/**
 * The report's page assembly: `renderReport` turns a run's records into `report.html` and its SVG charts (pure),
 * `writeReport` puts those files into a directory. Per phase (stage I oracle, MLE, tuning) its charts (charts.ts),
 * the metrics that were not applicable, and a table of the first and last evaluation; after tuning the distributed
 * learner's throughput when the records carry it; then the per-sample reward distributions of the MLE and the tuned
 * policy with their statistics.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as E from 'fp-ts/Either';
import type { MetricsRecord } from '../loop';
import { distributionCharts, phaseCharts, throughputCharts, type Chart } from './charts';
import { currentHistory, phaseRecords, quantile, rewardDistributions, type PhaseRecords } from './records';
import { escapeXml, fmt, PALETTE, type HistogramSet } from './svg';

export interface RenderedReport {
  /** File name → content. */
  readonly files: Readonly<Record<string, string>>;
}

const HEADINGS = { oracle: 'Stage I oracle (VQ-VAE)', mle: 'MLE pretraining', tune: 'Reward tuning' } as const;

/** The tuning report's plots and page from a run's records (MLE and stage I records, if present, get their own). */
export function renderReport(logged: readonly MetricsRecord[], title = 'Reward tuning report'): RenderedReport {
  const records = currentHistory(logged);
  const files: Record<string, string> = {};
  const sections: string[] = [];
  const charts = (list: readonly Chart[]) => {
    for (const c of list) files[c.name] = c.svg;
    const imgs = list.map((c) => `<img src="${c.name}" alt="${escapeXml(c.name.replace(/\.svg$/, ''))}"/>`);
    return `<div class="charts">\n${imgs.join('\n')}\n</div>`;
  };
  for (const phase of ['oracle', 'mle', 'tune'] as const) {
    const p = phaseRecords(records, phase);
    if (p.train.length === 0 && p.evals.length === 0) continue;
    const c = phaseCharts(p);
    sections.push(`<h2>${HEADINGS[phase]}</h2>`, charts(c.charts));
    if (c.notApplicable.length > 0)
      sections.push(
        `<p class="note">Not applicable on the held-out set (−1 at every evaluation, left out of the charts and the table): ${c.notApplicable.map(escapeXml).join(', ')}.</p>`,
      );
    sections.push(finalTable(p, c.tableKeys));
    const t = phase === 'tune' ? throughputCharts(p) : undefined;
    if (t) {
      const rows = t.rows.map(([name, x]) => `<tr><td>${escapeXml(name)}</td><td>${fmt(x)}</td></tr>`);
      sections.push(
        '<h2>Distributed throughput</h2>',
        charts(t.charts),
        ['<table><tr><th>throughput</th><th></th></tr>', ...rows, '</table>'].join('\n'),
      );
    }
  }
  const { start, end } = rewardDistributions(records);
  if (start || end) {
    const sets: HistogramSet[] = [];
    if (start) sets.push({ name: 'MLE (start)', values: start.rewards, color: PALETTE[0] });
    if (end) sets.push({ name: 'tuned (end)', values: end.rewards, color: PALETTE[1] });
    sections.push('<h2>Per-sample reward distribution</h2>', charts(distributionCharts(sets)), distributionTable(sets));
  }
  files['report.html'] = [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${escapeXml(title)}</title>`,
    '<style>body{font-family:sans-serif;max-width:1320px;margin:auto;padding:0 8px}.charts{display:flex;flex-wrap:wrap;gap:8px}.note{color:#444;font-size:14px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th:first-child,td:first-child{text-align:left}</style>',
    `</head><body>\n<h1>${escapeXml(title)}</h1>`,
    ...sections,
    '</body></html>',
  ].join('\n');
  return { files };
}

function finalTable({ phase, train, evals }: PhaseRecords, keys: readonly string[]): string {
  const first = evals[0];
  const last = evals[evals.length - 1];
  const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
  const rows: [string, number | undefined, number | undefined][] =
    phase === 'oracle' ? [] : [['greedy reward (held-out)', num(first?.rewardMean), num(last?.rewardMean)]];
  if (phase !== 'tune') rows.push(['loss (held-out)', num(first?.loss), num(last?.loss)]);
  for (const k of keys) rows.push([k, num(first?.metrics[k]), num(last?.metrics[k])]);
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
