/**
 * The detection evaluation suite: greedy decoding of a split's images (test, or val: `eval.split`), each box scored
 * (one teacher-forced re-score of the greedy output) by two rules, COCO box mAP (all 12 stats) under each through
 * rewards-metrics, the mean reward, boxes per image and what became of them (box-outcomes.ts: found, duplicates,
 * wrong class, no object), the COCO results JSON, and pictures.
 *
 * Score rules (`eval.score` picks the one of the headline stats and the results JSON; both are always reported):
 * - `likelihood`: p(class token) × the geometric mean of p(coordinate tokens), under the decoding distribution.
 *   It needs nothing trained beyond MLE, so the MLE baseline and the tuned model are ranked by the same rule.
 * - `confidence`: the expected IoU read at the confidence slot, p(2) / (p(1) + p(2)) (the paper's §3.1.4; see
 *   docs/method.md). Only a tuned model has it: MLE targets give every box confidence 2, so an MLE model scores
 *   every box ≈ 1 and its boxes are ranked by noise (docs/experiments/toy-detection-calibration.md has the numbers).
 * - `fitted`: the expected IoU of a score head fitted afterwards to the model's own boxes (score-head.ts,
 *   `fit-score`), read from the same re-score; only with `eval.scoreHead`.
 *
 * Dimension legend: B batch, S box slots, L = 6·S length, V vocabulary.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  drawRect,
  encodePng,
  fromUnitRange,
  readTensor,
  tokensTensor,
  type EncoderDecoder,
  type RgbImage,
} from '@reward-tune/core-model';
import type { CocoDetection } from '@reward-tune/rewards-metrics';
import { batchOf, selectTokenLogProbs, type ImageTable as GenericImageTable } from '@reward-tune/reinforce';
import { SCORE_RULES, type ScoreRule } from './config';
import type { DetectionExample } from './dataset';
import { addOutcomes, boxOutcomes, NO_OUTCOMES, type BoxOutcomes } from './box-outcomes';
import { cocoDetections, STAT_NAMES, type DetectionPrediction, type DetectionTask } from './task';
import { applyScoreHead, boxFeatures, type ScoreHead } from './score-head';
import { MAX_CONF, TOKENS_PER_BOX } from './tokens';

/** The rules every evaluation reports; `fitted` too when it has a score head. */
export type BaseRule = Exclude<ScoreRule, 'fitted'>;
export const BASE_RULES: readonly BaseRule[] = SCORE_RULES.filter((r): r is BaseRule => r !== 'fitted');
/** Something per rule: always the base rules', `fitted`'s with a score head. */
export type ByRule<T> = Readonly<Record<BaseRule, T>> & { readonly fitted?: T };

/** A greedy prediction with its per-slot scores under every rule. */
export interface ScoredPrediction extends DetectionPrediction {
  readonly byRule: ByRule<Float32Array>;
  /** [S × F] the score head's inputs of each slot (score-head.ts), when asked for. */
  readonly features?: Float32Array;
}

/** What an evaluation computes beyond the base rules: the fitted score (`head`), the score head's inputs. */
export interface PredictOptions {
  readonly head?: ScoreHead;
  readonly features?: boolean;
}

/** A split's images at the model's size, [N, H, W, 3] in [−1, 1], loaded once (the CPU demos fit in memory). */
export type ImageTable = GenericImageTable<DetectionExample>;

export interface DetectionEval {
  /** The rule behind `metrics`, `predictions[i].scores` and `detections`. */
  readonly score: ScoreRule;
  /** The 12 COCO stats by name (AP, AP50, …, ARl) and boxes_per_image, under `score`. */
  readonly metrics: Record<string, number>;
  /** The same stats under each rule (`metrics` is `byScore[score]`). */
  readonly byScore: ByRule<Record<string, number>>;
  /** The same stats under the oracle score (oracleScores): what a perfect confidence would make of these boxes. */
  readonly oracle: Record<string, number>;
  readonly meanReward: number;
  /** The greedy boxes' outcomes at IoU 0.5, summed over the images. */
  readonly outcomes: BoxOutcomes;
  readonly predictions: ScoredPrediction[];
  readonly detections: CocoDetection[];
}

