import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { orUsageError, resolveConfig, Rng } from '@reward-tune/core-model';
import { detectionConfigSpec } from './config';
import { chooseHead, withFitted } from './fit-score';
import type { ScoredPrediction } from './eval';
import {
  applyScoreHead,
  boxFeatures,
  FEATURE_NAMES,
  fitScoreHead,
  headLoss,
  headProblem,
  NUM_FEATURES,
  type ScoreHead,
} from './score-head';
import type { DecodedBox } from './sequence';
import { scoreHeadOf } from './setup';
import { COORD_OFFSET } from './tokens';

const feature = (row: Float32Array, slot: number, name: (typeof FEATURE_NAMES)[number]): number =>
  row[slot * NUM_FEATURES + FEATURE_NAMES.indexOf(name)];

describe('boxFeatures', () => {
  // 5 coordinate levels (0, 0.25, 0.5, 0.75, 1) and 2 classes: V = 3 + 5 + 2 = 10; three slots.
  const vocab = { bins: 5, numClasses: 2 };
  const V = 10;
  const slots: DecodedBox[] = [
    { ymin: 0, xmin: 0, ymax: 0.5, xmax: 0.5, cls: 1, conf: 2 },
    { ymin: 0, xmin: 0, ymax: 0, xmax: 0, cls: 0, conf: 0 }, // null
    { ymin: 0, xmin: 0, ymax: 0.5, xmax: 0.25, cls: 1, conf: 1 }, // half of slot 0's box
  ];
  const tokens = [3, 3, 5, 5, 9, 2, 0, 0, 0, 0, 0, 0, 3, 3, 5, 4, 9, 1];
  const p = new Float64Array(18 * V);
  const at = (pos: number, tok: number, prob: number) => (p[pos * V + tok] = prob);
  // Slot 0: y coordinates certain; xmin split evenly between levels 0 and 1 (0 and 0.25); xmax spread evenly over
  // all five; class 1 at 0.6; null at the first position 0.2; confidence 1 and 2 at 0.25 and 0.75.
  at(0, 0, 0.2);
  at(0, COORD_OFFSET, 0.8);
  at(1, COORD_OFFSET, 0.5);
  at(1, COORD_OFFSET + 1, 0.5);
  at(2, COORD_OFFSET + 2, 1);
  for (let i = 0; i < 5; i++) at(3, COORD_OFFSET + i, 0.2);
  at(4, 8, 0.4);
  at(4, 9, 0.6);
  at(5, 1, 0.25);
  at(5, 2, 0.75);
  // Slot 2: every position certain of its token except the class (0.5).
  for (let j = 0; j < 4; j++) at(12 + j, tokens[12 + j], 1);
  at(16, 9, 0.5);
  at(17, 1, 1);
  const f = boxFeatures(vocab, tokens, slots, Array.from(p, Math.log));

  it("reads the box's token log-probabilities, its likelihood, the null probability and the confidence logit", () => {
    expect([0, 1, 2, 3, 4].map((j) => f[j])).toEqual([0.8, 0.5, 1, 0.2, 0.6].map((x) => Math.fround(Math.log(x))));
    expect(feature(f, 0, 'log_likelihood')).toBeCloseTo(Math.log(0.6) + Math.log(0.8 * 0.5 * 0.2) / 4, 5);
    expect(feature(f, 0, 'lp_null_first')).toBeCloseTo(Math.log(0.2), 5);
    expect(feature(f, 0, 'conf_logit')).toBeCloseTo(Math.log(3), 5);
    // A token the mask ruled out (p = 0, log −∞) is clipped, and so is the logit built from it.
    expect(feature(f, 2, 'lp_null_first')).toBe(-30);
    expect(feature(f, 2, 'conf_logit')).toBe(-20);
  });

  it("measures each coordinate's spread relative to the box's side along that axis", () => {
    // Certain: spread 0. xmin: sd 0.125 over a width of 0.5. xmax: sd of the uniform over 0..1 in steps of 0.25.
    const uniformSd = Math.sqrt([0, 0.25, 0.5, 0.75, 1].reduce((s, x) => s + (x - 0.5) ** 2, 0) / 5);
    expect(feature(f, 0, 'spread_ymin')).toBeCloseTo(Math.log(1e-3), 4);
    expect(feature(f, 0, 'spread_xmin')).toBeCloseTo(Math.log(0.125 / 0.5 + 1e-3), 5);
    expect(feature(f, 0, 'spread_xmax')).toBeCloseTo(Math.log(uniformSd / 0.5 + 1e-3), 5);
    expect(feature(f, 0, 'log_height')).toBeCloseTo(Math.log(0.5), 6);
    expect(feature(f, 2, 'log_width')).toBeCloseTo(Math.log(0.25), 6);
  });

  it('places the box among the others: its slot, the box count, its overlap with earlier and later boxes of its class', () => {
    expect([feature(f, 0, 'slot'), feature(f, 2, 'slot')]).toEqual([0, 1]);
    expect(feature(f, 0, 'boxes')).toBeCloseTo(2 / 3, 6);
    expect([feature(f, 0, 'overlap_before'), feature(f, 0, 'overlap_after')]).toEqual([0, 0.5]);
    expect([feature(f, 2, 'overlap_before'), feature(f, 2, 'overlap_after')]).toEqual([0.5, 0]);
    expect(Array.from(f.subarray(NUM_FEATURES, 2 * NUM_FEATURES)).every((x) => x === 0)).toBe(true); // the null slot
  });
});

