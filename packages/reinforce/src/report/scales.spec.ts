// One chart per scale: held-out metrics of a detection run (AP in 0.1–0.2, boxes per image in 3–5, and a metric
// pycocotools reports as −1 throughout) make two charts, neither with a −1 series, each with an axis around its data.
import type { MetricsRecord } from '../loop';
import { renderReport } from './page';
import { layoutByScale, mergeCoinciding, yAxis, type Series } from './scales';

const steps = [0, 100, 200, 300];
const ap = [0.1, 0.14, 0.17, 0.2];
const boxes = [3, 3.8, 4.4, 5];
const series = (name: string, ys: number[]): Series => ({
  name,
  color: '#000',
  points: ys.map((y, i) => [steps[i], y] as const),
});

describe('layoutByScale', () => {
  const layout = layoutByScale([
    series('AP', ap),
    series('APl', [-1, -1, -1, -1]),
    series('boxes_per_image', boxes),
    series('AR1', [0.2, -1, 0.25, 0.35]),
  ]);

  it('fractions on one chart, counts on another; the all −1 series on none', () => {
    expect(layout.groups.map((g) => [g.kind, g.series.map((s) => s.name)])).toEqual([
      ['fraction', ['AP', 'AR1']],
      ['magnitude', ['boxes_per_image']],
    ]);
    expect(layout.notApplicable).toEqual(['APl']);
    // A −1 point of a measured series is dropped too (AR1 at update 100).
    expect(layout.groups[0].series[1].points).toEqual([
      [0, 0.2],
      [200, 0.25],
      [300, 0.35],
    ]);
  });

  it('each axis covers its data and is not stretched to 0 where that would flatten the lines', () => {
    const [fractions, counts] = layout.groups;
    // AP and AR1, 0.1–0.35: 0.1 is within half the span (0.25) of 0, so the axis starts at 0; 0.3625 (padded by
    // 5%) rounds out to the tick step 0.05.
    expect(fractions.axis).toEqual({ range: [0, 0.4], ticks: [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4] });
    // Boxes 3–5: 0 would squeeze them into the top 40%, so the axis is 3–5 padded and rounded out to its ticks.
    expect(counts.axis).toEqual({ range: [2.5, 5.5], ticks: [2.5, 3, 3.5, 4, 4.5, 5, 5.5] });
    for (const g of layout.groups)
      for (const s of g.series)
        for (const [, y] of s.points) expect(y >= g.axis.range[0] && y <= g.axis.range[1]).toBe(true);
  });

  it('magnitudes more than 10× apart get their own charts; equal and near-equal series are drawn once', () => {
    const spread = layoutByScale([
      series('a', [3, 4, 5, 6]),
      series('b', [300, 310, 320, 330]),
      series('c', [7, 8, 9, 9]),
    ]);
    expect(spread.groups.map((g) => g.series.map((s) => s.name))).toEqual([['a', 'c'], ['b']]);
    expect(spread.groups[1].axis.range).toEqual([295, 335]);
    const merged = layoutByScale([
      series('AR10', [0.2, 0.3, 0.3, 0.35]),
      series('AP', ap),
      series('AR100', [0.2, 0.3, 0.3, 0.35]),
      series('APs', [0.1, 0.1401, 0.17, 0.2]),
    ]);
    // Axis 0–0.4: near is within 0.5% of it (0.002); APs is 0.0001 from AP.
    expect(merged.groups[0].series.map((s) => s.name)).toEqual(['AR10 = AR100', 'AP ≈ APs']);
    expect(mergeCoinciding([series('AP', ap), series('APs', [0.1, 0.1401, 0.17, 0.2])]).map((s) => s.name)).toEqual([
      'AP',
      'APs',
    ]);
  });

  it('yAxis: single values and fractions stay sensible', () => {
    expect(yAxis([0.5, 0.5], true).range).toEqual([0.44, 0.56]);
    expect(yAxis([0.98, 1], true).range).toEqual([0.975, 1]);
    expect(yAxis([-5, -4]).range).toEqual([-5.2, -3.8]);
    expect(yAxis([]).range).toEqual([0, 1]);
  });
});

describe('the held-out metric charts of a report', () => {
  const evals: MetricsRecord[] = steps.map((step, i) => ({
    kind: 'eval',
    phase: 'tune',
    step,
    wallTime: step,
    rewardMean: 0.5 + i / 10,
    metrics: { AP: ap[i], APl: -1, boxes_per_image: boxes[i] },
  }));
  const { files } = renderReport(evals);
  const charts = Object.keys(files).filter((f) => f.startsWith('tune-progress-metric'));
  /** The y range the SVG declares and its tick labels. */
  const axis = (svg: string) => ({
    range: (/data-y-range="([^"]*)"/.exec(svg)?.[1] ?? '').split(' ').map(Number),
    ticks: [...svg.matchAll(/<text class="ytick"[^>]*>([^<]*)</g)].map((m) => Number(m[1])),
    circles: [...svg.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)"/g)].map((m) => Number(m[1])),
  });

  it('draws two charts, one per scale, and no −1 series', () => {
    expect(charts.sort()).toEqual(['tune-progress-metric-2.svg', 'tune-progress-metric.svg']);
    for (const f of charts) expect(files[f]).not.toContain('APl');
    expect(files['report.html']).toContain('left out of the charts and the table): APl.');
    expect(files['report.html']).not.toContain('<td>APl</td>');
  });

  it('each chart has its own y axis around its data, its range said in the subtitle', () => {
    const fractions = axis(files['tune-progress-metric.svg']);
    // AP alone, 0.1–0.2: from 0 the line would keep half the height, so the axis is 0.095–0.205 rounded out.
    expect(fractions.range).toEqual([0.08, 0.22]);
    expect(fractions.ticks).toEqual([0.08, 0.1, 0.12, 0.14, 0.16, 0.18, 0.2, 0.22]);
    expect(files['tune-progress-metric.svg']).toContain('>y axis 0.08 to 0.22, not from 0<');
    const counts = axis(files['tune-progress-metric-2.svg']);
    expect(counts.range).toEqual([2.5, 5.5]);
    expect(files['tune-progress-metric-2.svg']).toContain('>y axis 2.5 to 5.5, not from 0<');
    // The markers spread over the plot's height (44 to 258 px): the lowest and highest points are far apart.
    for (const { circles } of [fractions, counts]) {
      expect(circles).toHaveLength(4);
      expect(Math.max(...circles) - Math.min(...circles)).toBeGreaterThan(120);
    }
  });
});
