/**
 * The panoptic reward and the dataset metric, both through rewards-metrics' Panoptic Quality (panopticapi's
 * `pq_compute` semantics: a match needs IoU > 0.5; predicted pixels on void leave the union; crowd regions never
 * match, never count as misses, and forgive predictions lying mostly on them or on void).
 *
 * - Reward: PQ of one image, the mean over the categories present in that image's ground truth or prediction
 *   (rewards-metrics `imagePq`), in [0, 1]; or the project's linearised dataset-PQ gain (`imagePqGain`).
 * - Metric: PQ / SQ / RQ over a dataset for All, Things and Stuff (each category's sums over every image, then the
 *   mean over categories), in points (×100) as panopticapi prints them.
 */
import {
  PqAccumulator,
  imagePq,
  imagePqGain,
  imagePqGainMap,
  type PanopticImage,
  type PqResult,
  type PqScores,
} from '@reward-tune/rewards-metrics';
import type { RewardGives } from '@reward-tune/reinforce';
import type { PanopticClasses } from './classes';
import { segmentsFromTwoChannel } from './segments';
import type { TwoChannelMap } from './two-channel';

/**
 * The rewards (config `reward`): `pq`, per-image PQ (the mean over the image's categories, panopticapi's "All" on a
 * one-image dataset; the paper's kind of reward); `pq-gain`, the project's linearised dataset-PQ gain of the image
 * (rewards-metrics `imagePqGain`: each segment priced at its kind's reference PQ, `reference`).
 */
export const PANOPTIC_REWARDS = ['pq', 'pq-gain'] as const;
export type PanopticRewardKind = (typeof PANOPTIC_REWARDS)[number];

export interface PanopticRewardConfig {
  readonly kind: PanopticRewardKind;
  /** `pq-gain`: the reference PQ of things and of stuff, in [0, 1]. */
  readonly reference: { readonly things: number; readonly stuff: number };
}

export const DEFAULT_PANOPTIC_REWARD: PanopticRewardConfig = { kind: 'pq', reference: { things: 0.12, stuff: 0.75 } };

/**
 * The reward of a prediction (segments) against the ground truth: per-image PQ in [0, 1] by default. Throws a
 * RangeError for an inconsistent pair.
 */
export const panopticReward = (
  pred: PanopticImage,
  gt: PanopticImage,
  classes: PanopticClasses,
  reward: PanopticRewardConfig = DEFAULT_PANOPTIC_REWARD,
): number =>
  reward.kind === 'pq'
    ? imagePq(gt, pred, classes.categories)
    : imagePqGain(gt, pred, classes.categories, reward.reference);

/**
 * The reward of a two-channel prediction (model output): converted to segments as panopticapi does, then
 * `panopticReward`.
 */
export const makePanopticReward =
  (classes: PanopticClasses, reward: PanopticRewardConfig = DEFAULT_PANOPTIC_REWARD) =>
  (pred: TwoChannelMap, gt: PanopticImage): number =>
    panopticReward(segmentsFromTwoChannel(pred, classes), gt, classes, reward);

/**
 * What the panoptic reward gives the estimators: `pq-gain` splits over the code tokens by the image region each
 * decodes into, so `rtg` can use it (the config refuses `rtg` with `pq`); no values of the tokens not drawn.
 */
export const PANOPTIC_REWARD_GIVES: RewardGives = {
  tokenRewards: true,
  tokenValues: false,
  why: 'the panoptic reward splits over the code tokens (pq-gain) but gives no values of the tokens not drawn',
};

/**
 * `pq-gain` split over the code tokens, for the `rtg` estimator: each pixel's share of the gain (rewards-metrics
 * `imagePqGainMap`) goes to the code tokens as the oracle's decoder places them in the image (`axis`, core-model
 * `codeAxisWeights`: [size, side] per axis, rows summing to 1), so the tokens' rewards sum to the image's gain.
 * Token (i, j) of the row-major side × side code: Σ_y Σ_x axis[y, i]·axis[x, j]·gain[y, x]. A token is credited
 * with the region it mostly decodes into; what it does to other regions through the decoder's attention is not
 * counted (a biased, lower-variance credit: docs/method.md).
 */
export function tokenRewardsOf(gain: Float64Array, axis: Float64Array, size: number, side: number): Float64Array {
  if (gain.length !== size * size || axis.length !== size * side)
    throw new RangeError(
      `tokenRewardsOf: ${gain.length} pixels and ${axis.length} weights for ${size}² and side ${side}`,
    );
  const rows = new Float64Array(size * side); // [y, j] = Σ_x axis[x, j]·gain[y, x]
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const v = gain[y * size + x];
      if (v === 0) continue;
      for (let j = 0; j < side; j++) rows[y * side + j] += axis[x * side + j] * v;
    }
  const out = new Float64Array(side * side);
  for (let y = 0; y < size; y++)
    for (let i = 0; i < side; i++) {
      const a = axis[y * side + i];
      if (a === 0) continue;
      for (let j = 0; j < side; j++) out[i * side + j] += a * rows[y * side + j];
    }
  return out;
}

/**
 * The reward of a two-channel prediction and its split over the code tokens (`pq-gain` only; see tokenRewardsOf).
 */
export const makePanopticTokenReward =
  (classes: PanopticClasses, reward: PanopticRewardConfig, axis: Float64Array, side: number) =>
  (pred: TwoChannelMap, gt: PanopticImage): { reward: number; tokens: Float64Array } => {
    if (reward.kind !== 'pq-gain') throw new RangeError(`reward.kind '${reward.kind}' does not split over tokens`);
    const segments = segmentsFromTwoChannel(pred, classes);
    const { gain, pixels } = imagePqGainMap(gt, segments, classes.categories, reward.reference);
    return { reward: gain, tokens: tokenRewardsOf(pixels, axis, gt.width, side) };
  };

/** PQ, SQ and RQ in points, and how many categories were averaged. */
export interface PanopticScore {
  readonly PQ: number;
  readonly SQ: number;
  readonly RQ: number;
  readonly n: number;
}

export interface PanopticScores {
  readonly All: PanopticScore;
  readonly Things: PanopticScore;
  readonly Stuff: PanopticScore;
}

const points = (s: PqScores): PanopticScore => ({ PQ: 100 * s.pq, SQ: 100 * s.sq, RQ: 100 * s.rq, n: s.n });

/** A rewards-metrics PQ result in points. */
export const pqPoints = (r: PqResult): PanopticScores => ({
  All: points(r.All),
  Things: points(r.Things),
  Stuff: points(r.Stuff),
});

/**
 * Dataset PQ of (ground truth, prediction) pairs; a prediction may be segments or a two-channel map. Throws a
 * RangeError for an inconsistent pair.
 */
export function evaluatePanoptic(
  pairs: Iterable<readonly [gt: PanopticImage, pred: PanopticImage | TwoChannelMap]>,
  classes: PanopticClasses,
): PanopticScores {
  const acc = new PqAccumulator(classes.categories);
  for (const [gt, pred] of pairs) acc.add(gt, 'ids' in pred ? pred : segmentsFromTwoChannel(pred, classes));
  return pqPoints(acc.result());
}
