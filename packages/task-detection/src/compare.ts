/**
 * The detection demo's comparison of the MLE and the tuned model: the table printed on stderr (AP, AP50, AP75, AR1,
 * AR10, AR100 under the configured score rule, AP under the other rule, mean reward, boxes and duplicates per
 * image) and `compare.html` in the tuned run with both models' predictions drawn on the same validation images.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodePng } from '@reward-tune/core-model';
import type { DemoResults } from '@reward-tune/reinforce';
import { SCORE_RULES, type DetectionConfig, type ScoreRule } from './config';
import type { DetectionExample } from './dataset';
import { drawPredictions, type DetectionEval } from './eval';

/** The rule that is not `rule` (the table shows AP under it too). */
const otherRule = (rule: ScoreRule): ScoreRule => SCORE_RULES.find((r) => r !== rule) ?? rule;

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

function table(rows: readonly [string, DetectionEval][], rule: ScoreRule): string {
  const cols = columns(rule);
  const head = `${'model'.padEnd(8)}${cols.map(([c]) => c.padStart(11)).join('')}`;
  const lines = rows.map(
    ([name, e]) => `${name.padEnd(8)}${cols.map(([, f]) => f(e).toFixed(3).padStart(11)).join('')}`,
  );
  return [
    `box score: ${rule} (AP ${otherRule(rule).slice(0, 4)}.: AP under the ${otherRule(rule)} score)`,
    head,
    ...lines,
  ].join('\n');
}

function comparisonPage(
  rows: readonly [string, DetectionEval][],
  rule: ScoreRule,
  pictures: readonly string[],
  preset: string,
  seed: number,
): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const cols = columns(rule);
  const trs = rows
    .map(([n, e]) => `<tr><td>${n}</td>${cols.map(([, f]) => `<td>${f(e).toFixed(3)}</td>`).join('')}</tr>`)
    .join('\n');
  const pics = pictures
    .map((p) => `<tr><td><img src="${esc(p)}_mle.png"></td><td><img src="${esc(p)}_tuned.png"></td></tr>`)
    .join('\n');
  return `<!doctype html><meta charset="utf-8"><title>task-detection demo</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:4px 10px;border:1px solid #ccc;text-align:right}img{image-rendering:pixelated}</style>
<h1>Detection: MLE vs reward-tuned (preset ${esc(preset)}, seed ${seed})</h1>
<p>Validation split, greedy decoding for both; box score: ${rule} for both (column "AP ${otherRule(rule).slice(0, 4)}.": AP under the
${otherRule(rule)} score). Reward curves: <a href="report.html">report.html</a>.</p>
<table><tr><th>model</th>${cols.map(([c]) => `<th>${esc(c)}</th>`).join('')}</tr>
${trs}</table>
<h2>Predictions on validation images (every box each model emits)</h2>
<table><tr><th>MLE</th><th>tuned</th></tr>
${pics}</table>
`;
}

/** Writes compare.html and its pictures into the tuned run; returns the table and the page's path. */
export function comparison({
  preset,
  cfg,
  val,
  mle,
  tuned,
}: DemoResults<DetectionConfig, DetectionExample, DetectionEval>): { table: string; page: string } {
  const rows: [string, DetectionEval][] = [
    ['MLE', mle.ev],
    ['tuned', tuned.ev],
  ];
  const dir = tuned.run.dir;
  mkdirSync(path.join(dir, 'compare'), { recursive: true });
  const pictures: string[] = [];
  for (let i = 0; i < Math.min(cfg.eval.pictures, val.examples.length); i++) {
    const stem = `compare/val_${String(i).padStart(3, '0')}`;
    writeFileSync(path.join(dir, `${stem}_mle.png`), encodePng(drawPredictions(val, i, mle.ev.predictions[i])));
    writeFileSync(path.join(dir, `${stem}_tuned.png`), encodePng(drawPredictions(val, i, tuned.ev.predictions[i])));
    pictures.push(stem);
  }
  const page = path.join(dir, 'compare.html');
  writeFileSync(page, comparisonPage(rows, cfg.eval.score, pictures, preset, cfg.seed));
  return { table: table(rows, cfg.eval.score), page };
}
