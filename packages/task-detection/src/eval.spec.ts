import * as tf from '@tensorflow/tfjs-core';
import { EncoderDecoder, initBackend, modelConfig } from '@reward-tune/core-model';
import { toExample } from './dataset';
import { evaluatePredictions, oracleScores, predictBatch, slotScores } from './eval';
import { applyScoreHead, FEATURE_NAMES, NUM_FEATURES, type ScoreHead } from './score-head';
import { DetectionTask } from './task';

describe('slotScores', () => {
  it('likelihood = p(class) × geometric mean of the coordinate probabilities; confidence = p2 / (p1 + p2)', () => {
    // Slot 0: coordinates 0.5, 0.5, 0.25, 0.25 (geometric mean √(0.5·0.25) = 0.353553), class 0.8, confidence
    // probabilities (0.1, 0.3, 0.6). Slot 1: p1 = p2 = 0 (a null slot as the well-formed mask leaves it).
    const lp = [0.5, 0.5, 0.25, 0.25, 0.8, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 1].map(Math.log);
    const s = slotScores(lp, [0.1, 0.3, 0.6, 1, 0, 0], 2);
    expect(s.likelihood[0]).toBeCloseTo(0.8 * 0.353553, 5);
    expect(s.confidence[0]).toBeCloseTo(0.6 / 0.9, 6);
    expect(s.likelihood[1]).toBeCloseTo(0.1 * 0.1, 6);
    expect(s.confidence[1]).toBe(0);
  });

  it('ranks a box whose coordinates the model is unsure of below a confident one of the same class probability', () => {
    const sure = [0.9, 0.9, 0.9, 0.9, 0.5, 1].map(Math.log);
    const unsure = [0.9, 0.2, 0.9, 0.2, 0.5, 1].map(Math.log);
    const s = slotScores([...sure, ...unsure], [0, 0, 1, 0, 0, 1], 2);
    expect(s.likelihood[0]).toBeGreaterThan(s.likelihood[1]);
    expect(s.confidence[0]).toBe(s.confidence[1]);
  });
});

describe('oracleScores', () => {
  it('ranks boxes by their IoU with their object, the likelihood breaking ties below 0.5', () => {
    // A junk box the model is sure of, a good box it is not, a fair one, and another junk box.
    const s = oracleScores([0, 0.9, 0.6, 0], [0.95, 0.05, 0.5, 0.2]);
    expect(Array.from(s.keys()).sort((a, b) => s[b] - s[a])).toEqual([1, 2, 0, 3]);
  });

  it('gives AP 1 to a set of boxes whose only miss the likelihood ranked first', () => {
    const task = new DetectionTask({
      vocab: { bins: 100, numClasses: 1 },
      maxBoxes: 2,
      order: 'given',
      nmsWeight: 0.3,
      categoryIds: [1],
    });
    const ex = toExample({
      id: 1,
      fileName: 'a.png',
      width: 100,
      height: 100,
      annotations: [{ id: 1, categoryId: 1, label: 0, bbox: [10, 10, 40, 40], area: 1600, iscrowd: false }],
    });
    const slots = [
      { ymin: 0.6, xmin: 0.6, ymax: 0.9, xmax: 0.9, cls: 0, conf: 2 }, // no object there
      { ymin: 0.1, xmin: 0.1, ymax: 0.5, xmax: 0.5, cls: 0, conf: 2 }, // the object
    ];
    const likelihood = Float32Array.from([0.9, 0.1]);
    const r = task.reward([{ slots }], ex);
    expect(task.evaluate([{ slots, scores: likelihood }], [ex]).AP).toBeCloseTo(0.5, 6);
    expect(task.evaluate([{ slots, scores: oracleScores(r.aux![0].matchIou, likelihood) }], [ex]).AP).toBeCloseTo(1, 6);
  });
});

describe('the fitted score in the evaluation', () => {
  const vocab = { bins: 5, numClasses: 2 };
  const task = new DetectionTask({ vocab, maxBoxes: 2, order: 'given', nmsWeight: 0.3, categoryIds: [1, 2] });
  const head: ScoreHead = {
    kind: 'detection-score-head',
    features: [...FEATURE_NAMES],
    mean: new Array(NUM_FEATURES).fill(0),
    std: new Array(NUM_FEATURES).fill(1),
    hidden: 0,
    l2: 0,
    w1: [],
    b1: [],
    w2: Array.from({ length: NUM_FEATURES }, (_, i) => (i === FEATURE_NAMES.indexOf('lp_class') ? 1 : 0.1)),
    b2: 0.5,
  };
  const examples = [1, 2].map((id) =>
    toExample({
      id,
      fileName: `${id}.png`,
      width: 16,
      height: 16,
      annotations: [{ id, categoryId: 1, label: 0, bbox: [2, 2, 8, 8], area: 64, iscrowd: false }],
    }),
  );

  beforeAll(async () => {
    await initBackend('cpu', { quiet: true });
  });

  it("scores every slot by the head's expected IoU of its features, beside the base rules, which stay as they were", async () => {
    const model = EncoderDecoder.create(
      modelConfig({ variant: 'mu', imageSize: [16, 16], vocabSize: 10, length: 12 }),
      3,
    );
    const images = tf.randomUniform([2, 16, 16, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    const plain = await predictBatch(model, task, images, 'likelihood');
    const fitted = await predictBatch(model, task, images, 'fitted', { head, features: true });
    await expect(predictBatch(model, task, images, 'fitted')).rejects.toThrow(/needs a score head/);
    images.dispose();
    model.dispose();
    expect(plain[0].byRule.fitted).toBeUndefined();
    fitted.forEach((p, b) => {
      expect(p.slots).toEqual(plain[b].slots);
      expect(p.byRule.likelihood).toEqual(plain[b].byRule.likelihood);
      expect(p.byRule.confidence).toEqual(plain[b].byRule.confidence);
      expect(p.features).toHaveLength(2 * NUM_FEATURES);
      expect(p.byRule.fitted).toEqual(applyScoreHead(head, p.features!));
      expect(p.scores).toBe(p.byRule.fitted);
    });
    // The head's score moves with the class token's log-probability, as its weights say.
    const at = FEATURE_NAMES.indexOf('lp_class');
    const f = fitted[0].features!;
    expect(Math.sign(fitted[0].byRule.fitted![0] - fitted[0].byRule.fitted![1])).toBe(
      Math.sign(
        f[at] +
          0.1 * (f.subarray(0, NUM_FEATURES).reduce((s, x) => s + x, 0) - f[at]) -
          (f[NUM_FEATURES + at] + 0.1 * (f.subarray(NUM_FEATURES).reduce((s, x) => s + x, 0) - f[NUM_FEATURES + at])),
      ),
    );
    const ev = evaluatePredictions(task, fitted, examples, 'fitted');
    expect(Object.keys(ev.byScore).sort()).toEqual(['confidence', 'fitted', 'likelihood']);
    expect(ev.metrics).toBe(ev.byScore.fitted);
    expect(Object.keys(evaluatePredictions(task, plain, examples, 'likelihood').byScore).sort()).toEqual([
      'confidence',
      'likelihood',
    ]);
    expect(() => evaluatePredictions(task, plain, examples, 'fitted')).toThrow(/no such scores/);
  });
});
