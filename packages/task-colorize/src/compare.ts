/**
 * The colorization demo's comparison of the MLE and the tuned stage II model on the same test images: the table
 * printed on stderr (ground truth, zero code, MLE and tuned greedy and T = 1 samples: colourfulness, near-grey
 * fraction, PSNR, luma PSNR, colour Fréchet proxy), and `compare.html` in the tuned run: the table, the
 * colourfulness-vs-PSNR curve over tuning steps (the held-out evaluations of metrics.jsonl), colourfulness
 * histograms MLE vs tuned, and a grid per image: grey | ground truth | MLE | tuned | three tuned samples.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { histogramSvg, lineChartSvg, parseMetricsJsonl, type DemoResults } from '@reward-tune/reinforce';
import type { ColorizeConfig } from './config';
import type { ColourItem } from './data';
import { pictureTag, type ColorizeEval, type ColourStats } from './eval';

type Row = readonly [name: string, stats: ColourStats | null, frechet: number];

const fmt = (x: number | undefined, d = 2): string => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));

/** The rows of the comparison for one pair of evaluations. */
export function compareRows(mle: ColorizeEval, tuned: ColorizeEval): Row[] {
  const gt: ColourStats = { ...mle.groundTruth, psnr: NaN, luma_psnr: NaN };
  return [
    ['ground truth', gt, NaN],
    ['oracle, true code', mle.trueCode, NaN],
    ['zero code', mle.zeroCode, NaN],
    ['MLE greedy', mle.greedy, mle.frechet],
    ['MLE samples', mle.samples, mle.samples?.frechet ?? NaN],
    ['tuned greedy', tuned.greedy, tuned.frechet],
    ['tuned samples', tuned.samples, tuned.samples?.frechet ?? NaN],
  ];
}

export function colorizeTable(rows: readonly Row[]): string {
  const head = `${'model'.padEnd(20)}${['colourful', 'grey %', 'PSNR', 'luma PSNR', 'Fréchet*'].map((c) => c.padStart(11)).join('')}`;
  const lines = rows.map(
    ([name, s, fr]) =>
      `${name.padEnd(20)}${[
        fmt(s?.colourfulness),
        fmt(s ? 100 * s.grey_fraction : undefined),
        fmt(s?.psnr),
        fmt(s?.luma_psnr),
        fmt(fr),
      ]
        .map((c) => c.padStart(11))
        .join('')}`,
  );
  return [
    head,
    ...lines,
    '* colour-statistics Fréchet distance to the ground truth (a project-defined proxy, not FID)',
  ].join('\n');
}

/** The held-out (val) evaluations of a tuning run's metrics.jsonl: [step, colourfulness] and [step, PSNR]. */
export function tuningCurve(runDir: string): { colour: [number, number][]; psnr: [number, number][] } {
  const file = path.join(runDir, 'metrics.jsonl');
  const out = { colour: [] as [number, number][], psnr: [] as [number, number][] };
  if (!existsSync(file)) return out;
  const recs = parseMetricsJsonl(readFileSync(file, 'utf8'), file);
  if (E.isLeft(recs)) return out;
  for (const r of recs.right as readonly Record<string, unknown>[]) {
    if (r.kind !== 'eval' || r.phase !== 'tune' || typeof r.step !== 'number') continue;
    const m = (r.metrics ?? {}) as Record<string, unknown>;
    if (typeof m.colourfulness === 'number' && typeof m.psnr === 'number') {
      out.colour.push([r.step, m.colourfulness]);
      out.psnr.push([r.step, m.psnr]);
    }
  }
  return out;
}

export function colorizeCompare(r: DemoResults<ColorizeConfig, ColourItem, ColorizeEval>): {
  table: string;
  page: string;
} {
  const mle = r.mle.ev;
  const tuned = r.tuned.ev;
  const rows = compareRows(mle, tuned);
  const table = colorizeTable(rows);
  const dir = path.join(r.tuned.run.dir, 'compare');
  mkdirSync(dir, { recursive: true });
  const s = r.images.size;
  const per = s * s * 3;
  const grid = mle.pictures.greedy.map((m, i) => {
    const cells = [
      pictureTag(dir, `${i}_grey`, r.images.pixels.slice(i * per, (i + 1) * per), s),
      pictureTag(dir, `${i}_truth`, r.images.examples[i].rgb, s),
      pictureTag(dir, `${i}_mle`, m, s),
      pictureTag(dir, `${i}_tuned`, tuned.pictures.greedy[i], s),
      ...(tuned.pictures.samples[i] ?? []).slice(0, 3).map((x, k) => pictureTag(dir, `${i}_tuned_sample${k}`, x, s)),
    ];
    return `<tr>${cells.map((c) => `<td>${c.replace('src="', 'src="compare/')}</td>`).join('')}</tr>`;
  });
  const curve = tuningCurve(r.tuned.run.dir);
  const trade =
    curve.colour.length > 0 && curve.psnr.length === curve.colour.length
      ? lineChartSvg(
          'Tuning: colourfulness vs PSNR (held-out val evaluations)',
          'PSNR to ground truth (dB)',
          'colourfulness',
          [{ name: 'tuned', color: '#d62728', points: curve.colour.map(([, c], k) => [curve.psnr[k][1], c] as const) }],
        )
      : '<p>(no held-out evaluations in metrics.jsonl)</p>';
  const hist = histogramSvg('Colourfulness per test image (greedy)', 'colourfulness', [
    { name: 'ground truth', values: [...mle.perImage.groundTruth], color: '#7f7f7f' },
    { name: 'MLE', values: [...mle.perImage.greedy], color: '#1f77b4' },
    { name: 'tuned', values: [...tuned.perImage.greedy], color: '#d62728' },
  ]);
  const page = `<!doctype html><meta charset="utf-8"><title>task-colorize demo</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:3px 8px;border:1px solid #ccc}img{image-rendering:pixelated}pre{background:#f6f6f6;padding:8px}</style>
<h1>Colorization: MLE vs reward-tuned (preset ${r.preset}, seed ${r.cfg.seed})</h1>
<p>Test split, ${r.images.examples.length} images; reward ${r.cfg.reward.kind}${r.cfg.reward.fidelityWeight ? ` + ${r.cfg.reward.fidelityWeight} × luma PSNR (project extension)` : ''}.</p>
<pre>${table}</pre>
${trade}
${hist}
<table><tr><th>grey</th><th>ground truth</th><th>MLE</th><th>tuned</th><th colspan="3">tuned samples (T = 1)</th></tr>
${grid.join('\n')}
</table>
`;
  const file = r.tuned.run.writeFile('compare.html', page);
  writeFileSync(path.join(dir, 'table.txt'), `${table}\n`);
  return { table, page: file };
}
