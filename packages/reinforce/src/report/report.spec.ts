// The report from synthetic records: plots have one point per record, the table holds the start/end numbers, and
// the files land in a directory; metrics.jsonl parsing names the line and field at fault.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as E from 'fp-ts/Either';
import type { MetricsRecord } from '../loop';
import {
  currentHistory,
  escapeXml,
  histogramSvg,
  niceTicks,
  parseMetricsJsonl,
  quantile,
  renderReport,
  topPercent,
  writeReport,
} from '.';

function records(): MetricsRecord[] {
  const out: MetricsRecord[] = [{ kind: 'event', phase: 'tune', step: 0, wallTime: 0, event: 'start' }];
  out.push({
    kind: 'distribution',
    phase: 'tune',
    step: 0,
    label: 'start',
    rewards: Array.from({ length: 200 }, (_, i) => i / 100),
  });
  out.push({
    kind: 'eval',
    phase: 'tune',
    step: 0,
    wallTime: 0,
    rewardMean: 1.25,
    metrics: { tokenAccuracy: 0.5, exactMatch: 0.125 },
  });
  for (let s = 1; s <= 50; s++)
    out.push({ kind: 'train', phase: 'tune', step: s, wallTime: s, loss: 0.1, rewardMean: 1 + s / 50, rewardStd: 0.5 });
  out.push({
    kind: 'eval',
    phase: 'tune',
    step: 50,
    wallTime: 50,
    rewardMean: 2.75,
    metrics: { tokenAccuracy: 0.875, exactMatch: 0.5 },
  });
  out.push({
    kind: 'distribution',
    phase: 'tune',
    step: 50,
    label: 'end',
    rewards: Array.from({ length: 200 }, (_, i) => 1 + i / 100),
  });
  return out;
}

describe('renderReport', () => {
  const { files } = renderReport(records(), 'Toy <run>');

  it('writes both progress panels, both histograms and the page', () => {
    expect(Object.keys(files).sort()).toEqual([
      'report.html',
      'rewards-hist.svg',
      'rewards-top1.svg',
      'tune-progress-metric.svg',
      'tune-progress-top.svg',
    ]);
    for (const [name, svg] of Object.entries(files))
      if (name.endsWith('.svg'))
        expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<\/svg>$/);
  });

  it('plots one point per train record and marks the evaluations', () => {
    const line = /<polyline class="series"[^>]*points="([^"]*)"/.exec(files['tune-progress-top.svg']);
    expect(line?.[1].split(' ')).toHaveLength(50);
    // Two evaluations × two metrics, drawn as markers.
    expect(files['tune-progress-metric.svg'].match(/<circle /g)).toHaveLength(4);
    expect(files['tune-progress-metric.svg']).toContain('tokenAccuracy');
  });

  it('tabulates start, end and change, and the distribution statistics', () => {
    const html = files['report.html'];
    expect(html).toContain('<title>Toy &lt;run&gt;</title>');
    expect(html).toContain('<tr><td>greedy reward (held-out)</td><td>1.25</td><td>2.75</td><td>1.50</td></tr>');
    expect(html).toContain('<tr><td>tokenAccuracy</td><td>0.500</td><td>0.875</td><td>0.375</td></tr>');
    // start rewards 0, 0.01, …, 1.99: mean 0.995; p99 = 1.99·0.99 = 1.9701 → 1.97.
    expect(html).toContain('<tr><td>MLE (start)</td><td>200</td><td>0.995</td>');
    expect(html).toMatch(/<tr><td>tuned \(end\)<\/td><td>200<\/td><td>2.00<\/td>[\s\S]*?<td>2.97<\/td><\/tr>/);
    expect(html).toContain('<img src="rewards-top1.svg"');
  });

  it('skips what the records do not have', () => {
    const only = renderReport([{ kind: 'train', phase: 'mle', step: 1, wallTime: 0, loss: 2 }]).files;
    // No evaluations: no metric chart (an empty one said nothing).
    expect(Object.keys(only).sort()).toEqual(['mle-progress-top.svg', 'report.html']);
  });
});

