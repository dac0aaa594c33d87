/**
 * A fitted box score: a small head, fitted after training, that predicts a box's IoU with its object (its match IoU
 * at 0.5, the confidence loss's own target) from what the frozen model says about that box. It is the paper's
 * learned expected IoU (§3.1.4) made a separate read-out instead of a token of the sequence: on the tiny models the
 * in-sequence confidence ranked boxes worse than their likelihood (docs/experiments/detection-confidence.md).
 *
 * Its inputs (`boxFeatures`, one row per box) come from the one teacher-forced re-score of the greedy output that the
 * evaluation already makes: the log-probabilities of the box's tokens, how spread each coordinate's distribution is
 * (relative to the box's side: a spread of one bin matters more to a small box), the probability that the slot was
 * null, the confidence token's read-out, the box's size and slot, how many boxes the image has, and how much the box
 * overlaps another of its class in the same output (a duplicate matches nothing). The head is a logistic regression
 * (`hidden` 0) or one tanh layer of `hidden` units, on standardised inputs, fitted by full-batch Adam to the
 * cross-entropy against the soft target IoU, with an L2 penalty on its weights; plain arithmetic in float64, so a fit
 * is the same on every backend. `fit-score.ts` fits it on the training images and picks `hidden` and the penalty on
 * val.
 *
 * Dimension legend: S box slots, L = 6·S sequence length, V vocabulary, F features, H hidden units, N boxes.
 */
import { z } from 'zod';
import { Rng } from '@reward-tune/core-model';
import type { DecodedBox } from './sequence';
import { COORD_OFFSET, TOKENS_PER_BOX, type DetectionVocab } from './tokens';

/** The features of a box, in the order `boxFeatures` writes them. */
export const FEATURE_NAMES = [
  'lp_ymin',
  'lp_xmin',
  'lp_ymax',
  'lp_xmax',
  'lp_class',
  'log_likelihood',
  'lp_null_first',
  'conf_logit',
  'spread_ymin',
  'spread_xmin',
  'spread_ymax',
  'spread_xmax',
  'log_height',
  'log_width',
  'slot',
  'boxes',
  'overlap_before',
  'overlap_after',
] as const;
export const NUM_FEATURES = FEATURE_NAMES.length;

/** Log-probabilities below this are clipped (a token the mask rules out is −∞). */
const LP_FLOOR = -30;
const clipLp = (x: number): number => (Number.isFinite(x) ? Math.max(LP_FLOOR, x) : LP_FLOOR);