/**
 * Per-slot scores of one sequence under both rules, from its token log-probs [L] (of the tokens it holds) and the
 * probabilities of confidence tokens 0, 1, 2 at each slot's confidence position [S, 3]. Null slots get values too
 * (the results JSON and the metrics leave them out).
 */
export function slotScores(
  tokenLogProbs: ArrayLike<number>,
  confProbs: ArrayLike<number>,
  slots: number,
): Record<BaseRule, Float32Array> {
  const likelihood = new Float32Array(slots);
  const confidence = new Float32Array(slots);
  for (let k = 0; k < slots; k++) {
    const at = k * TOKENS_PER_BOX;
    let coords = 0;
    for (let j = 0; j < 4; j++) coords += tokenLogProbs[at + j];
    likelihood[k] = Math.exp(tokenLogProbs[at + 4] + coords / 4);
    const p1 = confProbs[k * 3 + 1],
      p2 = confProbs[k * 3 + 2];
    confidence[k] = p1 + p2 > 0 ? p2 / (p1 + p2) : 0;
  }
  return { likelihood, confidence };
}

/**
 * A diagnostic score, not a rule a model can use: the paper's confidence target known exactly — each box's IoU with
 * its best object of its class when above 0.5, else 0 (the reward's `matchIou`) — with ties (every box below 0.5)
 * broken by the likelihood, which is below 1. Under it, a box ranks by how good it is: the AP it gives is what an
 * exact expected-IoU score would make of the same boxes, which tells whether a model's boxes or its scores hold its
 * AP back. (Not a strict upper bound: COCO AP is per class and per threshold, and duplicates count against it.)
 */
export function oracleScores(matchIou: ArrayLike<number>, likelihood: ArrayLike<number>): Float32Array {
  return Float32Array.from(likelihood, (l, k) => matchIou[k] + 1e-3 * l);
}

/**
 * Greedy predictions of one batch of images [B, H, W, 3], scored by both rules (and the fitted score with a head);
 * `scores` holds `rule`'s.
 */
export async function predictBatch(
  model: EncoderDecoder,
  task: DetectionTask,
  images: tf.Tensor4D,
  rule: ScoreRule,
  opts: PredictOptions = {},
): Promise<ScoredPrediction[]> {
  if (rule === 'fitted' && opts.head === undefined) throw new Error("score rule 'fitted' needs a score head");
  const wantFull = opts.head !== undefined || opts.features === true;
  const encoded = model.encode(images);
  try {
    const s = await model.sampleFromEncoded(encoded, { numSamples: 1, greedy: true });
    const B = s.batch,
      L = s.length,
      S = L / TOKENS_PER_BOX;
    const [tokenLps, confProbs, full] = tf.tidy(() => {
      const tokens = tokensTensor(s.tokens, [B, L]);
      const lp = model.logProbsFromEncoded(encoded, tokens);
      const V = lp.shape[2];
      const chosen = selectTokenLogProbs(lp, tokens); // [B, L]
      // [B, L, V] → [B, S, 6, V] → the confidence position's p(0), p(1), p(2): [B, S, 3].
      const slots = tf.reshape(lp, [B, S, TOKENS_PER_BOX, V]);
      return [
        chosen,
        tf.exp(
          tf.reshape(tf.slice(slots, [0, 0, TOKENS_PER_BOX - 1, 0], [B, S, 1, MAX_CONF + 1]), [B, S, MAX_CONF + 1]),
        ),
        wantFull ? tf.keep(lp) : undefined,
      ];
    });
    const [lps, p, all] = (await Promise.all([
      readTensor(tokenLps),
      readTensor(confProbs),
      full === undefined ? undefined : readTensor(full),
    ])) as [Float32Array, Float32Array, Float32Array | undefined];
    tf.dispose([tokenLps, confProbs, ...(full === undefined ? [] : [full])]);
    const V = all === undefined ? 0 : all.length / (B * L);
    return Array.from({ length: B }, (_, b) => {
      const tokens = s.tokens.slice(b * L, (b + 1) * L);
      const decoded = task.decode(tokens);
      const base = slotScores(lps.subarray(b * L, (b + 1) * L), p.subarray(b * S * 3, (b + 1) * S * 3), S);
      const features =
        all === undefined
          ? undefined
          : boxFeatures(task.opts.vocab, tokens, decoded.slots, all.subarray(b * L * V, (b + 1) * L * V));
      const byRule: ByRule<Float32Array> =
        opts.head === undefined ? base : { ...base, fitted: applyScoreHead(opts.head, features!) };
      return { ...decoded, scores: byRule[rule]!, byRule, ...(opts.features ? { features } : {}) };
    });
  } finally {
    encoded.dispose();
  }
}

