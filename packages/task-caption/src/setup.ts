/**
 * From a resolved config to the objects the task runner takes (`captionSetup`): the data (synthetic captioned
 * scenes generated on first use, a directory in that layout, or COCO's Karpathy split), the vocabulary, images in
 * memory at the model's size, the model with the caption structure processor, the task, and the evaluation suite.
 * The same functions serve pretrain, tune, eval and demo, so the four agree on every shape and constraint.
 *
 * The vocabulary is rebuilt from the training references each time (deterministically); the copy each training run
 * saves is what a later tune or eval checks a checkpoint against, so that a checkpoint is never decoded with other
 * word ids than it was trained with.
 *
 * Dimension legend: B batch, H×W image, L caption length, V vocabulary.
 */
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { createModel, orUsageError, type EncoderDecoder } from '@reward-tune/core-model';
import { loadCounter, loadImageTable, logLine, type TaskSetup } from '@reward-tune/reinforce';
import { normalizeCaption } from '@reward-tune/rewards-metrics';
import type { CaptionConfig } from './config';
import {
  captionSplitFiles,
  loadCaptionSplit,
  writeCaptionDataset,
  type CaptionExample,
  type CaptionSource,
  type CaptionSplit,
} from './dataset';
import { evaluateCaptions, writeCaptionEval, type CaptionEval, type ImageTable } from './eval';
import { captionStructure } from './structure';
import { CaptionTask, type CaptionPrediction } from './task';
import { buildCaptionVocabulary, checkVocabulary, saveVocabulary } from './tokenizer';
import { vocabularySize, type Vocabulary } from './vocabulary';

export interface CaptionData {
  /** Where the data came from (a directory, or the Karpathy file). */
  readonly source: string;
  readonly train: CaptionSplit;
  readonly val: CaptionSplit;
  /** The held-out test split; `val` itself where the data has none (the COCO layouts: no test captions). */
  readonly test: CaptionSplit;
  readonly testIsVal: boolean;
}

/** Where the synthetic data of a config lives under the output root (shared by runs with the same data). */
export const syntheticDir = (outRoot: string, cfg: CaptionConfig): string => {
  const s = cfg.data.synthetic;
  return path.join(
    outRoot,
    'data',
    `captions-s${s.seed}-${s.size}px-${s.trainImages}x${s.valImages}-max${s.maxObjects}`,
  );
};

/** The three sources a config reads. */
function sources(
  cfg: CaptionConfig,
  outRoot: string,
): { source: string; train: CaptionSource; val: CaptionSource; test: CaptionSource } {
  const { karpathy, imageDir, dir } = cfg.data;
  if (karpathy !== undefined && imageDir !== undefined) {
    return {
      source: karpathy,
      train: { karpathy, imageDir, split: 'train' },
      val: { karpathy, imageDir, split: 'val' },
      test: { karpathy, imageDir, split: 'test' },
    };
  }
  const d = dir ?? syntheticDir(outRoot, cfg);
  return {
    source: d,
    train: { dir: d, split: 'train' },
    val: { dir: d, split: 'val' },
    test: { dir: d, split: 'test' },
  };
}

/**
 * Loads (and for synthetic data first writes) the three splits, at the model's image size; a directory whose layout
 * has no test split (COCO 2017 and 2014) gets val as its test split, flagged `testIsVal`. Every reference goes
 * through coco-caption's normaliser once, here (the synthetic captions come out of it unchanged).
 */
