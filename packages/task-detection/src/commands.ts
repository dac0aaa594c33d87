/**
 * The four commands of `task-detection` (also `nx run task-detection:<command>`), on reinforce's task runner:
 *
 *   pretrain  data → model → MLE (checkpoints, held-out curve) → evaluation suite → report
 *   tune      an MLE run's weights → reward tuning with the paper's reward + confidence loss → evaluation → report
 *   eval      a run's (or checkpoint's) weights → evaluation suite on the validation split
 *   demo      data → MLE (the shipped checkpoint, or pretraining with --from-scratch) → tuning → both evaluated
 *             with the same greedy decoding → a table and report.html comparing them (demo.ts)
 *
 * This file holds what is detection's own: data and image tables (loaded once per process), the loops' inputs
 * from the config, the evaluation artefacts (COCO results JSON, metrics, pictures) and the summary numbers.
 * Every run lives in `<out>/task-detection/<name>/` (config.json, metrics.jsonl, checkpoints/, eval/, report.html).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodePng, orUsageError, type EncoderDecoder } from '@reward-tune/core-model';
import { loadCounter, taskRunner, type TaskAdapter, type TaskSetup, randomBatches, sequentialBatches } from '@reward-tune/reinforce';
import { detectionConfigSpec, detectionMovedKeys, type DetectionConfig } from './config';
import { drawPredictions, evaluateDetection, type DetectionEval, type DetectionRunEval } from './eval';
import type { DetectionExample } from './dataset';
import { buildModel, buildTask, decodingModel, detectionVocab, loadImages, prepareData, type DetectionData, type ImageTable } from './setup';
import { STAT_NAMES, tieLowConfidenceInput, type DetectionAux, type DetectionPrediction, type DetectionTask } from './task';
import { comparison } from './compare';

export const TASK = 'task-detection';

/** Where the shipped MLE checkpoints live (next to dist/ in the installed package). */
export const SHIPPED_DIR = path.resolve(__dirname, '..', 'checkpoints');
export type { DetectionRunEval };
/** Presets that differ from another only in how they tune, and so share its MLE checkpoint. */
const SHARED_MLE: Readonly<Record<string, string>> = { 'tiny-paper': 'tiny' };
export const shippedCheckpoint = (preset: string): string => path.join(SHIPPED_DIR, `${SHARED_MLE[preset] ?? preset}-mle.safetensors`);

// Data and image tables are loaded once per process and shared by the steps of a demo (decoding thousands of PNGs
// again for each step would cost more than the evaluation itself).
const loaded = new Map<string, { data: DetectionData; task: DetectionTask }>();
const tables = new Map<string, ImageTable>();

/** Data and task for a config (synthetic data is generated on first use under `<out>/data`). */
export function setUp(cfg: DetectionConfig, outRoot: string): { data: DetectionData; task: DetectionTask } {
  const key = JSON.stringify([path.resolve(outRoot), cfg.data, cfg.tokens, cfg.reward]);
  let hit = loaded.get(key);
  if (hit === undefined) {
    const data = orUsageError(prepareData(cfg, outRoot, loadCounter('generating data')));
    hit = { data, task: buildTask(cfg, data, detectionVocab(cfg, data)) };
    loaded.set(key, hit);
  }
  return hit;
}

function table(data: DetectionData, split: 'train' | 'val', cfg: DetectionConfig, limit: number): ImageTable {
  const key = JSON.stringify([data.dir, split, cfg.model.imageSize, limit]);
  let hit = tables.get(key);
  if (hit === undefined) {
    hit = orUsageError(loadImages(data[split], cfg.model.imageSize, limit, loadCounter(`loading ${split} images`)));
    tables.set(key, hit);
  }
  return hit;
}

