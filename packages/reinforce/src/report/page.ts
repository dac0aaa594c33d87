/**
 * The report's page assembly: `renderReport` turns a run's records into `report.html` and its SVG charts (pure:
 * the reward–metric progression, two panels against the update step, per phase, and the per-sample reward
 * distribution of the MLE policy against the tuned one, histograms plus each one's top 1%), with a table of final
 * numbers; `writeReport` puts those files into a directory.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as E from 'fp-ts/Either';
import type { MetricsRecord } from '../loop';
import { currentHistory, quantile, topPercent, type Dist, type Eval, type Train } from './records';
import type { Series } from './scales';
import { escapeXml, fmt, histogramSvg, lineChartSvg, PALETTE, type HistogramSet } from './svg';

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