export async function evaluateDetection(
  model: EncoderDecoder,
  task: DetectionTask,
  table: ImageTable,
  batchSize: number,
  rule: ScoreRule,
  onBatch?: (done: number, total: number) => void,
  opts: PredictOptions = {},
): Promise<DetectionEval> {
  const predictions = await predictTable(model, task, table, batchSize, rule, onBatch, opts);
  return evaluatePredictions(task, predictions, table.examples, rule);
}

/** The greedy predictions of every image of a table, `batchSize` at a time (predictBatch). */
export async function predictTable(
  model: EncoderDecoder,
  task: DetectionTask,
  table: ImageTable,
  batchSize: number,
  rule: ScoreRule,
  onBatch?: (done: number, total: number) => void,
  opts: PredictOptions = {},
): Promise<ScoredPrediction[]> {
  const predictions: ScoredPrediction[] = [];
  const n = table.examples.length;
  for (let s = 0; s < n; s += batchSize) {
    const batch = batchOf(
      table,
      Array.from({ length: Math.min(batchSize, n - s) }, (_, i) => s + i),
    );
    const { data, shape } = batch.images as { data: Float32Array; shape: [number, number, number, number] };
    const images = tf.tensor4d(data, shape);
    try {
      predictions.push(...(await predictBatch(model, task, images, rule, opts)));
    } finally {
      images.dispose();
    }
    onBatch?.(Math.min(s + batchSize, n), n);
  }
  return predictions;
}

/**
 * The evaluation of scored predictions of `examples` (one each): COCO stats under every rule they carry (`fitted`
 * when they have it) and under the oracle score, the mean reward, the box outcomes, the COCO results under `rule`.
 */
export function evaluatePredictions(
  task: DetectionTask,
  predictions: ScoredPrediction[],
  examples: readonly DetectionExample[],
  rule: ScoreRule,
): DetectionEval {
  const n = examples.length;
  let rewardSum = 0;
  let outcomes = NO_OUTCOMES;
  const oracle: DetectionPrediction[] = [];
  predictions.forEach((p, i) => {
    const r = task.reward([p], examples[i]);
    rewardSum += r.rewards[0];
    outcomes = addOutcomes(outcomes, boxOutcomes(p, examples[i]));
    oracle.push({ slots: p.slots, scores: oracleScores(r.aux![0].matchIou, p.byRule.likelihood) });
  });
  const rules = predictions.length > 0 && predictions[0].byRule.fitted !== undefined ? SCORE_RULES : BASE_RULES;
  if (!(rules as readonly ScoreRule[]).includes(rule))
    throw new Error(`score rule '${rule}': the predictions have no such scores`);
  const byScore = Object.fromEntries(
    rules.map((r) => [
      r,
      task.evaluate(
        predictions.map((p) => ({ slots: p.slots, scores: p.byRule[r] })),
        examples,
      ),
    ]),
  ) as ByRule<Record<string, number>>;
  return {
    score: rule,
    metrics: byScore[rule]!,
    byScore,
    oracle: task.evaluate(oracle, examples),
    meanReward: n > 0 ? rewardSum / n : NaN,
    outcomes,
    predictions,
    detections: predictions.flatMap((p, i) => cocoDetections(p, examples[i], task.opts.categoryIds)),
  };
}

