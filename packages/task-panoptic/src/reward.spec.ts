import { panopticClasses } from './classes';
import { panopticLabels } from './labels';
import {
  evaluatePanoptic,
  makePanopticReward,
  makePanopticTokenReward,
  panopticReward,
  tokenRewardsOf,
} from './reward';
import { SCENE_CATEGORIES, sceneAt } from './scenes';
import { segmentsFromTwoChannel } from './segments';
import type { TwoChannelMap } from './two-channel';

const classes = panopticClasses(SCENE_CATEGORIES);

// 4×4 ground truth: a 2×2 square (category 1) top left on gradient stuff (category 11).
const gt = (iscrowd = 0) => ({
  width: 4,
  height: 4,
  ids: Uint32Array.from([5, 5, 9, 9, 5, 5, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]),
  segments: [
    { id: 5, category_id: 1, iscrowd },
    { id: 9, category_id: 11, iscrowd: 0 },
  ],
});
/** A two-channel prediction: `square` marks the pixels predicted as square instance 1, the rest gradient. */
const predicted = (square: number[]): TwoChannelMap => {
  const semantics = new Int32Array(16).fill(4);
  const instances = new Int32Array(16).fill(2);
  for (const p of square) {
    semantics[p] = 1;
    instances[p] = 1;
  }
  return { width: 4, height: 4, semantics, instances };
};

describe('panopticReward', () => {
  it('is 1 for the ground truth itself, through labels and the converter', () => {
    for (let i = 0; i < 10; i++) {
      const s = sceneAt(5, 'val', i, { size: 32 });
      const pred = segmentsFromTwoChannel(panopticLabels(s, classes, 16), classes);
      expect(panopticReward(pred, s, classes)).toBe(1);
    }
  });

  it('averages over the categories the image has: a missed thing costs its class', () => {
    // Stuff: prediction 16 px over GT 12 px, IoU 0.75 → PQ 0.75; square: one FN → PQ 0. Mean 0.375.
    expect(makePanopticReward(classes)(predicted([]), gt())).toBeCloseTo(0.375, 12);
    // Both right: 1.
    expect(makePanopticReward(classes)(predicted([0, 1, 4, 5]), gt())).toBe(1);
    // The square a pixel short: IoU 3/4 → (0.75 + 1) / 2 with the stuff exact up to that pixel (IoU 12/13).
    expect(makePanopticReward(classes)(predicted([0, 1, 4]), gt())).toBeCloseTo((0.75 + 12 / 13) / 2, 12);
  });

  it('follows the crowd rules: a prediction on a crowd region is neither a match nor a false positive', () => {
    expect(makePanopticReward(classes)(predicted([0, 1, 4, 5]), gt(1))).toBe(1);
  });

  it('forgives a prediction lying mostly on void, and ignores predicted pixels on void in the IoU', () => {
    const truth = { ...gt(), ids: Uint32Array.from([5, 5, 0, 0, 5, 5, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9]) };
    // The square predicted over the void too (8 px, 4 on void): IoU 4 / (8 − 4) = 1. The stuff: exact.
    expect(makePanopticReward(classes)(predicted([0, 1, 2, 3, 4, 5, 6, 7]), truth)).toBe(1);
  });
});

describe("reward.kind 'pq-gain'", () => {
  const gain = makePanopticReward(classes, { kind: 'pq-gain', reference: { things: 0.1, stuff: 0.8 } });
  const k = classes.categories.length;

  it('prices each segment at its kind: Σ_c [Σ IoU − q·(TP + ½FP + ½FN)] / K', () => {
    // Both right: the square (thing, IoU 1) and the stuff (IoU 1).
    expect(gain(predicted([0, 1, 4, 5]), gt())).toBeCloseTo((1 - 0.1 + (1 - 0.8)) / k, 12);
    // The square missed (one thing FN at q/2); the stuff matched at 12/16.
    expect(gain(predicted([]), gt())).toBeCloseTo((-0.05 + (0.75 - 0.8)) / k, 12);
  });

  it('ranks a better square higher; per-image PQ stays the default', () => {
    expect(gain(predicted([0, 1, 4, 5]), gt())).toBeGreaterThan(gain(predicted([0, 1, 4]), gt()));
    expect(makePanopticReward(classes)(predicted([]), gt())).toBeCloseTo(0.375, 12); // default: per-image PQ
  });
});

