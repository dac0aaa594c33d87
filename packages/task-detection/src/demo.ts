/**
 * `task-detection demo`, the project's main job (`npm start`): the paper's detection experiment end to end on the
 * built-in synthetic shapes. MLE model (the checkpoint shipped for the preset, or pretrained here with
 * --from-scratch) → reward tuning → both evaluated on the same validation images with the same greedy decoding →
 * a table (AP, AP50, AP75, AR1, AR10, AR100, mean reward, boxes per image) and a comparison page with pictures.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultRunName, encodePng, initBackend, loadCheckpoint, orUsageError, UsageError } from '@reward-tune/core-model';
import {
  evalRun,
  log,
  newRunConfig,
  openRun,
  parse,
  pretrainRun,
  resolveCheckpoint,
  setUp,
  shippedCheckpoint,
  statsOf,
  TASK,
  tuneRun,
  writeRunReport,
  loadWeights,
} from './commands';
import type { DetectionConfig } from './config';
import { drawPredictions, type DetectionEval } from './eval';
import { buildModel, detectionVocab } from './setup';

/** The parts of a config that must agree for a checkpoint to fit this run's model and data. */
const modelKey = (c: DetectionConfig): string => JSON.stringify({ model: c.model, tokens: c.tokens, data: c.data });

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

export async function demoCommand(args: readonly string[]): Promise<number> {
  const opts = parse(args, { extra: { 'from-scratch': { type: 'boolean', description: 'pretrain the MLE model here instead of taking the shipped checkpoint' } } });
  if (!opts) return 0;
  const t0 = Date.now();
  await initBackend(opts.backend);
  const preset = opts.preset ?? 'tiny';
  const cfg = newRunConfig({ ...opts, preset });
  const name = opts.name ?? defaultRunName(new Date());

  // 1. The MLE model: the shipped checkpoint when it fits this config, else pretraining.
  const shipped = shippedCheckpoint(preset);
  let mleCheckpoint: string;
  const mleRun = openRun(opts, cfg, `${name}-mle`);
  if (!opts.extra['from-scratch'] && existsSync(shipped)) {
    const shippedCfg = newRunConfig({ ...opts, preset: undefined, sets: [] }, { value: orUsageError(loadCheckpoint(shipped)).config, source: shipped });
    if (modelKey(shippedCfg) !== modelKey(cfg)) {
      throw new UsageError(`${shipped} was trained with another model/data config than this run's; use --from-scratch`);
    }
    log(`${TASK} demo: MLE model from the shipped checkpoint ${shipped}`);
    mleCheckpoint = shipped;
  } else {
    if (!opts.extra['from-scratch']) log(`${TASK} demo: no shipped MLE checkpoint for preset '${preset}'; pretraining it here (${cfg.mle.steps} steps)`);
    (await pretrainRun(cfg, mleRun, opts.out)).dispose();
    await writeRunReport(mleRun);
    mleCheckpoint = resolveCheckpoint(mleRun.dir);
  }

  // 2. Reward tuning from it.
  const tunedRun = openRun(opts, cfg, `${name}-tuned`);
  const tuned = await tuneRun(cfg, tunedRun, opts.out, mleCheckpoint);
  await writeRunReport(tunedRun);

  // 3. Both through the same evaluation suite.
  const { data } = setUp(cfg, opts.out);
  const mle = buildModel(cfg, detectionVocab(cfg, data), cfg.seed);
  loadWeights(mle, mleCheckpoint);
  const mleEval = await evalRun(cfg, mle, mleRun.dir, opts.out);
  const tunedEval = await evalRun(cfg, tuned, tunedRun.dir, opts.out);

  const rows: [string, DetectionEval][] = [['MLE', mleEval.ev], ['tuned', tunedEval.ev]];
  const out = path.join(tunedRun.dir, 'compare');
  mkdirSync(out, { recursive: true });
  const pictures: string[] = [];
  for (let i = 0; i < Math.min(cfg.eval.pictures, mleEval.val.examples.length); i++) {
    const stem = `compare/val_${String(i).padStart(3, '0')}`;
    writeFileSync(path.join(tunedRun.dir, `${stem}_mle.png`), encodePng(drawPredictions(mleEval.val, i, mleEval.ev.predictions[i])));
    writeFileSync(path.join(tunedRun.dir, `${stem}_tuned.png`), encodePng(drawPredictions(tunedEval.val, i, tunedEval.ev.predictions[i])));
    pictures.push(stem);
  }
  const page = path.join(tunedRun.dir, 'compare.html');
  writeFileSync(page, comparisonPage(rows, pictures, preset, cfg.seed));
  const wall = (Date.now() - t0) / 1000;
  process.stderr.write(`\n${table(rows)}\n\nvalidation images: ${mleEval.val.examples.length}; wall time ${wall.toFixed(0)} s\nreport: ${page}\n`);
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ preset, seed: cfg.seed, wall_s: wall, mle: { stats: statsOf(mleEval.ev), mean_reward: mleEval.ev.meanReward }, tuned: { stats: statsOf(tunedEval.ev), mean_reward: tunedEval.ev.meanReward } })}\n`,
    );
  }
  mle.dispose();
  tuned.dispose();
  return 0;
}