describe('renderReport: stage I and the distributed learner', () => {
  const logged: MetricsRecord[] = [];
  for (let s = 1; s <= 8; s++) {
    logged.push({
      kind: 'train',
      phase: 'oracle',
      step: s,
      wallTime: s,
      loss: 2 / s,
      splits: s % 3 === 0 ? 2 : 0,
      batchPerplexity: 10 + s,
    });
    if (s % 4 === 0)
      logged.push({
        kind: 'eval',
        phase: 'oracle',
        step: s,
        wallTime: s,
        rewardMean: NaN,
        loss: 2.5 / s,
        metrics: { perplexity: 5 * s, unusedFraction: 0.5 / s, maxShare: 0.25, rec_labels: 1 / s, splits: s },
      });
  }
  for (let s = 1; s <= 4; s++)
    logged.push({
      kind: 'train',
      phase: 'tune',
      step: s,
      wallTime: s,
      loss: 0.1,
      rewardMean: 0.5,
      // The learner's RolloutStats, spread into the record.
      ...{ rolloutsPerSec: 30 + s, actors: { 'a:1': 15, 'b:2': 15 + s }, idleShare: 0.5 / s, queueDepth: s },
    } as MetricsRecord);
  const { files } = renderReport(logged);

  it('stage I: loss with the per-key held-out losses, perplexity, shares and the codes split so far', () => {
    expect(
      Object.keys(files)
        .filter((f) => f.startsWith('oracle'))
        .sort(),
    ).toEqual(['oracle-codebook.svg', 'oracle-perplexity.svg', 'oracle-progress-top.svg', 'oracle-splits.svg']);
    expect(files['oracle-progress-top.svg']).toContain('rec_labels (held-out)');
    expect(files['oracle-perplexity.svg']).toMatch(/batch code \(train\)[\s\S]*held-out code/);
    expect(files['oracle-codebook.svg']).toContain('data-y-range="0 0.3"');
    // 2 codes split at updates 3 and 6: the running total ends at 4.
    const line = /<polyline class="series"[^>]*points="([^"]*)"/.exec(files['oracle-splits.svg'])?.[1].split(' ');
    expect(line).toHaveLength(8);
    expect(files['oracle-splits.svg']).toContain('data-y-range="0 5"');
    expect(files['report.html']).toContain('<tr><td>splits</td><td>4</td><td>8</td><td>4</td></tr>');
  });

  it('throughput: rollouts/s of all actors and each, the idle share on [0, 1], the queue from 0', () => {
    expect(files['throughput-rollouts.svg']).toMatch(/all actors[\s\S]*actor a:1[\s\S]*actor b:2/);
    expect(files['throughput-idle.svg']).toContain('data-y-range="0 0.6"');
    expect(files['throughput-queue.svg']).toContain('data-y-range="0 5"');
    expect(files['report.html']).toContain(
      '<tr><td>rollouts / s, all actors (mean over updates)</td><td>32.5</td></tr>',
    );
    expect(files['report.html']).toContain('<tr><td>learner idle share (at update 4)</td><td>0.125</td></tr>');
  });
});

describe('currentHistory: what a resume or a restart repeated is drawn once', () => {
  const train = (step: number, loss: number): MetricsRecord => ({
    kind: 'train',
    phase: 'tune',
    step,
    wallTime: step,
    loss,
  });
  const event = (step: number, e: 'start' | 'resumed' | 'interrupted'): MetricsRecord => ({
    kind: 'event',
    phase: 'tune',
    step,
    wallTime: step,
    event: e,
  });
  const mle: MetricsRecord = { kind: 'train', phase: 'mle', step: 9, wallTime: 0, loss: 5 };

  it('a resume at step s drops the earlier records past s, of its phase only', () => {
    // Checkpoint at 2; the first attempt logged up to 4 before it died.
    const logged = [
      mle,
      event(0, 'start'),
      train(1, 1),
      train(2, 2),
      train(3, 3),
      train(4, 4),
      event(2, 'resumed'),
      train(3, 30),
      train(4, 40),
    ];
    const kept = currentHistory(logged);
    expect(kept).toEqual([
      mle,
      event(0, 'start'),
      train(1, 1),
      train(2, 2),
      event(2, 'resumed'),
      train(3, 30),
      train(4, 40),
    ]);
    expect(renderReport(logged).files['report.html']).toContain(
      '<tr><td>updates / last train loss</td><td>4</td><td>40</td>',
    );
  });

  it('a fresh start drops all of its phase that came before (a run that died before its first checkpoint)', () => {
    expect(currentHistory([mle, event(0, 'start'), train(1, 1), event(0, 'start'), train(1, 10)])).toEqual([
      mle,
      event(0, 'start'),
      train(1, 10),
    ]);
  });
});