function iou(a: DecodedBox, b: DecodedBox): number {
  const h = (y0: number, y1: number) => Math.abs(y1 - y0);
  const ih = Math.max(
    0,
    Math.min(Math.max(a.ymin, a.ymax), Math.max(b.ymin, b.ymax)) -
      Math.max(Math.min(a.ymin, a.ymax), Math.min(b.ymin, b.ymax)),
  );
  const iw = Math.max(
    0,
    Math.min(Math.max(a.xmin, a.xmax), Math.max(b.xmin, b.xmax)) -
      Math.max(Math.min(a.xmin, a.xmax), Math.min(b.xmin, b.xmax)),
  );
  const inter = ih * iw;
  const union = h(a.ymin, a.ymax) * h(a.xmin, a.xmax) + h(b.ymin, b.ymax) * h(b.xmin, b.xmax) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * [S × F] the features of every slot of one output (a null slot's row is left 0), from its tokens [L], its decoded
 * slots and the re-score's log-probabilities [L × V] under the decoding distribution.
 */
export function boxFeatures(
  vocab: DetectionVocab,
  tokens: ArrayLike<number>,
  slots: readonly DecodedBox[],
  logProbs: ArrayLike<number>,
): Float32Array {
  const S = slots.length;
  const V = logProbs.length / (S * TOKENS_PER_BOX);
  const out = new Float32Array(S * NUM_FEATURES);
  const step = 1 / (vocab.bins - 1);
  const boxes = slots.filter((b) => b.conf !== 0).length;
  const lpAt = (pos: number, tok: number): number => clipLp(logProbs[pos * V + tok]);
  /** The spread (standard deviation) of position `pos`'s distribution over the coordinate levels, in [0, 1] units. */
  const spread = (pos: number): number => {
    let mass = 0,
      mean = 0,
      sq = 0;
    for (let i = 0; i < vocab.bins; i++) {
      const p = Math.exp(logProbs[pos * V + COORD_OFFSET + i]);
      const x = i * step;
      mass += p;
      mean += p * x;
      sq += p * x * x;
    }
    if (!(mass > 0)) return 1;
    mean /= mass;
    return Math.sqrt(Math.max(0, sq / mass - mean * mean));
  };
  slots.forEach((b, k) => {
    if (b.conf === 0) return;
    const at = k * TOKENS_PER_BOX;
    const f = out.subarray(k * NUM_FEATURES, (k + 1) * NUM_FEATURES);
    let coords = 0;
    for (let j = 0; j < 4; j++) {
      f[j] = lpAt(at + j, tokens[at + j]);
      coords += f[j];
    }
    f[4] = lpAt(at + 4, tokens[at + 4]);
    f[5] = f[4] + coords / 4; // the likelihood score's log
    f[6] = lpAt(at, 0); // the slot was null
    f[7] = Math.max(-20, Math.min(20, lpAt(at + 5, 2) - lpAt(at + 5, 1)));
    const height = Math.max(step, Math.abs(b.ymax - b.ymin));
    const width = Math.max(step, Math.abs(b.xmax - b.xmin));
    for (let j = 0; j < 4; j++) f[8 + j] = Math.log(spread(at + j) / (j % 2 === 0 ? height : width) + 1e-3);
    f[12] = Math.log(height);
    f[13] = Math.log(width);
    f[14] = S > 1 ? k / (S - 1) : 0;
    f[15] = boxes / S;
    let before = 0,
      after = 0;
    slots.forEach((o, i) => {
      if (i === k || o.conf === 0 || o.cls !== b.cls) return;
      const v = iou(b, o);
      if (i < k) before = Math.max(before, v);
      else after = Math.max(after, v);
    });
    f[16] = before;
    f[17] = after;
  });
  return out;
}

/** A fitted head, as saved to JSON (`score-head.json`) and read back by the evaluation (`eval.scoreHead`). */
export const scoreHeadSchema = z
  .object({
    kind: z.literal('detection-score-head'),
    features: z.array(z.string()),
    /** Standardisation of each input: (x − mean) / std. */
    mean: z.array(z.number()),
    std: z.array(z.number()),
    hidden: z.number().int().nonnegative(),
    l2: z.number().nonnegative(),
    /** [H × F] row-major and [H] (absent with hidden 0). */
    w1: z.array(z.number()),
    b1: z.array(z.number()),
    /** [H] (or [F] with hidden 0), and the output bias. */
    w2: z.array(z.number()),
    b2: z.number(),
  })
  .passthrough();
export type ScoreHead = z.output<typeof scoreHeadSchema>;

/** Why a head cannot score this package's features (its inputs are another list, or its arrays do not fit), if so. */
export function headProblem(head: ScoreHead): string | undefined {
  if (head.features.join(',') !== FEATURE_NAMES.join(','))
    return `its features (${head.features.join(', ')}) are not this version's (${FEATURE_NAMES.join(', ')})`;
  const F = NUM_FEATURES,
    H = head.hidden;
  const sizes: [string, number, number][] = [
    ['mean', head.mean.length, F],
    ['std', head.std.length, F],
    ['w1', head.w1.length, H * F],
    ['b1', head.b1.length, H],
    ['w2', head.w2.length, H > 0 ? H : F],
  ];
  const bad = sizes.find(([, n, want]) => n !== want);
  return bad && `${bad[0]} has ${bad[1]} numbers, expected ${bad[2]}`;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** The head's logit of one row of raw features (x[offset .. offset + F)). */
function logit(head: ScoreHead, x: ArrayLike<number>, offset: number, z: Float64Array): number {
  const F = NUM_FEATURES,
    H = head.hidden;
  for (let i = 0; i < F; i++) z[i] = (x[offset + i] - head.mean[i]) / head.std[i];
  let out = head.b2;
  if (H === 0) {
    for (let i = 0; i < F; i++) out += head.w2[i] * z[i];
    return out;
  }
  for (let h = 0; h < H; h++) {
    let a = head.b1[h];
    for (let i = 0; i < F; i++) a += head.w1[h * F + i] * z[i];
    out += head.w2[h] * Math.tanh(a);
  }
  return out;
}

/** [rows] the head's expected IoU of each row of `features` [rows × F]. */
export function applyScoreHead(head: ScoreHead, features: ArrayLike<number>): Float32Array {
  const rows = features.length / NUM_FEATURES;
  const z = new Float64Array(NUM_FEATURES);
  return Float32Array.from({ length: rows }, (_, r) => sigmoid(logit(head, features, r * NUM_FEATURES, z)));
}

export interface FitOptions {
  /** Hidden tanh units (0: a logistic regression). */
  readonly hidden: number;
  /** L2 penalty on the weights (not the biases), added to the mean cross-entropy as l2/2 · Σw². */
  readonly l2: number;
  readonly steps: number;
  /** Adam's learning rate. */
  readonly lr: number;
  readonly seed: number;
}

export const DEFAULT_FIT: Omit<FitOptions, 'hidden' | 'l2'> = { steps: 1500, lr: 0.02, seed: 0 };

/** The mean cross-entropy of a head on rows [N × F] against soft targets [N] in [0, 1]. */
export function headLoss(head: ScoreHead, features: ArrayLike<number>, targets: ArrayLike<number>): number {
  const p = applyScoreHead(head, features);
  let sum = 0;
  const eps = 1e-7;
  for (let r = 0; r < p.length; r++) {
    const q = Math.min(1 - eps, Math.max(eps, p[r]));
    sum -= targets[r] * Math.log(q) + (1 - targets[r]) * Math.log(1 - q);
  }
  return p.length > 0 ? sum / p.length : 0;
}

/**
 * Fits a head to rows [N × F] of raw features and targets [N] in [0, 1] (the boxes' match IoUs): mean cross-entropy
 * of sigmoid(logit) against the target, plus the L2 penalty, by full-batch Adam. Deterministic for a seed.
 */
export function fitScoreHead(features: ArrayLike<number>, targets: ArrayLike<number>, opts: FitOptions): ScoreHead {
  const F = NUM_FEATURES,
    H = opts.hidden;
  const N = targets.length;
  if (N === 0 || features.length !== N * F)
    throw new RangeError(`fitScoreHead: ${N} targets for ${features.length} features`);
  // Standardised inputs, once.
  const mean = new Array<number>(F).fill(0),
    std = new Array<number>(F).fill(0);
  for (let r = 0; r < N; r++) for (let i = 0; i < F; i++) mean[i] += features[r * F + i] / N;
  for (let r = 0; r < N; r++) for (let i = 0; i < F; i++) std[i] += (features[r * F + i] - mean[i]) ** 2 / N;
  for (let i = 0; i < F; i++) std[i] = Math.max(1e-6, Math.sqrt(std[i]));
  const x = new Float64Array(N * F);
  for (let r = 0; r < N; r++) for (let i = 0; i < F; i++) x[r * F + i] = (features[r * F + i] - mean[i]) / std[i];
  let ybar = 0;
  for (let r = 0; r < N; r++) ybar += targets[r] / N;
  ybar = Math.min(0.99, Math.max(0.01, ybar));

  // Parameters in one vector: w1 [H × F], b1 [H], w2 [H or F], b2; `decayed` marks the weights the penalty covers.
  const n1 = H * F,
    nOut = H > 0 ? H : F;
  const P = n1 + H + nOut + 1;
  const theta = new Float64Array(P);
  const decayed = new Uint8Array(P);
  decayed.fill(1, 0, n1);
  decayed.fill(1, n1 + H, n1 + H + nOut);
  const rng = Rng.fromSeed(opts.seed);
  for (let i = 0; i < n1; i++) theta[i] = rng.normal() / Math.sqrt(F);
  for (let i = 0; i < nOut; i++) theta[n1 + H + i] = H > 0 ? rng.normal() / Math.sqrt(H) : 0;
  theta[P - 1] = Math.log(ybar / (1 - ybar));

  const grad = new Float64Array(P);
  const m = new Float64Array(P),
    v = new Float64Array(P);
  const act = new Float64Array(H);
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];
  for (let t = 1; t <= opts.steps; t++) {
    grad.fill(0);
    for (let r = 0; r < N; r++) {
      const o = r * F;
      let z = theta[P - 1];
      if (H === 0) {
        for (let i = 0; i < F; i++) z += theta[n1 + H + i] * x[o + i];
      } else {
        for (let h = 0; h < H; h++) {
          let a = theta[n1 + h];
          for (let i = 0; i < F; i++) a += theta[h * F + i] * x[o + i];
          act[h] = Math.tanh(a);
          z += theta[n1 + H + h] * act[h];
        }
      }
      const d = (sigmoid(z) - targets[r]) / N; // d(mean cross-entropy)/dz
      grad[P - 1] += d;
      if (H === 0) {
        for (let i = 0; i < F; i++) grad[n1 + H + i] += d * x[o + i];
      } else {
        for (let h = 0; h < H; h++) {
          grad[n1 + H + h] += d * act[h];
          const da = d * theta[n1 + H + h] * (1 - act[h] * act[h]);
          grad[n1 + h] += da;
          for (let i = 0; i < F; i++) grad[h * F + i] += da * x[o + i];
        }
      }
    }
    const c1 = 1 - beta1 ** t,
      c2 = 1 - beta2 ** t;
    for (let i = 0; i < P; i++) {
      const g = grad[i] + (decayed[i] ? opts.l2 * theta[i] : 0);
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      theta[i] -= (opts.lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
    }
  }
  return {
    kind: 'detection-score-head',
    features: [...FEATURE_NAMES],
    mean,
    std,
    hidden: H,
    l2: opts.l2,
    w1: Array.from(theta.subarray(0, n1)),
    b1: Array.from(theta.subarray(n1, n1 + H)),
    w2: Array.from(theta.subarray(n1 + H, n1 + H + nOut)),
    b2: theta[P - 1],
  };
}