describe('pq-gain split over code tokens (the rtg estimator)', () => {
  const reference = { things: 0.1, stuff: 0.8 };
  // A 4×4 image, a 2×2 code, each token placed on its own 2×2 quadrant (rows of the per-axis weights: one-hot).
  const quadrants = Float64Array.from([1, 0, 1, 0, 0, 1, 0, 1]);

  it('gives each token its region of the gain, summing to the image reward', () => {
    const split = makePanopticTokenReward(classes, { kind: 'pq-gain', reference }, quadrants, 2);
    const whole = makePanopticReward(classes, { kind: 'pq-gain', reference });
    for (const square of [[0, 1, 4, 5], [], [0, 1, 4], [10, 11, 14, 15]]) {
      const r = split(predicted(square), gt());
      expect(r.reward).toBeCloseTo(whole(predicted(square), gt()), 12);
      expect(r.tokens.reduce((a, b) => a + b, 0)).toBeCloseTo(r.reward, 12);
    }
    // Missing the square (top-left quadrant) costs the top-left token most: its q/2 lies on the square's pixels.
    const missed = split(predicted([]), gt()).tokens;
    const right = split(predicted([0, 1, 4, 5]), gt()).tokens;
    const drop = right.map((v, t) => v - missed[t]);
    expect(drop[0]).toBeGreaterThan(0);
    expect(drop[0]).toBeGreaterThan(10 * Math.max(...drop.slice(1).map(Math.abs)));
  });

  it('pools with overlapping weights as Σ_y Σ_x w[y, i]·w[x, j]·gain[y, x], and refuses what does not fit', () => {
    const axis = Float64Array.from([1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1]); // 4 px, 2 tokens per axis
    const gain = Float64Array.from({ length: 16 }, (_, i) => Math.sin(i + 1));
    const got = tokenRewardsOf(gain, axis, 4, 2);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 2; j++) {
        let want = 0;
        for (let y = 0; y < 4; y++)
          for (let x = 0; x < 4; x++) want += axis[y * 2 + i] * axis[x * 2 + j] * gain[y * 4 + x];
        expect(got[i * 2 + j]).toBeCloseTo(want, 12);
      }
    expect(got.reduce((a, b) => a + b, 0)).toBeCloseTo(
      gain.reduce((a, b) => a + b, 0),
      12,
    );
    expect(() => tokenRewardsOf(gain, axis, 4, 3)).toThrow(/tokenRewardsOf/);
    expect(() =>
      makePanopticTokenReward(classes, { kind: 'pq', reference }, quadrants, 2)(predicted([]), gt()),
    ).toThrow(/does not split over tokens/);
  });
});

describe('evaluatePanoptic', () => {
  it('gives PQ, SQ and RQ in points for All, Things and Stuff', () => {
    const r = evaluatePanoptic([[gt(), predicted([])]], classes);
    expect(r.Stuff).toEqual({ PQ: 75, SQ: 75, RQ: 100, n: 1 });
    expect(r.Things).toEqual({ PQ: 0, SQ: 0, RQ: 0, n: 1 });
    expect(r.All.PQ).toBeCloseTo(37.5, 10);
    expect(r.All.n).toBe(2);
  });

  it('sums each category over the images before averaging (not the mean of per-image PQ)', () => {
    // Image 1 perfect, image 2 misses the square: square TP 1, FN 1 → RQ 2/3, PQ 2/3; stuff IoUs 1 and 0.75.
    const r = evaluatePanoptic(
      [
        [gt(), segmentsFromTwoChannel(predicted([0, 1, 4, 5]), classes)],
        [gt(), predicted([])],
      ],
      classes,
    );
    expect(r.Things.PQ).toBeCloseTo(100 * (2 / 3), 10);
    expect(r.Stuff.PQ).toBeCloseTo(100 * 0.875, 10);
  });
});