describe('plot helpers', () => {
  it('niceTicks: steps of 1, 2 or 5 × 10^k', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(3, 97)).toEqual([20, 40, 60, 80]);
    expect(niceTicks(2, 2)).toEqual([2]);
    // Two rewards a few ulps apart (the top 1% of a start and an end distribution): one tick, not an endless loop.
    expect(niceTicks(0.6946291937688034, 0.6946291937688036)).toEqual([0.6946291937688034]);
    const svg = histogramSvg('h', 'x', [
      { name: 'a', values: [0.6946291937688034], color: '#000' },
      { name: 'b', values: [0.6946291937688036], color: '#111' },
    ]);
    expect(svg).toContain('</svg>');
  });

  it('quantile interpolates like numpy; topPercent keeps the highest ⌈1%⌉', () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4], 0.01)).toBeCloseTo(1.03, 12);
    expect(topPercent(Array.from({ length: 200 }, (_, i) => i))).toEqual([198, 199]);
    expect(topPercent([5, 1])).toEqual([5]);
  });

  it('histogram bars are fractions of each set on shared bins', () => {
    // Values 0 and 1 in 2 bins: each set puts all its mass in one bin, so two full-height bars.
    const svg = histogramSvg(
      'h',
      'x',
      [
        { name: 'a', values: [0, 0], color: '#000' },
        { name: 'b', values: [1], color: '#111' },
      ],
      2,
    );
    const heights = [...svg.matchAll(/<rect class="bar"[^>]*height="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(heights).toHaveLength(2);
    expect(heights[0]).toBe(heights[1]);
    expect(escapeXml('a<b & "c"')).toBe('a&lt;b &amp; &quot;c&quot;');
  });
});

describe('writeReport and parseMetricsJsonl', () => {
  it('round-trips records through metrics.jsonl into a report directory', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'reinforce-report-'));
    const text =
      records()
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n';
    const parsed = parseMetricsJsonl(text);
    expect(E.isRight(parsed) && parsed.right).toEqual(records());
    const written = await writeReport(path.join(dir, 'out'), records());
    expect(E.isRight(written) && written.right.map((f) => path.basename(f)).sort()).toContain('report.html');
    expect(await fs.readFile(path.join(dir, 'out', 'report.html'), 'utf8')).toContain('<h2>Reward tuning</h2>');
    await fs.rm(dir, { recursive: true });
  });

  it('names the file, line and field of a bad record', () => {
    expect(
      parseMetricsJsonl(
        '{"kind":"train","phase":"tune","step":1,"loss":1}\n{"kind":"train","phase":"tune"}',
        'run/metrics.jsonl',
      ),
    ).toEqual(E.left("run/metrics.jsonl:2: field 'step' must be a number"));
    expect(parseMetricsJsonl('nope')).toEqual(E.left('metrics.jsonl:1: not valid JSON'));
  });

  it('reports a directory it cannot create', async () => {
    // A directory below a regular file cannot exist.
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'reinforce-report-'));
    const file = path.join(dir, 'file');
    await fs.writeFile(file, '');
    const r = await writeReport(path.join(file, 'out'), records());
    expect(
      E.isLeft(r) && r.left.startsWith(`${path.join(file, 'out')}: cannot create the report directory (ENOTDIR`),
    ).toBe(true);
    await fs.rm(dir, { recursive: true });
  });
});
