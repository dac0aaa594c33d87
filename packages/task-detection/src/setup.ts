/**
 * From a resolved config to the objects the task runner takes (`detectionSetup`): the data (synthetic shapes
 * generated on first use, train, val and test; or a COCO directory, whose val doubles as test), images in memory at
 * the model's size, the model with its slot masks, the task, and the evaluation suite. The same functions serve
 * pretrain, tune, eval and demo, so the four agree on every shape and constraint.
 *
 * Dimension legend: N images, H×W image, L = 6·maxBoxes sequence length, V vocabulary.
 */
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import {
  createModel,
  orUsageError,
  readJsonAs,
  SCENE_DEFAULTS,
  slotMask,
  type EncoderDecoder,
  type LogitsProcessor,
} from '@reward-tune/core-model';
import { loadCounter, loadImageTable, logLine, type TaskSetup } from '@reward-tune/reinforce';
import type { DetectionConfig } from './config';
import {
  loadDetectionSplit,
  splitPaths,
  writeShapesDataset,
  type DetectionExample,
  type DetectionSplit,
} from './dataset';
import { evaluateDetection, writeDetectionEval, type DetectionEval, type ImageTable } from './eval';
import { headProblem, scoreHeadSchema, type ScoreHead } from './score-head';
import { slotTokenSets, wellFormedSlots } from './sequence';
import { DetectionTask, tieLowConfidenceInput, type DetectionAux, type DetectionPrediction } from './task';
import { TOKENS_PER_BOX, vocabSize, type DetectionVocab } from './tokens';

export interface DetectionData {
  readonly dir: string;
  readonly train: DetectionSplit;
  readonly val: DetectionSplit;
  /** The held-out test split; `val` itself where the data has none (COCO: its test images have no annotations). */
  readonly test: DetectionSplit;
  readonly testIsVal: boolean;
}

/** Where the synthetic data of a config lives under the output root (shared by runs with the same data). */
export const syntheticDir = (outRoot: string, cfg: DetectionConfig): string => {
  const s = cfg.data.synthetic;
  // Scene options away from their defaults are spelled out, so data made with the defaults keeps its old directory.
  const scene = (Object.keys(SCENE_DEFAULTS) as (keyof typeof SCENE_DEFAULTS)[])
    .filter((k) => s[k] !== SCENE_DEFAULTS[k])
    .map((k) => `-${k}${String(s[k])}`)
    .join('');
  return path.join(
    outRoot,
    'data',
    `shapes-s${s.seed}-${s.size}px-${s.trainImages}x${s.valImages}-max${s.maxObjects}${scene}`,
  );
};

/**
 * Loads (and for synthetic data first writes) the three splits; a directory with no test split (COCO) gets val as
 * its test split, flagged `testIsVal`.
 */
export function prepareData(
  cfg: DetectionConfig,
  outRoot: string,
  onImage?: (done: number, total: number) => void,
): E.Either<string, DetectionData> {
  const dir = cfg.data.dir ?? syntheticDir(outRoot, cfg);
  if (cfg.data.dir === undefined) writeShapesDataset(dir, cfg.data.synthetic, onImage);
  const withTest = (d: { train: DetectionSplit; val: DetectionSplit }): E.Either<string, DetectionData> =>
    E.isLeft(splitPaths(dir, 'test'))
      ? E.right({ dir, ...d, test: d.val, testIsVal: true })
      : E.map((test: DetectionSplit) => ({ dir, ...d, test, testIsVal: false }))(loadDetectionSplit(dir, 'test'));
  return pipe(
    loadDetectionSplit(dir, 'train'),
    E.chain((train) => E.map((val: DetectionSplit) => ({ train, val }))(loadDetectionSplit(dir, 'val'))),
    E.chain((d) => (d.train.examples.length === 0 ? E.left(`${dir}: the train split has no images`) : E.right(d))),
    E.chain(withTest),
  );
}

export const detectionVocab = (cfg: DetectionConfig, data: DetectionData): DetectionVocab => ({
  bins: cfg.tokens.bins,
  numClasses: data.train.coco.categories.length,
});

/**
 * The model of a config, with detection's slot masks applied in sampling and in re-scoring alike. MLE trains under
 * the slot masks alone (the shipped checkpoint was made so); tuning and evaluation decode with `decodingModel`.
 */
export function buildModel(cfg: DetectionConfig, vocab: DetectionVocab, seed: number): EncoderDecoder {
  return createModel(
    cfg.model,
    vocabSize(vocab),
    cfg.tokens.maxBoxes * TOKENS_PER_BOX,
    seed,
    slotProcessors(cfg, vocab, 'mle'),
  );
}

