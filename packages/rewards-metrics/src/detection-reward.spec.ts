import paper from './__fixtures__/detection-reward/paper.json';
import paperExpected from './__fixtures__/detection-reward/paper.expected.json';
import weighted from './__fixtures__/detection-reward/random-weighted.json';
import weightedExpected from './__fixtures__/detection-reward/random-weighted.expected.json';
import unweighted from './__fixtures__/detection-reward/random-unweighted.json';
import unweightedExpected from './__fixtures__/detection-reward/random-unweighted.expected.json';
import {
  COCO_TRAIN_CLASS_COUNTS,
  DEFAULT_IOU_THRESHOLDS,
  boxesFromObjects,
  classWeights,
  detectionReward,
  detectionRewardValue,
  overlapsOwnClass,
  releasedThresholdWeights,
} from './detection-reward';

// Golden numbers (*.expected.json): a float64 numpy port of big_vision's detection_reward.py (_reward_fn_thr,
// reward_fn with its f"{thr:0.1f}" result keys), run outside the repo on the committed inputs. The random inputs
// contain duplicate GT boxes and duplicate predictions (argmax ties on both sides), wrong classes and null slots.
interface Input {
  class_counts?: number[];
  gt: { box: number[]; class: number }[];
  samples: { box: number[]; class: number; conf: number }[][];
}
interface Expected {
  reward: number[];
  reward_released: number[];
  correct: number[][];
  match_iou: number[][];
  per_threshold: Record<string, { reward: number[]; num_matches: number[]; nms_penalty: number[] }>;
}

const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9;

function check(input: Input, expected: Expected): unknown[] {
  const gt = boxesFromObjects(input.gt);
  const opts = input.class_counts ? { classWeights: classWeights(input.class_counts) } : {};
  const bad: unknown[] = [];
  input.samples.forEach((s, i) => {
    const r = detectionReward(boxesFromObjects(s), gt, opts);
    if (!close(r.reward, expected.reward[i])) bad.push([i, 'reward', r.reward, expected.reward[i]]);
    if (!close(r.rewardReleased, expected.reward_released[i]))
      bad.push([i, 'released', r.rewardReleased, expected.reward_released[i]]);
    if (Array.from(r.correct).join() !== expected.correct[i].join())
      bad.push([i, 'correct', Array.from(r.correct), expected.correct[i]]);
    expected.match_iou[i].forEach(
      (m, p) => !close(r.matchIou[p], m) && bad.push([i, 'match_iou', p, r.matchIou[p], m]),
    );
    DEFAULT_IOU_THRESHOLDS.forEach((t, j) => {
      const e = expected.per_threshold[String(t)];
      if (!close(r.perThreshold.reward[j], e.reward[i]))
        bad.push([i, t, 'reward', r.perThreshold.reward[j], e.reward[i]]);
      if (r.perThreshold.numMatches[j] !== e.num_matches[i])
        bad.push([i, t, 'num_matches', r.perThreshold.numMatches[j], e.num_matches[i]]);
      if (!close(r.perThreshold.nmsPenalty[j], e.nms_penalty[i]))
        bad.push([i, t, 'nms', r.perThreshold.nmsPenalty[j], e.nms_penalty[i]]);
    });
  });
  return bad;
}

