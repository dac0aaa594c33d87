/**
 * The charts of each report section, as named SVG files: a phase's progress (loss, or reward for tuning), its
 * held-out metrics one chart per scale (scales.ts), stage I's codebook health (perplexity, shares, dead codes
 * split), the distributed learner's throughput, and the reward distributions. page.ts puts them on the page.
 */
import {
  cumulative,
  metricKeys,
  metricSeries,
  ORACLE_PERPLEXITY,
  ORACLE_SHARES,
  oraclePerplexitySeries,
  progressSeries,
  throughputSeries,
  topPercent,
  type PhaseRecords,
} from './records';
import { layoutByScale, yAxis, type Axis, type ScaleGroup, type Series } from './scales';
import { histogramSvg, lineChartSvg, PALETTE, type HistogramSet } from './svg';

/** One chart file of the report. */
export interface Chart {
  readonly name: string;
  readonly svg: string;
}

/** A number as a tick prints it (0.4, not 0.400). */
export const round = (x: number): string => String(Number(x.toPrecision(6)));

/** "y axis 3 to 5.5, not from 0": what a chart's own axis spans. */
function axisNote({ range: [lo, hi] }: Axis): string {
  return `y axis ${round(lo)} to ${round(hi)}${lo > 0 ? ', not from 0' : ''}`;
}

const values = (series: readonly Series[]) => series.flatMap((s) => s.points.map((q) => q[1]));
const recolor = (series: readonly Series[]) => series.map((s, i) => ({ ...s, color: PALETTE[i % PALETTE.length] }));

/** A phase's charts, and which held-out metrics its table lists (those with a value other than −1). */
export interface PhaseCharts {
  readonly charts: readonly Chart[];
  /** Metrics that were −1 ("not applicable") at every evaluation: in no chart and no table row. */
  readonly notApplicable: readonly string[];
  readonly tableKeys: readonly string[];
}

export function phaseCharts(p: PhaseRecords): PhaseCharts {
  const oracle = p.phase === 'oracle';
  const all = metricKeys(p.evals);
  // Stage I draws its per-key held-out losses with the loss, and its codebook health on charts of their own.
  const recKeys = oracle ? all.filter((k) => k.startsWith('rec_')) : [];
  const own = new Set([
    ...recKeys,
    ...(oracle ? [...Object.keys(ORACLE_PERPLEXITY), ...Object.keys(ORACLE_SHARES), 'splits'] : []),
  ]);
  const top = recolor([
    ...progressSeries(p),
    ...metricSeries(p.evals, recKeys).map((s) => ({ ...s, name: `${s.name} (held-out)` })),
  ]);
  const charts: Chart[] = [
    {
      name: `${p.phase}-progress-top.svg`,
      svg:
        p.phase === 'tune'
          ? lineChartSvg('Reward', 'update', 'mean reward', top)
          : oracle
            ? lineChartSvg('Stage I loss', 'update', 'reconstruction loss', top)
            : lineChartSvg('MLE loss', 'update', 'cross-entropy', top),
    },
  ];
  if (oracle) charts.push(...oracleCharts(p));
  const layout = layoutByScale(
    metricSeries(
      p.evals,
      all.filter((k) => !own.has(k)),
    ),
  );
  layout.groups.forEach((g, i) =>
    charts.push({ name: `${p.phase}-progress-metric${i === 0 ? '' : `-${i + 1}`}.svg`, svg: metricChart(g, oracle) }),
  );
  return {
    charts,
    notApplicable: layout.notApplicable,
    tableKeys: all.filter((k) => !layout.notApplicable.includes(k)),
  };
}

/** One scale group of held-out metrics on its own axis. */
function metricChart(g: ScaleGroup, oracle: boolean): string {
  const series = recolor(g.series);
  const names = series.map((s) => s.name);
  const what =
    g.kind === 'fraction' && names.length > 3 ? 'metrics in [0, 1]' : names.length > 3 ? 'metrics' : names.join(', ');
  const title = `Held-out ${what}${oracle ? '' : ' (greedy decoding)'}`;
  const yLabel = names.length === 1 ? names[0] : g.kind === 'fraction' ? 'fraction' : 'value';
  const near = names.some((n) => n.includes(' ≈ ')) ? `; a ≈ b: within ${round(g.tolerance)} at every point` : '';
  return lineChartSvg(title, 'update', yLabel, series, { yAxis: g.axis, subtitle: axisNote(g.axis) + near });
}

