/**
 * The caption demo's comparison of the MLE and the tuned model: the table printed on stderr (CIDEr-D, BLEU-1..4,
 * mean reward, words per caption) on the test split (the headline) and the validation split (where the recipe was
 * chosen), and `compare.html` in the tuned run: the same table, then the first `eval.pictures` test images with the
 * MLE and the tuned greedy captions next to the references.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodePng } from '@reward-tune/core-model';
import type { DemoResults } from '@reward-tune/reinforce';
import type { CaptionConfig } from './config';
import type { CaptionExample } from './dataset';
import { enlarged, escapeHtml, type CaptionEval } from './eval';

const COLUMNS: readonly [string, (e: CaptionEval) => number][] = [
  ['CIDEr-D', (e) => e.metrics['CIDEr-D']],
  ['BLEU-1', (e) => e.metrics['BLEU-1']],
  ['BLEU-2', (e) => e.metrics['BLEU-2']],
  ['BLEU-3', (e) => e.metrics['BLEU-3']],
  ['BLEU-4', (e) => e.metrics['BLEU-4']],
  ['reward', (e) => e.meanReward],
  ['words', (e) => e.metrics.caption_length],
];

/** A table row: the split, the model, its evaluation. */
type Row = readonly [split: string, model: string, ev: CaptionEval];

export function captionTable(rows: readonly Row[]): string {
  const head = `${'split'.padEnd(6)}${'model'.padEnd(8)}${COLUMNS.map(([c]) => c.padStart(10)).join('')}`;
  const lines = rows.map(
    ([split, name, e]) =>
      `${split.padEnd(6)}${name.padEnd(8)}${COLUMNS.map(([, f]) => f(e).toFixed(3).padStart(10)).join('')}`,
  );
  return [head, ...lines].join('\n');
}

function page(
  rows: readonly Row[],
  examples: readonly string[],
  preset: string,
  seed: number,
  counts: { readonly test: number; readonly val: number },
): string {
  const trs = rows
    .map(
      ([split, n, e]) =>
        `<tr><td>${split}</td><td>${escapeHtml(n)}</td>${COLUMNS.map(([, f]) => `<td>${f(e).toFixed(3)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<!doctype html><meta charset="utf-8"><title>task-caption demo</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:4px 10px;border:1px solid #ccc;vertical-align:top}td.n{text-align:right}img{image-rendering:pixelated}ul{margin:0;padding-left:1.2em}</style>
<h1>Captioning: MLE vs reward-tuned (preset ${escapeHtml(preset)}, seed ${seed})</h1>
<p>The headline is the <b>test split</b> (${counts.test} images, held out from every choice); the validation split
(${counts.val} images) is where the recipe was chosen. Greedy decoding for both; CIDEr-D on the scorer's scale (×10, not the ×100 papers print), corpus
document frequencies from the evaluated references; reward = per-image CIDEr-D under the training document
frequencies. Reward and metric curves: <a href="report.html">report.html</a>.</p>
<table><tr><th>split</th><th>model</th>${COLUMNS.map(([c]) => `<th>${c === 'words' ? 'words/caption' : c === 'reward' ? 'mean reward' : c}</th>`).join('')}</tr>
${trs}</table>
<h2>Test images</h2>
<table><tr><th>image</th><th>MLE</th><th>tuned</th><th>references</th></tr>
${examples.join('\n')}</table>
`;
}

/** Writes compare.html and its pictures into the tuned run; returns the table and the page's path. */
export function comparison({
  preset,
  cfg,
  split,
  images,
  mle,
  tuned,
  val,
}: DemoResults<CaptionConfig, CaptionExample, CaptionEval>): {
  table: string;
  page: string;
} {
  const rows: Row[] = [
    [split, 'MLE', mle.ev],
    [split, 'tuned', tuned.ev],
    ['val', 'MLE', val.mle],
    ['val', 'tuned', val.tuned],
  ];
  const dir = tuned.run.dir;
  mkdirSync(path.join(dir, 'compare'), { recursive: true });
  const examples: string[] = [];
  for (let i = 0; i < Math.min(cfg.eval.pictures, images.examples.length); i++) {
    const picture = `compare/${split}_${String(i).padStart(3, '0')}.png`;
    writeFileSync(path.join(dir, picture), encodePng(enlarged(images, i)));
    const refs = images.examples[i].references.map((r) => `<li>${escapeHtml(r)}</li>`).join('');
    examples.push(
      `<tr><td><img src="${picture}"></td><td>${escapeHtml(mle.ev.predictions[i].caption)}</td><td>${escapeHtml(tuned.ev.predictions[i].caption)}</td><td><ul>${refs}</ul></td></tr>`,
    );
  }
  const file = path.join(dir, 'compare.html');
  const counts = { test: images.examples.length, val: val.images.examples.length };
  writeFileSync(file, page(rows, examples, preset, cfg.seed, counts));
  return { table: captionTable(rows), page: file };
}