export function prepareData(
  cfg: CaptionConfig,
  outRoot: string,
  onImage?: (done: number, total: number) => void,
): E.Either<string, CaptionData> {
  const src = sources(cfg, outRoot);
  const written: E.Either<string, unknown> =
    cfg.data.dir === undefined && cfg.data.karpathy === undefined
      ? writeCaptionDataset(src.source, cfg.data.synthetic, onImage)
      : E.right(undefined);
  const options = { imageSize: cfg.model.imageSize, normalize: normalizeCaption };
  // A data directory whose layout has no test split (or, written before it existed, no test file) reports on val.
  const hasTest = !('dir' in src.test) || E.isRight(captionSplitFiles(src.test.dir, 'test'));
  const withTest = (d: { train: CaptionSplit; val: CaptionSplit }): E.Either<string, CaptionData> =>
    hasTest
      ? E.map((test: CaptionSplit) => ({ source: src.source, ...d, test, testIsVal: false }))(
          loadCaptionSplit(src.test, options),
        )
      : E.right({ source: src.source, ...d, test: d.val, testIsVal: true });
  return pipe(
    written,
    E.chain(() => loadCaptionSplit(src.train, options)),
    E.chain((train) => E.map((val: CaptionSplit) => ({ train, val }))(loadCaptionSplit(src.val, options))),
    E.chain((d) =>
      d.train.examples.length === 0
        ? E.left(`${d.train.file}: the train split has no images`)
        : d.val.examples.length === 0
          ? E.left(`${d.val.file}: the val split has no images`)
          : E.right(d),
    ),
    E.chain(withTest),
  );
}

/** The vocabulary of a config's training references (pretrain builds it; tune and eval read the run's saved one). */
export const captionVocabulary = (cfg: CaptionConfig, data: CaptionData): Vocabulary =>
  buildCaptionVocabulary(data.train.examples, cfg.caption.minCount);

/** The model of a config, with the caption structure applied in sampling and in re-scoring alike. */
export function buildModel(cfg: CaptionConfig, vocab: Vocabulary, seed: number): EncoderDecoder {
  const V = vocabularySize(vocab);
  return createModel(cfg.model, V, cfg.caption.length, seed, [captionStructure(V, cfg.caption.length)]);
}

/** The task, its reward's document frequencies from every training image's references. */
export function buildTask(cfg: CaptionConfig, data: CaptionData, vocab: Vocabulary): CaptionTask {
  return new CaptionTask({
    vocab,
    length: cfg.caption.length,
    trainReferences: data.train.examples.map((e) => e.references),
  });
}

/** The first `limit` images of a split (0 = all), [N, S, S, 3] in [−1, 1]. */
export function loadImages(
  split: CaptionSplit,
  limit = 0,
  onImage?: (done: number, total: number) => void,
): E.Either<string, ImageTable> {
  const examples = limit > 0 ? split.examples.slice(0, limit) : split.examples;
  return loadImageTable(
    examples,
    split.imageSize,
    (i) => E.map((m: { pixels: Float32Array }) => m.pixels)(split.loadImage(i)),
    onImage,
  );
}

/**
 * Captioning's objects for one config: the task runner's `TaskSetup` (the vocabulary saved with each run, and
 * checked against every checkpoint).
 */
export function captionSetup(
  cfg: CaptionConfig,
  outRoot: string,
): TaskSetup<CaptionExample, CaptionPrediction, unknown, CaptionEval> {
  const data = orUsageError(prepareData(cfg, outRoot, loadCounter('generating data')));
  const vocab = captionVocabulary(cfg, data);
  const task = buildTask(cfg, data, vocab);
  return {
    task,
    buildModel: (seed) => buildModel(cfg, vocab, seed),
    images: (split, limit) => {
      if (split === 'test' && data.testIsVal)
        logLine(`${data.source}: no test split (COCO's test images have no captions): test = val`);
      return orUsageError(loadImages(data[split], limit, loadCounter(`loading ${split} images`)));
    },
    evaluate: async (model, dir, images, split) => {
      const ev = await evaluateCaptions(model, task, images, cfg.eval.batchSize, loadCounter('evaluating'));
      writeCaptionEval(ev, dir, cfg.eval.pictures, split);
      return ev;
    },
    initRun: (run) =>
      void orUsageError(
        E.mapLeft((e: string) => `cannot save the vocabulary: ${e}`)(
          saveVocabulary(run.dir, vocab, cfg.caption.minCount),
        ),
      ),
    checkCheckpoint: (file) => checkVocabulary(file, vocab),
  };
}