describe('detection reward (big_vision reward_tune semantics)', () => {
  it('reproduces the worked example of __fixtures__/detection-reward/paper.json', () => {
    const r = detectionReward(boxesFromObjects(paper.samples[0]), boxesFromObjects(paper.gt), {
      classWeights: classWeights(COCO_TRAIN_CLASS_COUNTS),
    });
    for (let j = 0; j < 9; j++) expect(r.perThreshold.reward[j]).toBeCloseTo(1.2808, 4); // thresholds 0.5..0.9
    expect(r.perThreshold.reward[9]).toBeCloseTo(0.1154, 4); // 0.95: only the exact person box survives
    expect(Array.from(r.correct)).toEqual([2, 2, 2, 1, 0]);
    expect(Array.from(r.matchIou).map((v) => Number(v.toFixed(4)))).toEqual([0.9524, 1, 0.9333, 0, 0]);
    expect(r.reward).toBeCloseTo(1.1643, 4);
    expect(r.rewardReleased).toBeCloseTo(1.0478, 4);
    expect(check(paper, paperExpected)).toEqual([]);
  });

  it('matches the numpy port on random weighted and unweighted inputs to 1e-9', () => {
    expect(check(weighted, weightedExpected)).toEqual([]);
    expect(check(unweighted, unweightedExpected)).toEqual([]);
  });

  it('detectionRewardValue gives the same numbers, and a later call leaves an earlier result as it was', () => {
    for (const [input, expected] of [
      [weighted, weightedExpected],
      [unweighted, unweightedExpected],
    ] as [Input, Expected][]) {
      const gt = boxesFromObjects(input.gt);
      const opts = input.class_counts ? { classWeights: classWeights(input.class_counts) } : {};
      const samples = input.samples.map((s) => boxesFromObjects(s));
      const first = detectionReward(samples[0], gt, opts);
      const firstCopy = JSON.stringify(first, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v));
      samples.forEach((s, i) => {
        expect(detectionRewardValue(s, gt, opts)).toBe(detectionReward(s, gt, opts).reward);
        expect(detectionRewardValue(s, gt, opts, true)).toBe(detectionReward(s, gt, opts).rewardReleased);
        expect(close(detectionRewardValue(s, gt, opts), expected.reward[i])).toBe(true);
      });
      // The working arrays are reused between calls: results must be copies.
      expect(JSON.stringify(first, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v))).toBe(
        firstCopy,
      );
    }
  });

  it('overlapsOwnClass: the candidates of the reward, and every other real box of a class scores alike', () => {
    let seed = 3;
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const box = () => {
      const [y, x] = [rnd(), rnd()];
      return rnd() < 0.3
        ? [y, x, y * rnd(), x + 0.2]
        : [y, x, Math.min(1, y + rnd() * 0.4), Math.min(1, x + rnd() * 0.4)];
    };
    const gt = boxesFromObjects(Array.from({ length: 5 }, (_, i) => ({ box: box(), class: i % 3 })));
    const opts = { classWeights: Float64Array.from([1, 1.5, 0.5]), nmsWeight: 1, falsePositiveWeight: 0.4 };
    for (let trial = 0; trial < 20; trial++) {
      const pred = boxesFromObjects(
        Array.from({ length: 6 }, () => ({ box: box(), class: Math.floor(rnd() * 3), conf: 1 })),
      );
      const byClass = new Map<number, number>();
      let apart = 0;
      for (let edit = 0; edit < 60; edit++) {
        pred.boxes.set(box(), 20); // slot 5
        (pred.classes as Int32Array)[5] = Math.floor(rnd() * 3);
        const at0 = detectionReward(pred, gt, { ...opts, correctThreshold: 0 });
        // A candidate is a real box with some IoU > 0 with a real same-class GT box: `correct` 2 at threshold 0.
        expect(overlapsOwnClass(pred, 5, gt)).toBe(at0.correct[5] === 2);
        if (overlapsOwnClass(pred, 5, gt)) continue;
        apart++;
        const value = detectionRewardValue(pred, gt, opts);
        const c = pred.classes[5];
        if (!byClass.has(c)) byClass.set(c, value);
        expect(value).toBe(byClass.get(c));
      }
      expect(apart).toBeGreaterThan(0);
    }
    const nullSlot = boxesFromObjects([{ box: [0.1, 0.1, 0.5, 0.5], class: 0, conf: 0 }]);
    expect(overlapsOwnClass(nullSlot, 0, boxesFromObjects([{ box: [0.1, 0.1, 0.5, 0.5], class: 0 }]))).toBe(false);
  });

  it('class weights: mean 1, COCO person 0.165 and rarest 1.166', () => {
    const w = classWeights(COCO_TRAIN_CLASS_COUNTS);
    expect(w.reduce((a, b) => a + b, 0) / w.length).toBeCloseTo(1, 12);
    expect(w[0]).toBeCloseTo(0.165, 3);
    expect(Math.max(...w)).toBeCloseTo(1.166, 3);
  });

  it('released weighting follows the f"{t:0.1f}" key collisions: {0.5:1, 0.6:2, 0.7:2, 0.85:3, 0.95:2}/10', () => {
    expect(Array.from(releasedThresholdWeights(DEFAULT_IOU_THRESHOLDS)).map((w) => Math.round(w * 10))).toEqual([
      1, 0, 2, 0, 2, 0, 0, 3, 0, 2,
    ]);
    // Exact binary halves round half-to-even in Python: 0.25 → "0.2", 0.35 (just below half) → "0.3"... distinct keys.
    expect(Array.from(releasedThresholdWeights([0.2, 0.25, 0.3])).map((w) => Math.round(w * 3))).toEqual([0, 2, 1]);
  });

  it('hand case: false positives cost nothing, duplicates cost 0.3 each, no GT gives 0', () => {
    const gt = boxesFromObjects([{ box: [0, 0, 0.5, 0.5], class: 1 }]);
    const one = detectionReward(
      boxesFromObjects([
        { box: [0, 0, 0.5, 0.5], class: 1, conf: 2 },
        { box: [0.6, 0.6, 0.9, 0.9], class: 1, conf: 2 },
      ]),
      gt,
    );
    expect(one.reward).toBe(1);
    const dup = detectionReward(
      boxesFromObjects([
        { box: [0, 0, 0.5, 0.49], class: 1, conf: 2 },
        { box: [0, 0, 0.5, 0.5], class: 1, conf: 1 },
      ]),
      gt,
      { thresholds: [0.5] },
    );
    expect(dup.reward).toBeCloseTo(1 - 0.3, 12); // the second (better IoU) box wins, the first is the duplicate
    expect(Array.from(dup.correct)).toEqual([2, 2]);
    const none = detectionReward(
      boxesFromObjects([{ box: [0, 0, 0.5, 0.5], class: 1, conf: 2 }]),
      boxesFromObjects([]),
    );
    expect([none.reward, none.rewardReleased, none.correct[0], none.matchIou[0]]).toEqual([0, 0, 1, 0]);
  });

  it('hand case over the ten thresholds: a second box on one object pays when it localises better, costs when worse', () => {
    // GT [0.2, 0.2, 0.4, 0.4]; a box shifted down by s has IoU (0.2 − s)·0.2 / (0.08 − (0.2 − s)·0.2):
    // s = 0.04 → 0.032 / 0.048 = 2/3 (passes 0.5 … 0.65: 4 thresholds); s = 0.02 → 0.036 / 0.044 = 9/11 (0.5 … 0.8: 7).
    const gt = boxesFromObjects([{ box: [0.2, 0.2, 0.4, 0.4], class: 0 }]);
    const sloppy = { box: [0.24, 0.2, 0.44, 0.4], class: 0, conf: 2 };
    const tight = { box: [0.22, 0.2, 0.42, 0.4], class: 0, conf: 2 };
    const reward = (boxes: (typeof sloppy)[]): number => detectionReward(boxesFromObjects(boxes), gt).reward;
    expect(reward([sloppy])).toBeCloseTo(4 / 10, 12);
    expect(reward([tight])).toBeCloseTo(7 / 10, 12);
    // Both: the tight box matches at 7 thresholds, the sloppy one is its duplicate at the 4 it passes: (7 − 0.3·4)/10.
    expect(reward([sloppy, tight])).toBeCloseTo(0.58, 12);
    expect(reward([tight, sloppy])).toBeCloseTo(0.58, 12);
    // So the duplicate adds +0.18 to a sloppy first box and −0.12 to a tight one (task-detection README, tuning).
  });

  it('falsePositiveWeight (our extension) charges boxes on no object or of the wrong class, class-weighted, not duplicates or nulls', () => {
    const gt = boxesFromObjects([{ box: [0.2, 0.2, 0.4, 0.4], class: 0 }]);
    const tight = { box: [0.22, 0.2, 0.42, 0.4], class: 0, conf: 2 }; // IoU 9/11: 7 of 10 thresholds
    const sloppy = { box: [0.24, 0.2, 0.44, 0.4], class: 0, conf: 2 }; // IoU 2/3: a duplicate at 4 thresholds
    const wrongClass = { box: [0.2, 0.2, 0.4, 0.4], class: 1, conf: 2 };
    const nowhere = { box: [0.6, 0.6, 0.9, 0.9], class: 0, conf: 2 };
    const nul = { box: [0.6, 0.6, 0.9, 0.9], class: 0, conf: 0 };
    const w = new Float64Array([0.5, 2]);
    const reward = (boxes: (typeof tight)[], fp: number) =>
      detectionReward(boxesFromObjects(boxes), gt, { classWeights: w, falsePositiveWeight: fp }).reward;
    // Paper's reward: the wrong-class and no-object boxes cost nothing; 0.5 · 7/10 for the match.
    expect(reward([tight, wrongClass, nowhere, nul], 0)).toBeCloseTo(0.35, 12);
    // λ = 0.25: each threshold's reward loses 0.25 · (w1 + w0) = 0.25 · 2.5, the null slot nothing.
    expect(reward([tight, wrongClass, nowhere, nul], 0.25)).toBeCloseTo(0.35 - 0.625, 12);
    // A duplicate is the duplicate penalty's, not this one's: (0.5 · 7 − 0.3 · 0.5 · 4) / 10 either way.
    expect(reward([tight, sloppy], 0.25)).toBeCloseTo(reward([tight, sloppy], 0), 12);
    expect(reward([tight, sloppy], 0)).toBeCloseTo(0.29, 12);
  });

  it('takes microseconds for 100 predicted slots against 20 GT boxes', () => {
    const mk = (k: number, conf: boolean) =>
      boxesFromObjects(
        Array.from({ length: k }, (_, j) => ({
          box: [(j % 10) / 12, (j % 7) / 9, (j % 10) / 12 + 0.1, (j % 7) / 9 + 0.12],
          class: j % 3,
          conf: conf ? j % 3 : 1,
        })),
      );
    const gt = mk(20, false);
    const pred = mk(100, true);
    const w = classWeights([10, 20, 30]);
    for (let i = 0; i < 500; i++) detectionReward(pred, gt, { classWeights: w });
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 2000; i++) detectionReward(pred, gt, { classWeights: w });
    const us = Number(process.hrtime.bigint() - t0) / 1e3 / 2000;
    // A guard against an accidental blow-up of the matching, not a speed figure: 20–40 µs outside Jest on the 2-core
    // machine, 265 µs once inside a CI run beside a software-GPU job on both cores (which failed a 200 µs bound).
    expect(us).toBeLessThan(2000);
  });
});