/** Rows of random features whose target depends on feature 0 and 1 through `target`; the rest is noise. */
function synthetic(n: number, seed: number, target: (a: number, b: number) => number) {
  const rng = Rng.fromSeed(seed);
  const features = new Float32Array(n * NUM_FEATURES);
  const targets = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    // Scales and offsets the fit must undo.
    for (let i = 0; i < NUM_FEATURES; i++) features[r * NUM_FEATURES + i] = 3 * rng.normal() + i;
    targets[r] = target((features[r * NUM_FEATURES] - 0) / 3, (features[r * NUM_FEATURES + 1] - 1) / 3);
  }
  return { features, targets };
}

/** The share of pairs with different targets that `scores` orders as the targets do (1: a perfect ranking). */
function concordance(scores: ArrayLike<number>, targets: ArrayLike<number>): number {
  let good = 0,
    all = 0;
  for (let i = 0; i < targets.length; i++)
    for (let j = i + 1; j < targets.length; j++) {
      if (targets[i] === targets[j]) continue;
      all++;
      if ((scores[i] - scores[j]) * (targets[i] - targets[j]) > 0) good++;
    }
  return good / all;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const fit = { steps: 400, lr: 0.05, seed: 0 };

describe('fitScoreHead', () => {
  it('a logistic head recovers a logistic target: its loss near the targets own entropy, the ranking near perfect', () => {
    const truth = (a: number, b: number) => sigmoid(2 * a - b);
    const train = synthetic(2000, 1, truth);
    const test = synthetic(500, 2, truth);
    const head = fitScoreHead(train.features, train.targets, { ...fit, hidden: 0, l2: 0 });
    const entropy =
      Array.from(test.targets).reduce((s, y) => s - y * Math.log(y) - (1 - y) * Math.log(1 - y), 0) /
      test.targets.length;
    expect(headLoss(head, test.features, test.targets) - entropy).toBeLessThan(0.01);
    expect(concordance(applyScoreHead(head, test.features), test.targets)).toBeGreaterThan(0.97);
    // The weights on standardised inputs: 2 and −1 on the first two, about 0 on the rest.
    expect(head.w2[0]).toBeCloseTo(2, 0);
    expect(head.w2[1]).toBeCloseTo(-1, 0);
    expect(Math.max(...head.w2.slice(2).map(Math.abs))).toBeLessThan(0.2);
  });

  it('a hidden layer fits what a logistic head cannot (a target that peaks in the middle)', () => {
    const truth = (a: number) => Math.exp(-2 * a * a);
    const train = synthetic(1500, 3, truth);
    const test = synthetic(400, 4, truth);
    const logistic = fitScoreHead(train.features, train.targets, { ...fit, hidden: 0, l2: 0 });
    const mlp = fitScoreHead(train.features, train.targets, { ...fit, hidden: 8, l2: 1e-4 });
    expect(concordance(applyScoreHead(logistic, test.features), test.targets)).toBeLessThan(0.7);
    expect(concordance(applyScoreHead(mlp, test.features), test.targets)).toBeGreaterThan(0.9);
  });

  it('is the same for the same seed, and a large penalty flattens it', () => {
    const train = synthetic(300, 5, (a, b) => sigmoid(a + b));
    const a = fitScoreHead(train.features, train.targets, { ...fit, hidden: 4, l2: 1e-3 });
    expect(fitScoreHead(train.features, train.targets, { ...fit, hidden: 4, l2: 1e-3 })).toEqual(a);
    const flat = fitScoreHead(train.features, train.targets, { ...fit, hidden: 0, l2: 100 });
    expect(Math.max(...flat.w2.map(Math.abs))).toBeLessThan(0.01);
  });
});

describe('applyScoreHead and headProblem', () => {
  const head: ScoreHead = {
    kind: 'detection-score-head',
    features: [...FEATURE_NAMES],
    mean: new Array(NUM_FEATURES).fill(1),
    std: new Array(NUM_FEATURES).fill(2),
    hidden: 1,
    l2: 0,
    w1: Array.from({ length: NUM_FEATURES }, (_, i) => (i === 0 ? 0.5 : 0)),
    b1: [0.1],
    w2: [3],
    b2: -1,
  };

  it('standardises, applies the layer and the sigmoid', () => {
    const x = new Float32Array(2 * NUM_FEATURES).fill(1);
    x[0] = 5; // standardised 2
    x[NUM_FEATURES] = -3; // standardised −2
    const s = applyScoreHead(head, x);
    expect(s[0]).toBeCloseTo(sigmoid(3 * Math.tanh(0.5 * 2 + 0.1) - 1), 6);
    expect(s[1]).toBeCloseTo(sigmoid(3 * Math.tanh(0.5 * -2 + 0.1) - 1), 6);
  });

  it('names a head made for other features, or one whose arrays do not fit', () => {
    expect(headProblem(head)).toBeUndefined();
    expect(headProblem({ ...head, features: ['lp_class'] })).toMatch(
      /^its features \(lp_class\) are not this version's/,
    );
    expect(headProblem({ ...head, w2: [1, 2] })).toBe('w2 has 2 numbers, expected 1');
    expect(headProblem({ ...head, hidden: 0, w1: [], b1: [], w2: [1] })).toBe(
      `w2 has 1 numbers, expected ${NUM_FEATURES}`,
    );
  });
});

describe('chooseHead', () => {
  it('picks the candidate with the best val AP, and scores val predictions with it', () => {
    // One box per "image"; the fake AP is the concordance of the scores with the boxes' true IoU, which only a
    // hidden layer can follow here (the IoU peaks in the middle of feature 0).
    const truth = (a: number) => Math.exp(-2 * a * a);
    const train = synthetic(1000, 6, truth);
    const val = synthetic(300, 7, truth);
    const box: DecodedBox = { ymin: 0, xmin: 0, ymax: 1, xmax: 1, cls: 0, conf: 2 };
    const predictions: ScoredPrediction[] = Array.from({ length: 300 }, (_, i) => ({
      slots: [box],
      byRule: { likelihood: new Float32Array(1), confidence: new Float32Array(1) },
      features: val.features.slice(i * NUM_FEATURES, (i + 1) * NUM_FEATURES),
    }));
    const examples = predictions.map(() => ({}) as never);
    const task = {
      evaluate: (preds: readonly { scores?: Float32Array }[]) => ({
        AP: concordance(
          preds.map((p) => p.scores![0]),
          val.targets,
        ),
      }),
    };
    const seen: number[] = [];
    const { candidates, head } = chooseHead(
      task,
      train,
      { predictions, examples },
      { hidden: [0, 8], l2: [1e-4] },
      fit,
      (c) => seen.push(c.hidden),
    );
    expect(seen).toEqual([0, 8]);
    expect(candidates.map((c) => c.hidden)).toEqual([0, 8]);
    expect(candidates[1].val_AP).toBeGreaterThan(candidates[0].val_AP + 0.2);
    expect(head.hidden).toBe(8);
    const scored = withFitted(predictions, head);
    expect(scored[3].byRule.fitted![0]).toBe(
      applyScoreHead(head, val.features.slice(3 * NUM_FEATURES, 4 * NUM_FEATURES))[0],
    );
  });
});

describe('eval.scoreHead', () => {
  const cfg = (sets: string[]) => orUsageError(resolveConfig(detectionConfigSpec, { preset: 'mu', sets }));
  const dir = mkdtempSync(path.join(tmpdir(), 'det-head-'));
  const file = (name: string, value: unknown) => {
    const f = path.join(dir, name);
    writeFileSync(f, JSON.stringify(value));
    return f;
  };
  const head = fitScoreHead(synthetic(50, 8, (a) => sigmoid(a)).features, synthetic(50, 8, (a) => sigmoid(a)).targets, {
    ...fit,
    steps: 5,
    hidden: 2,
    l2: 0,
  });

  it('reads a head back as fit-score wrote it; none named, none read', () => {
    expect(scoreHeadOf(cfg([]))).toEqual(E.right(undefined));
    expect(scoreHeadOf(cfg([`eval.scoreHead=${file('ok.json', head)}`, 'eval.score=fitted']))).toEqual(E.right(head));
  });

  it("refuses the 'fitted' score without a head, and a head of other features or sizes, naming the file", () => {
    expect(scoreHeadOf(cfg(['eval.score=fitted']))).toEqual(
      E.left("eval.score: 'fitted' needs eval.scoreHead=<a score-head.json from fit-score>"),
    );
    const other = file('other.json', { ...head, features: ['lp_class'] });
    expect(scoreHeadOf(cfg([`eval.scoreHead=${other}`]))).toEqual(
      E.left(`${other}: ${headProblem({ ...head, features: ['lp_class'] })}`),
    );
    const short = file('short.json', { ...head, b1: [0] });
    expect(scoreHeadOf(cfg([`eval.scoreHead=${short}`]))).toEqual(E.left(`${short}: b1 has 1 numbers, expected 2`));
    const wrong = file('wrong.json', { kind: 'something else' });
    const r = scoreHeadOf(cfg([`eval.scoreHead=${wrong}`]));
    expect(E.isLeft(r) && r.left).toMatch(new RegExp(`^${wrong}`));
  });
});
