/**
 * The four commands of `task-caption` (also `nx run task-caption:<command>`), on reinforce's task runner:
 *
 *   pretrain  data → vocabulary (saved as <run>/vocabulary.json) → model → MLE → evaluation → report
 *   tune      an MLE run's weights → reward tuning with CIDEr-D (estimator `paper` by default;
 *             `--set tune.estimator=greedy` for self-critical) → evaluation → report
 *   eval      a run's (or checkpoint's) weights → greedy captions, CIDEr-D and BLEU-1..4 on the validation split
 *   demo      MLE (shipped checkpoint or pretraining) → tuning → both evaluated → table and compare.html (demo.ts)
 *
 * This file holds what is captioning's own: data, vocabulary and image tables (loaded once per process), the loops'
 * inputs from the config, the vocabulary check of a checkpoint, and the summary numbers. The vocabulary is rebuilt
 * from the training references each time (deterministically); the copy each run saves is what a later tune or eval
 * checks it against, so that a checkpoint is never decoded with other word ids than it was trained with.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { orUsageError, UsageError, type EncoderDecoder } from '@reward-tune/core-model';
import { loadCounter, runOfCheckpoint, taskRunner, type TaskAdapter, type TaskSetup, randomBatches, sequentialBatches } from '@reward-tune/reinforce';
import { comparison } from './compare';
import { captionConfigSpec, type CaptionConfig } from './config';
import type { CaptionExample } from './dataset';
import { evaluateCaptions, writeCaptionEval, type CaptionEval } from './eval';
import { buildModel, buildTask, captionVocabulary, loadImages, prepareData, type CaptionData, type ImageTable } from './setup';
import type { CaptionPrediction, CaptionTask } from './task';
import { loadVocabularyFile, saveVocabulary, VOCABULARY_FILE } from './tokenizer';
import type { Vocabulary } from './vocabulary';

export const TASK = 'task-caption';

/** Where the shipped MLE checkpoints live (next to dist/ in the installed package), each with its vocabulary. */
export const SHIPPED_DIR = path.resolve(__dirname, '..', 'checkpoints');
export const shippedCheckpoint = (preset: string): string => path.join(SHIPPED_DIR, `${preset}-mle.safetensors`);

/**
 * The vocabulary file that goes with a checkpoint: `<run>/vocabulary.json` for a run's checkpoint, or
 * `<name>.vocabulary.json` beside a lone checkpoint file `<name>.safetensors` (e.g. a shipped one).
 */
export function vocabularyFileOf(checkpoint: string): string {
  const inRun = path.join(runOfCheckpoint(checkpoint), VOCABULARY_FILE);
  return existsSync(inRun) ? inRun : checkpoint.replace(/\.safetensors$/, '') + `.${VOCABULARY_FILE}`;
}

/** A UsageError unless the vocabulary saved with `checkpoint` is `vocab` word for word. */
export function checkVocabulary(checkpoint: string, vocab: Vocabulary): void {
  const file = vocabularyFileOf(checkpoint);
  if (!existsSync(file)) throw new UsageError(`${checkpoint}: no ${VOCABULARY_FILE} in its run directory ${runOfCheckpoint(checkpoint)} (pretrain saves it there)`);
  const saved = orUsageError(loadVocabularyFile(file));
  const i = saved.words.findIndex((w, k) => w !== vocab.words[k]);
  if (i >= 0) throw new UsageError(`${file}: words[${i}]: "${saved.words[i]}" saved, but this run's training references give ${vocab.words[i] === undefined ? 'no word there' : `"${vocab.words[i]}"`} (different data or caption.minCount)`);
  if (saved.words.length !== vocab.words.length) {
    throw new UsageError(`${file}: words: ${saved.words.length} saved, but this run's training references give ${vocab.words.length} (different data or caption.minCount)`);
  }
}

interface Loaded {
  readonly data: CaptionData;
  readonly vocab: Vocabulary;
  readonly task: CaptionTask;
}

// Data, vocabulary, task and image tables are loaded once per process and shared by the steps of a demo.
const loaded = new Map<string, Loaded>();
const tables = new Map<string, ImageTable>();

