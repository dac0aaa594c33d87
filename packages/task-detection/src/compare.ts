/**
 * The detection demo's comparison of the MLE and the tuned model: the table printed on stderr (AP, AP50, AP75, AR1,
 * AR10, AR100, mean reward, boxes per image) and `compare.html` in the tuned run with both models' predictions drawn
 * on the same validation images.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodePng } from '@reward-tune/core-model';
import type { DemoResults } from '@reward-tune/reinforce';
import type { DetectionConfig } from './config';
import { drawPredictions, type DetectionEval, type DetectionRunEval } from './eval';

function table(rows: readonly [string, DetectionEval][]): string {
  const cols: [string, (e: DetectionEval) => number][] = [
    ['AP', (e) => e.metrics.AP], ['AP50', (e) => e.metrics.AP50], ['AP75', (e) => e.metrics.AP75],
    ['AR1', (e) => e.metrics.AR1], ['AR10', (e) => e.metrics.AR10], ['AR100', (e) => e.metrics.AR100],
    ['reward', (e) => e.meanReward], ['boxes/img', (e) => e.metrics.boxes_per_image],
  ];
  const head = `${'model'.padEnd(8)}${cols.map(([c]) => c.padStart(10)).join('')}`;
  const lines = rows.map(([name, e]) => `${name.padEnd(8)}${cols.map(([, f]) => f(e).toFixed(3).padStart(10)).join('')}`);
  return [head, ...lines].join('\n');
}

function comparisonPage(rows: readonly [string, DetectionEval][], pictures: readonly string[], preset: string, seed: number): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const trs = rows.map(([n, e]) => `<tr><td>${n}</td>${['AP', 'AP50', 'AP75', 'AR1', 'AR10', 'AR100'].map((k) => `<td>${e.metrics[k].toFixed(3)}</td>`).join('')}<td>${e.meanReward.toFixed(3)}</td><td>${e.metrics.boxes_per_image.toFixed(2)}</td></tr>`).join('\n');
  const pics = pictures.map((p) => `<tr><td><img src="${esc(p)}_mle.png"></td><td><img src="${esc(p)}_tuned.png"></td></tr>`).join('\n');
  return `<!doctype html><meta charset="utf-8"><title>task-detection demo</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:4px 10px;border:1px solid #ccc;text-align:right}img{image-rendering:pixelated}</style>
<h1>Detection: MLE vs reward-tuned (preset ${esc(preset)}, seed ${seed})</h1>
<p>Validation split, greedy decoding for both; box score = expected IoU from the confidence slot. Reward curves: <a href="report.html">report.html</a>.</p>
<table><tr><th>model</th><th>AP</th><th>AP50</th><th>AP75</th><th>AR1</th><th>AR10</th><th>AR100</th><th>mean reward</th><th>boxes/image</th></tr>
${trs}</table>
<h2>Predictions on validation images (boxes scoring ≥ 0.3)</h2>
<table><tr><th>MLE</th><th>tuned</th></tr>
${pics}</table>
`;
}

/** Writes compare.html and its pictures into the tuned run; returns the table and the page's path. */
export function comparison({ preset, cfg, mle, tuned }: DemoResults<DetectionConfig, DetectionRunEval>): { table: string; page: string } {
  const rows: [string, DetectionEval][] = [['MLE', mle.ev.ev], ['tuned', tuned.ev.ev]];
  const dir = tuned.run.dir;
  mkdirSync(path.join(dir, 'compare'), { recursive: true });
  const pictures: string[] = [];
  for (let i = 0; i < Math.min(cfg.eval.pictures, mle.ev.val.examples.length); i++) {
    const stem = `compare/val_${String(i).padStart(3, '0')}`;
    writeFileSync(path.join(dir, `${stem}_mle.png`), encodePng(drawPredictions(mle.ev.val, i, mle.ev.ev.predictions[i])));
    writeFileSync(path.join(dir, `${stem}_tuned.png`), encodePng(drawPredictions(tuned.ev.val, i, tuned.ev.ev.predictions[i])));
    pictures.push(stem);
  }
  const page = path.join(dir, 'compare.html');
  writeFileSync(page, comparisonPage(rows, pictures, preset, cfg.seed));
  return { table: table(rows), page };
}
