/**
 * What became of each box a model emitted, at IoU 0.5 and by the reward's own matching (rewards-metrics'
 * detectionReward: each box goes to its best object of its class, and an object claimed by several boxes keeps the
 * one that overlaps it most; the others are the duplicates the reward penalises): the issue's "fewer duplicates are
 * the point" in numbers. Every non-null box is one of
 *   found       the match of an object,
 *   duplicate   it overlaps its best object of its class at IoU > 0.5, which another box matches better,
 *   wrongClass  no object of its class at IoU > 0.5, but one of another class,
 *   noObject    no object of any class at IoU > 0.5.
 * `objects` counts the image's non-crowd objects, so found / objects is the recall at IoU 0.5.
 */
import { detectionReward, type Boxes } from '@reward-tune/rewards-metrics';
import type { DetectionExample } from './dataset';
import { gtBoxes, predBoxes, type DetectionPrediction } from './task';

export interface BoxOutcomes {
  readonly boxes: number;
  readonly found: number;
  readonly duplicate: number;
  readonly wrongClass: number;
  readonly noObject: number;
  readonly objects: number;
}

export const NO_OUTCOMES: BoxOutcomes = { boxes: 0, found: 0, duplicate: 0, wrongClass: 0, noObject: 0, objects: 0 };

const AT_50 = { thresholds: [0.5], correctThreshold: 0.5 } as const;
const classBlind = (b: Boxes): Boxes => ({ ...b, classes: new Int32Array(b.classes.length) });

export function boxOutcomes(prediction: DetectionPrediction, example: DetectionExample): BoxOutcomes {
  const pred = predBoxes(prediction);
  const gt = gtBoxes(example);
  // Unweighted, at the one threshold: numMatches counts the found objects, nmsPenalty the duplicates.
  const byClass = detectionReward(pred, gt, AT_50);
  const anyClass = detectionReward(classBlind(pred), classBlind(gt), AT_50);
  let boxes = 0,
    wrongClass = 0;
  byClass.correct.forEach((c, i) => {
    if (c === 0) return; // a null slot
    boxes++;
    if (c === 1 && anyClass.correct[i] === 2) wrongClass++;
  });
  const found = byClass.perThreshold.numMatches[0];
  const duplicate = byClass.perThreshold.nmsPenalty[0];
  return {
    boxes,
    found,
    duplicate,
    wrongClass,
    noObject: boxes - found - duplicate - wrongClass,
    objects: example.boxes.length,
  };
}

export const addOutcomes = (a: BoxOutcomes, b: BoxOutcomes): BoxOutcomes => ({
  boxes: a.boxes + b.boxes,
  found: a.found + b.found,
  duplicate: a.duplicate + b.duplicate,
  wrongClass: a.wrongClass + b.wrongClass,
  noObject: a.noObject + b.noObject,
  objects: a.objects + b.objects,
});
