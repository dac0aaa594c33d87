/**
 * The panoptic reward and the dataset metric, both through rewards-metrics' Panoptic Quality (panopticapi's
 * `pq_compute` semantics: a match needs IoU > 0.5; predicted pixels on void leave the union; crowd regions never
 * match, never count as misses, and forgive predictions lying mostly on them or on void).
 *
 * - Reward: PQ of one image, the mean over the categories present in that image's ground truth or prediction
 *   (rewards-metrics `imagePq`), in [0, 1].
 * - Metric: PQ / SQ / RQ over a dataset for All, Things and Stuff (each category's sums over every image, then the
 *   mean over categories), in points (×100) as panopticapi prints them.
 */
import { PqAccumulator, imagePq, type PanopticImage, type PqResult, type PqScores } from '@reward-tune/rewards-metrics';
import type { PanopticClasses } from './classes';
import { segmentsFromTwoChannel } from './segments';
import type { TwoChannelMap } from './two-channel';

/**
 * Per-image PQ of a prediction (segments) against the ground truth, in [0, 1]. Throws a RangeError for an inconsistent
 * pair.
 */
export const panopticReward = (pred: PanopticImage, gt: PanopticImage, classes: PanopticClasses): number =>
  imagePq(gt, pred, classes.categories);

/**
 * The reward of a two-channel prediction (model output): converted to segments as panopticapi does, then
 * `panopticReward`.
 */
export const makePanopticReward =
  (classes: PanopticClasses) =>
  (pred: TwoChannelMap, gt: PanopticImage): number =>
    panopticReward(segmentsFromTwoChannel(pred, classes), gt, classes);

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