const PALETTE: readonly (readonly [number, number, number])[] = [
  [255, 255, 0],
  [0, 255, 255],
  [255, 0, 255],
  [255, 128, 0],
  [128, 255, 0],
  [0, 128, 255],
  [255, 255, 255],
  [128, 0, 255],
  [0, 0, 0],
];

/**
 * Row `index` of a table drawn `scale`× larger with every box the model emitted (colour by class; null slots left
 * out). No ground truth is drawn: the shapes in the picture are it. Scores are not thresholded, since the two score
 * rules live on different scales (a likelihood of 0.3 is a good box, an expected IoU of 0.3 a poor one).
 */
export function drawPredictions(table: ImageTable, index: number, pred: DetectionPrediction, scale = 4): RgbImage {
  const size = table.size;
  const per = size * size * 3;
  const small = fromUnitRange(table.pixels.subarray(index * per, (index + 1) * per), size, size);
  const W = size * scale;
  const img: RgbImage = { width: W, height: W, data: new Uint8Array(W * W * 3) };
  for (let y = 0; y < W; y++) {
    for (let x = 0; x < W; x++) {
      const s = (Math.floor(y / scale) * size + Math.floor(x / scale)) * 3;
      img.data.set(small.data.subarray(s, s + 3), (y * W + x) * 3);
    }
  }
  pred.slots.forEach((b) => {
    if (b.conf === 0) return;
    const x0 = Math.min(b.xmin, b.xmax) * W,
      y0 = Math.min(b.ymin, b.ymax) * W;
    const w = Math.abs(b.xmax - b.xmin) * W,
      h = Math.abs(b.ymax - b.ymin) * W;
    drawRect(img, [x0, y0, Math.max(1, w), Math.max(1, h)], PALETTE[b.cls % PALETTE.length], 2);
  });
  return img;
}

/**
 * Writes eval/metrics.json (with the split and image count), eval/results.json (COCO results) and the first
 * `pictures` images with their boxes (`<split>_NNN.png`).
 */
export function writeDetectionEval(
  ev: DetectionEval,
  images: ImageTable,
  dir: string,
  pictures: number,
  split = 'val',
): void {
  const out = path.join(dir, 'eval');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'results.json'), JSON.stringify(ev.detections));
  const metrics = {
    split,
    images: images.examples.length,
    score: ev.score,
    mean_reward: ev.meanReward,
    ...ev.metrics,
    box_outcomes: ev.outcomes,
    by_score: ev.byScore,
    oracle_score: ev.oracle,
  };
  writeFileSync(path.join(out, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
  for (let i = 0; i < Math.min(pictures, images.examples.length); i++) {
    writeFileSync(
      path.join(out, `${split}_${String(i).padStart(3, '0')}.png`),
      encodePng(drawPredictions(images, i, ev.predictions[i])),
    );
  }
}

/** The line a command prints after an evaluation. */
export function summaryLine(name: string, ev: DetectionEval): string {
  const m = ev.metrics;
  return (
    `${name} (score: ${ev.score}): AP ${m.AP.toFixed(3)}  AP50 ${m.AP50.toFixed(3)}  AR100 ${m.AR100.toFixed(3)}  ` +
    `mean reward ${ev.meanReward.toFixed(3)}  boxes/image ${m.boxes_per_image.toFixed(2)}`
  );
}

/** The 12 COCO stats in pycocotools' order (the `stats` of --json output). */
export const statsOf = (ev: DetectionEval): number[] => STAT_NAMES.map((k) => ev.metrics[k]);
