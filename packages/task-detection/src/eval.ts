/**
 * The detection evaluation suite: greedy decoding of the validation images, each box scored by the model's expected
 * IoU p(2) / (p(1) + p(2)) read at its confidence slot (one teacher-forced re-score of the greedy output), COCO box
 * mAP (all 12 stats) through rewards-metrics, the mean reward, boxes per image, the COCO results JSON, and pictures.
 *
 * Dimension legend: B batch, S box slots, L = 6·S length, V vocabulary.
 */
import * as tf from '@tensorflow/tfjs-core';
import { drawRect, fromUnitRange, readTensor, type EncoderDecoder, type RgbImage } from '@reward-tune/core-model';
import type { CocoDetection } from '@reward-tune/rewards-metrics';
import type { DetectionExample } from './dataset';
import { type ImageTable } from './setup';
import { batchOf } from '@reward-tune/reinforce';
import { cocoDetections, type DetectionPrediction, type DetectionTask } from './task';
import { MAX_CONF, TOKENS_PER_BOX } from './tokens';

/** An evaluation with the validation table it ran on (the demo draws its pictures from it). */
export interface DetectionRunEval {
  readonly ev: DetectionEval;
  readonly val: ImageTable;
}

export interface DetectionEval {
  /** The 12 COCO stats by name (AP, AP50, …, ARl) and boxes_per_image. */
  readonly metrics: Record<string, number>;
  readonly meanReward: number;
  readonly predictions: DetectionPrediction[];
  readonly detections: CocoDetection[];
}

/** Greedy predictions with expected-IoU scores for one batch of images [B, H, W, 3]. */
export async function predictBatch(model: EncoderDecoder, task: DetectionTask, images: tf.Tensor4D): Promise<DetectionPrediction[]> {
  const encoded = model.encode(images);
  try {
    const s = await model.sampleFromEncoded(encoded, { numSamples: 1, greedy: true });
    const B = s.batch, L = s.length, S = L / TOKENS_PER_BOX;
    const probs = tf.tidy(() => {
      const lp = model.logProbsFromEncoded(encoded, tf.tensor2d(s.tokens, [B, L], 'int32'));
      const V = lp.shape[2];
      // [B, L, V] → [B, S, 6, V] → the confidence position's p(0), p(1), p(2): [B, S, 3].
      const slots = tf.reshape(lp, [B, S, TOKENS_PER_BOX, V]);
      return tf.exp(tf.reshape(tf.slice(slots, [0, 0, TOKENS_PER_BOX - 1, 0], [B, S, 1, MAX_CONF + 1]), [B, S, MAX_CONF + 1]));
    });
    const p = (await readTensor(probs)) as Float32Array;
    probs.dispose();
    return Array.from({ length: B }, (_, b) => {
      const scores = new Float32Array(S);
      for (let k = 0; k < S; k++) {
        const p1 = p[(b * S + k) * 3 + 1], p2 = p[(b * S + k) * 3 + 2];
        scores[k] = p1 + p2 > 0 ? p2 / (p1 + p2) : 0;
      }
      return { ...task.decode(s.tokens.slice(b * L, (b + 1) * L)), scores };
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
  onBatch?: (done: number, total: number) => void,
): Promise<DetectionEval> {
  const predictions: DetectionPrediction[] = [];
  const n = table.examples.length;
  for (let s = 0; s < n; s += batchSize) {
    const batch = batchOf(table, Array.from({ length: Math.min(batchSize, n - s) }, (_, i) => s + i));
    const { data, shape } = batch.images as { data: Float32Array; shape: [number, number, number, number] };
    const images = tf.tensor4d(data, shape);
    try {
      predictions.push(...(await predictBatch(model, task, images)));
    } finally {
      images.dispose();
    }
    onBatch?.(Math.min(s + batchSize, n), n);
  }
  const examples = table.examples;
  let rewardSum = 0;
  predictions.forEach((p, i) => (rewardSum += task.reward([p], examples[i]).rewards[0]));
  return {
    metrics: task.evaluate(predictions, examples),
    meanReward: n > 0 ? rewardSum / n : NaN,
    predictions,
    detections: predictions.flatMap((p, i) => cocoDetections(p, examples[i], task.opts.categoryIds)),
  };
}

const PALETTE: readonly (readonly [number, number, number])[] = [
  [255, 255, 0], [0, 255, 255], [255, 0, 255], [255, 128, 0], [128, 255, 0], [0, 128, 255], [255, 255, 255], [128, 0, 255], [0, 0, 0],
];

/**
 * Row `index` of a table drawn `scale`× larger with its predicted boxes (colour by class; boxes scoring under
 * `minScore` left out) and, thinner and white, nothing else: the ground truth is what the picture shows.
 */
export function drawPredictions(table: ImageTable, index: number, pred: DetectionPrediction, scale = 4, minScore = 0.3): RgbImage {
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
  pred.slots.forEach((b, k) => {
    if (b.conf === 0 || (pred.scores !== undefined && pred.scores[k] < minScore)) return;
    const x0 = Math.min(b.xmin, b.xmax) * W, y0 = Math.min(b.ymin, b.ymax) * W;
    const w = Math.abs(b.xmax - b.xmin) * W, h = Math.abs(b.ymax - b.ymin) * W;
    drawRect(img, [x0, y0, Math.max(1, w), Math.max(1, h)], PALETTE[b.cls % PALETTE.length], 2);
  });
  return img;
}

export type { DetectionExample };
