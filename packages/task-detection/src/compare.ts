/**
 * The detection demo's comparison of the MLE and the tuned model: the table printed on stderr (AP, AP50, AP75, AR1,
 * AR10, AR100 under the configured score rule, AP under the other rule, mean reward, boxes and duplicates per
 * image), on the test split (the headline) and on the validation split (where the recipe was chosen), and
 * `compare.html` in the tuned run with the same table and, on the same test images, the ground truth beside both
 * models' predictions.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodePng } from '@reward-tune/core-model';
import type { DemoResults } from '@reward-tune/reinforce';
import type { DetectionConfig, ScoreRule } from './config';
import type { DetectionExample } from './dataset';
import { drawPredictions, type BaseRule, type DetectionEval } from './eval';

/** The other of the two rules every evaluation has (the table shows AP under it too); likelihood beside `fitted`. */
const otherRule = (rule: ScoreRule): BaseRule => (rule === 'likelihood' ? 'confidence' : 'likelihood');

function columns(rule: ScoreRule): [string, (e: DetectionEval) => number][] {
  const other = otherRule(rule);
  return [
    ['AP', (e) => e.metrics.AP],
    ['AP50', (e) => e.metrics.AP50],
    ['AP75', (e) => e.metrics.AP75],
    ['AR1', (e) => e.metrics.AR1],
    ['AR10', (e) => e.metrics.AR10],
    ['AR100', (e) => e.metrics.AR100],
    [`AP ${other.slice(0, 4)}.`, (e) => e.byScore[other].AP],
    ['reward', (e) => e.meanReward],
    ['boxes/img', (e) => e.metrics.boxes_per_image],
    ['dups/img', (e) => e.outcomes.duplicate / Math.max(1, e.predictions.length)],
  ];
}

/** A table row: the split, the model, its evaluation. */
type Row = readonly [split: string, model: string, ev: DetectionEval];

function table(rows: readonly Row[], rule: ScoreRule): string {
  const cols = columns(rule);
  const head = `${'split'.padEnd(6)}${'model'.padEnd(8)}${cols.map(([c]) => c.padStart(11)).join('')}`;
  const lines = rows.map(
    ([split, name, e]) =>
      `${split.padEnd(6)}${name.padEnd(8)}${cols.map(([, f]) => f(e).toFixed(3).padStart(11)).join('')}`,
  );
  return [
    `box score: ${rule} (AP ${otherRule(rule).slice(0, 4)}.: AP under the ${otherRule(rule)} score)`,
    head,
    ...lines,
  ].join('\n');
}

function comparisonPage(
  rows: readonly Row[],
  rule: ScoreRule,
  pictures: readonly string[],
  preset: string,
  seed: number,
  counts: { readonly test: number; readonly val: number },
): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const cols = columns(rule);
  const trs = rows
    .map(
      ([split, n, e]) =>
        `<tr><td>${split}</td><td>${n}</td>${cols.map(([, f]) => `<td>${f(e).toFixed(3)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  const pics = pictures
    .map((p) => `<tr>${['gt', 'mle', 'tuned'].map((m) => `<td><img src="${esc(p)}_${m}.png"></td>`).join('')}</tr>`)
    .join('\n');
  return `<!doctype html><meta charset="utf-8"><title>task-detection demo</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:4px 10px;border:1px solid #ccc;text-align:right}img{image-rendering:pixelated}</style>
<h1>Detection: MLE vs reward-tuned (preset ${esc(preset)}, seed ${seed})</h1>
<p>The headline is the <b>test split</b> (${counts.test} images, held out from every choice); the validation split
(${counts.val} images) is where the recipe was chosen. Greedy decoding for both models; box score: ${rule} for both
(column "AP ${otherRule(rule).slice(0, 4)}.": AP under the ${otherRule(rule)} score). Reward curves:
<a href="report.html">report.html</a>.</p>
<table><tr><th>split</th><th>model</th>${cols.map(([c]) => `<th>${esc(c)}</th>`).join('')}</tr>
${trs}</table>
<h2>Predictions on test images (every box each model emits; colour by class)</h2>
<table><tr><th>ground truth</th><th>MLE</th><th>tuned</th></tr>
${pics}</table>
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
}: DemoResults<DetectionConfig, DetectionExample, DetectionEval>): { table: string; page: string } {
  const rows: Row[] = [
    [split, 'MLE', mle.ev],
    [split, 'tuned', tuned.ev],
    ['val', 'MLE', val.mle],
    ['val', 'tuned', val.tuned],
  ];
  const dir = tuned.run.dir;
  mkdirSync(path.join(dir, 'compare'), { recursive: true });
  const pictures: string[] = [];
  for (let i = 0; i < Math.min(cfg.eval.pictures, images.examples.length); i++) {
    const stem = `compare/${split}_${String(i).padStart(3, '0')}`;
    // The ground truth drawn as the predictions are (crowd boxes, which no model is asked to emit, left out).
    const truth = { slots: images.examples[i].boxes.map((b) => ({ ...b, conf: 1 })) };
    writeFileSync(path.join(dir, `${stem}_gt.png`), encodePng(drawPredictions(images, i, truth)));
    writeFileSync(path.join(dir, `${stem}_mle.png`), encodePng(drawPredictions(images, i, mle.ev.predictions[i])));
    writeFileSync(path.join(dir, `${stem}_tuned.png`), encodePng(drawPredictions(images, i, tuned.ev.predictions[i])));
    pictures.push(stem);
  }
  const page = path.join(dir, 'compare.html');
  const counts = { test: images.examples.length, val: val.images.examples.length };
  writeFileSync(page, comparisonPage(rows, cfg.eval.score, pictures, preset, cfg.seed, counts));
  return { table: table(rows, cfg.eval.score), page };
}