/** The logits processors of each use: the slot mask always; well-formed slots when decoding (if configured). */
function slotProcessors(cfg: DetectionConfig, vocab: DetectionVocab, use: 'mle' | 'decoding'): LogitsProcessor[] {
  const processors = [slotMask(slotTokenSets(vocab, cfg.tokens.nullBoxes))];
  if (use === 'decoding' && wellFormedDecoding(cfg)) processors.push(wellFormedSlots(vocab));
  return processors;
}

/**
 * Whether decoding adds sequence.ts's `wellFormedSlots`: `tokens.wellFormed` with `zeros` null boxes. With `noise`
 * null boxes the slot mask alone keeps slots well-formed (only the confidence token can be 0).
 */
function wellFormedDecoding(cfg: DetectionConfig): boolean {
  return cfg.tokens.wellFormed && cfg.tokens.nullBoxes === 'zeros';
}

/**
 * The same parameters as `model`, decoding with well-formed slots too (`tokens.wellFormed`, sequence.ts): what
 * tuning samples and re-scores with and what every evaluation decodes with, the MLE baseline's included.
 */
export function decodingModel(cfg: DetectionConfig, vocab: DetectionVocab, model: EncoderDecoder): EncoderDecoder {
  return model.withProcessors(slotProcessors(cfg, vocab, 'decoding'));
}

export function buildTask(cfg: DetectionConfig, data: DetectionData, vocab: DetectionVocab): DetectionTask {
  // Class weights from the training instance counts, as the paper weights COCO's classes.
  const counts = new Array<number>(vocab.numClasses).fill(0);
  for (const ex of data.train.examples) for (const b of ex.boxes) counts[b.cls]++;
  return new DetectionTask({
    vocab,
    maxBoxes: cfg.tokens.maxBoxes,
    order: cfg.tokens.order,
    nullBoxes: cfg.tokens.nullBoxes,
    wellFormed: wellFormedDecoding(cfg),
    classCounts: counts,
    nmsWeight: cfg.reward.nmsWeight,
    falsePositiveWeight: cfg.reward.falsePositiveWeight,
    categoryIds: data.train.coco.categories.map((c) => c.id),
    releasedWeighting: cfg.reward.releasedWeighting,
    confLoss: cfg.reward.confLoss,
  });
}

export function loadImages(
  split: DetectionSplit,
  size: number,
  limit = 0,
  onImage?: (done: number, total: number) => void,
): E.Either<string, ImageTable> {
  const examples = limit > 0 ? split.examples.slice(0, limit) : split.examples;
  return loadImageTable(
    examples,
    size,
    (i) =>
      E.map((m: { pixels: Float32Array }) => m.pixels)(
        split.coco.loadImage(examples[i].image, { height: size, width: size }),
      ),
    onImage,
  );
}

/**
 * The score head `eval.scoreHead` names (fit-score.ts), read and checked; absent when none is named. `eval.score`
 * `fitted` without one is refused.
 */
export function scoreHeadOf(cfg: DetectionConfig): E.Either<string, ScoreHead | undefined> {
  const file = cfg.eval.scoreHead;
  if (file === undefined)
    return cfg.eval.score === 'fitted'
      ? E.left("eval.score: 'fitted' needs eval.scoreHead=<a score-head.json from fit-score>")
      : E.right(undefined);
  return pipe(
    readJsonAs(scoreHeadSchema, file),
    E.chain((head) => {
      const problem = headProblem(head);
      return problem === undefined ? E.right(head) : E.left(`${file}: ${problem}`);
    }),
  );
}

/** Detection's objects for one config: the task runner's `TaskSetup`. */
export function detectionSetup(
  cfg: DetectionConfig,
  outRoot: string,
): TaskSetup<DetectionExample, DetectionPrediction, DetectionAux, DetectionEval> {
  const data = orUsageError(prepareData(cfg, outRoot, loadCounter('generating data')));
  const vocab = detectionVocab(cfg, data);
  const task = buildTask(cfg, data, vocab);
  const head = orUsageError(scoreHeadOf(cfg));
  return {
    task,
    buildModel: (seed) => buildModel(cfg, vocab, seed),
    images: (split, limit) => {
      if (split === 'test' && data.testIsVal)
        logLine(`${data.dir}: no labelled test split (COCO's test images have no annotations): test = val`);
      return orUsageError(loadImages(data[split], cfg.model.imageSize, limit, loadCounter(`loading ${split} images`)));
    },
    // Every evaluation decodes with well-formed slots, the MLE baseline's included.
    evaluate: async (model, dir, images, split) => {
      const ev = await evaluateDetection(
        decodingModel(cfg, vocab, model),
        task,
        images,
        cfg.eval.batchSize,
        cfg.eval.score,
        loadCounter('evaluating'),
        { head },
      );
      writeDetectionEval(ev, images, dir, cfg.eval.pictures, split);
      return ev;
    },
    decoding: (model) => decodingModel(cfg, vocab, model),
    prepareTuning: (model) => {
      tieLowConfidenceInput(model);
      return decodingModel(cfg, vocab, model);
    },
  };
}