/** Data, vocabulary and task for a config (synthetic data is generated on first use under `<out>/data`). */
export function setUp(cfg: CaptionConfig, outRoot: string): Loaded {
  const key = JSON.stringify([path.resolve(outRoot), cfg.data, cfg.model.imageSize, cfg.caption]);
  let hit = loaded.get(key);
  if (hit === undefined) {
    const data = orUsageError(prepareData(cfg, outRoot, loadCounter('generating data')));
    const vocab = captionVocabulary(cfg, data);
    hit = { data, vocab, task: buildTask(cfg, data, vocab) };
    loaded.set(key, hit);
  }
  return hit;
}

function table(data: CaptionData, split: 'train' | 'val', limit: number): ImageTable {
  const key = JSON.stringify([data.source, split, data[split].imageSize, limit]);
  let hit = tables.get(key);
  if (hit === undefined) {
    hit = orUsageError(loadImages(data[split], limit, loadCounter(`loading ${split} images`)));
    tables.set(key, hit);
  }
  return hit;
}

function captionSetup(cfg: CaptionConfig, outRoot: string): TaskSetup<CaptionExample, CaptionPrediction, unknown, CaptionEval> {
  const { data, vocab, task } = setUp(cfg, outRoot);
  return {
    task,
    buildModel: (seed) => buildModel(cfg, vocab, seed),
    mle: () => ({
      train: randomBatches(table(data, 'train', 0), cfg.mle.batchSize),
      heldOut: sequentialBatches(table(data, 'val', cfg.mle.heldOutImages), cfg.eval.batchSize),
      optimizer: cfg.mle.optimizer,
      trainImages: data.train.examples.length,
      config: cfg.mle,
    }),
    tune: () => ({
      train: randomBatches(table(data, 'train', 0), cfg.tune.batchSize),
      heldOut: sequentialBatches(table(data, 'val', cfg.tune.heldOutImages), cfg.eval.batchSize),
      optimizer: cfg.tune.optimizer,
      config: cfg.tune,
    }),
    evaluate: async (model: EncoderDecoder, dir: string) => {
      const ev = await evaluateCaptions(model, task, table(data, 'val', cfg.eval.images), cfg.eval.batchSize, loadCounter('evaluating'));
      writeCaptionEval(ev, dir, cfg.eval.pictures);
      return ev;
    },
    initRun: (run) => void orUsageError(E.mapLeft((e: string) => `cannot save the vocabulary: ${e}`)(saveVocabulary(run.dir, vocab, cfg.caption.minCount))),
    checkCheckpoint: (file) => checkVocabulary(file, vocab),
  };
}

export function summaryLine(name: string, ev: CaptionEval): string {
  const m = ev.metrics;
  return `${name}: CIDEr-D ${m['CIDEr-D'].toFixed(3)}  BLEU-4 ${m['BLEU-4'].toFixed(3)}  mean reward ${ev.meanReward.toFixed(3)}  words/caption ${m.caption_length.toFixed(2)}`;
}

/** The numbers of --json output: corpus CIDEr-D and BLEU-1..4. */
export const jsonStats = (ev: CaptionEval): { 'CIDEr-D': number; BLEU: number[] } => ({
  'CIDEr-D': ev.metrics['CIDEr-D'],
  BLEU: [ev.metrics['BLEU-1'], ev.metrics['BLEU-2'], ev.metrics['BLEU-3'], ev.metrics['BLEU-4']],
});

export const captionAdapter: TaskAdapter<CaptionConfig, CaptionExample, CaptionPrediction, unknown, CaptionEval> = {
  tool: TASK,
  spec: captionConfigSpec,
  setUp: captionSetup,
  shippedCheckpoint,
  modelKey: (c) => JSON.stringify({ model: c.model, caption: c.caption, data: c.data }),
  summaryLine,
  jsonStats,
  evaluatedImages: (ev) => ev.val.examples.length,
  demoCompare: comparison,
};

export const runner = taskRunner(captionAdapter);
export const { pretrainCommand, tuneCommand, evalCommand, noiseCommand } = runner;