/** Runs the evaluation suite and writes eval/metrics.json, eval/results.json (COCO results) and pictures. */
async function evaluateInto(cfg: DetectionConfig, data: DetectionData, task: DetectionTask, model: EncoderDecoder, dir: string): Promise<DetectionRunEval> {
  const val = table(data, 'val', cfg, cfg.eval.images);
  const ev = await evaluateDetection(model, task, val, cfg.eval.batchSize, cfg.eval.score, loadCounter('evaluating'));
  const out = path.join(dir, 'eval');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'results.json'), JSON.stringify(ev.detections));
  writeFileSync(path.join(out, 'metrics.json'), `${JSON.stringify({ images: val.examples.length, score: ev.score, mean_reward: ev.meanReward, ...ev.metrics, box_outcomes: ev.outcomes, by_score: ev.byScore, oracle_score: ev.oracle }, null, 2)}\n`);
  for (let i = 0; i < Math.min(cfg.eval.pictures, val.examples.length); i++) {
    writeFileSync(path.join(out, `val_${String(i).padStart(3, '0')}.png`), encodePng(drawPredictions(val, i, ev.predictions[i])));
  }
  return { ev, val };
}

function detectionSetup(cfg: DetectionConfig, outRoot: string): TaskSetup<DetectionExample, DetectionPrediction, DetectionAux, DetectionRunEval> {
  const { data, task } = setUp(cfg, outRoot);
  const vocab = detectionVocab(cfg, data);
  return {
    task,
    buildModel: (seed) => buildModel(cfg, vocab, seed),
    mle: () => ({
      train: randomBatches(table(data, 'train', cfg, 0), cfg.mle.batchSize),
      heldOut: sequentialBatches(table(data, 'val', cfg, cfg.mle.heldOutImages), cfg.eval.batchSize),
      optimizer: cfg.mle.optimizer,
      trainImages: data.train.examples.length,
      config: cfg.mle,
    }),
    tune: () => ({
      train: randomBatches(table(data, 'train', cfg, 0), cfg.tune.batchSize),
      heldOut: sequentialBatches(table(data, 'val', cfg, cfg.tune.heldOutImages), cfg.eval.batchSize),
      optimizer: cfg.tune.optimizer,
      warmupOptimizer: cfg.tune.auxWarmupOptimizer,
      config: cfg.tune,
    }),
    evaluate: (model, dir) => evaluateInto(cfg, data, task, decodingModel(cfg, vocab, model), dir),
    prepareTuning: (model) => {
      tieLowConfidenceInput(model);
      return decodingModel(cfg, vocab, model);
    },
  };
}

export function summaryLine(name: string, ev: DetectionEval): string {
  const m = ev.metrics;
  return `${name} (score: ${ev.score}): AP ${m.AP.toFixed(3)}  AP50 ${m.AP50.toFixed(3)}  AR100 ${m.AR100.toFixed(3)}  mean reward ${ev.meanReward.toFixed(3)}  boxes/image ${m.boxes_per_image.toFixed(2)}`;
}

export const statsOf = (ev: DetectionEval): number[] => STAT_NAMES.map((k) => ev.metrics[k]);

export const detectionAdapter: TaskAdapter<DetectionConfig, DetectionExample, DetectionPrediction, DetectionAux, DetectionRunEval> = {
  tool: TASK,
  spec: detectionConfigSpec,
  movedKeys: detectionMovedKeys,
  setUp: detectionSetup,
  shippedCheckpoint,
  // wellFormed is a decoding choice, not part of the model: a checkpoint fits either way.
  modelKey: (c) => JSON.stringify({ model: c.model, tokens: { ...c.tokens, wellFormed: undefined }, data: c.data }),
  summaryLine: (name, r) => summaryLine(name, r.ev),
  jsonStats: (r) => ({ stats: statsOf(r.ev), mean_reward: r.ev.meanReward }),
  evaluatedImages: (r) => r.val.examples.length,
  demoCompare: comparison,
};

export const runner = taskRunner(detectionAdapter);
export const { pretrainCommand, tuneCommand, evalCommand, noiseCommand } = runner;
