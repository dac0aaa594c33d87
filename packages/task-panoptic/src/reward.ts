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
  type PanopticImage,
  type PqResult,
  type PqScores,
} from '@reward-tune/rewards-metrics';
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