/** Stage I's codebook health: perplexity, the shares (unused codes, most used code), dead codes split so far. */
function oracleCharts(p: PhaseRecords): Chart[] {
  const charts: Chart[] = [];
  const perplexity = oraclePerplexitySeries(p);
  if (perplexity.length > 0)
    charts.push({
      name: 'oracle-perplexity.svg',
      svg: lineChartSvg('Codebook perplexity', 'update', 'perplexity (codes in use)', recolor(perplexity), {
        subtitle: 'exp(entropy of the code usage): the dictionary size when every code is used equally',
      }),
    });
  const shares = metricSeries(p.evals, Object.keys(ORACLE_SHARES), ORACLE_SHARES).filter((s) => s.points.length > 0);
  if (shares.length > 0) {
    const axis = yAxis(values(shares), true);
    charts.push({
      name: 'oracle-codebook.svg',
      svg: lineChartSvg('Codebook use', 'update', 'share of the dictionary / of the code', shares, {
        yAxis: axis,
        subtitle: axisNote(axis),
      }),
    });
  }
  const splits = cumulative(p.train, 'splits');
  if (splits.length > 0) {
    const series = [{ name: 'codes split', color: PALETTE[0], points: splits }];
    const axis = yAxis([0, ...values(series)]);
    charts.push({
      name: 'oracle-splits.svg',
      svg: lineChartSvg('Dead codes replaced', 'update', 'codes split so far', series, { yAxis: axis }),
    });
  }
  return charts;
}

/** The distributed learner's throughput charts and summary rows (label, value); undefined for a local run. */
export function throughputCharts(p: PhaseRecords): { charts: Chart[]; rows: [string, number][] } | undefined {
  const t = throughputSeries(p.train);
  if (!t) return undefined;
  const charts: Chart[] = [];
  const rows: [string, number][] = [];
  const mean = (s: Series) => s.points.reduce((a, q) => a + q[1], 0) / s.points.length;
  // Rates and queue lengths from 0, where an idle actor or an empty queue shows as what it is.
  if (t.rollouts.length > 0) {
    const axis = yAxis([0, ...values(t.rollouts)]);
    charts.push({
      name: 'throughput-rollouts.svg',
      svg: lineChartSvg('Rollouts per second', 'update', 'rollouts / s', t.rollouts, { yAxis: axis }),
    });
    rows.push(['rollouts / s, all actors (mean over updates)', mean(t.rollouts[0])]);
  }
  if (t.idle.length > 0) {
    const axis = yAxis(values(t.idle), true);
    charts.push({
      name: 'throughput-idle.svg',
      svg: lineChartSvg('Learner idle share', 'update', 'share of wall time waiting', t.idle, {
        yAxis: axis,
        subtitle: `time spent waiting for rollouts since the start; ${axisNote(axis)}`,
      }),
    });
    const last = t.idle[0].points[t.idle[0].points.length - 1];
    rows.push([`learner idle share (at update ${last[0]})`, last[1]]);
  }
  if (t.queue.length > 0) {
    const axis = yAxis([0, ...values(t.queue)]);
    charts.push({
      name: 'throughput-queue.svg',
      svg: lineChartSvg('Queue depth', 'update', 'rollout jobs queued', t.queue, { yAxis: axis }),
    });
    rows.push(['rollout jobs queued (mean over updates)', mean(t.queue[0])]);
  }
  return { charts, rows };
}

/** The per-sample reward histograms of the MLE and the tuned policy, and of each one's top 1%. */
export function distributionCharts(sets: readonly HistogramSet[]): Chart[] {
  return [
    {
      name: 'rewards-hist.svg',
      svg: histogramSvg('Per-sample reward, T=1 samples of held-out inputs', 'reward', sets),
    },
    {
      name: 'rewards-top1.svg',
      svg: histogramSvg(
        'Top 1% of each distribution',
        'reward',
        sets.map((s) => ({ ...s, values: topPercent(s.values) })),
        20,
      ),
    },
  ];
}
