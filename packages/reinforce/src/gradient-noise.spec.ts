// The gradient noise scale: its statistics by hand, on synthetic gradients of known noise, and end to end on the
// tabular policy whose exact gradient is known.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Rng } from '@reward-tune/core-model';
import { measureGradientNoise, noiseStatistics } from './gradient-noise';
import type { Task } from './task';
import { TabularPolicy } from './testing/toys';

describe('noiseStatistics', () => {
  it('matches a hand computation', () => {
    // |g|² = 1, 1, 2 → mean 4/3; pair products 0, 1, 1 → |G|² = 2/3; noise scale = 2·(4/3 − 2/3)/(2/3) = 2.
    // Jackknife: without each batch the pair means are 1, 1, 0 → se = √(2/3·(1/9 + 1/9 + 4/9)) = 2/3.
    const s = noiseStatistics([Float32Array.from([1, 0]), Float32Array.from([0, 1]), Float32Array.from([1, 1])], 2);
    expect(s.batchGradSq).toBeCloseTo(4 / 3, 12);
    expect(s.trueGradSq).toBeCloseTo(2 / 3, 12);
    expect(s.trueGradSqSe).toBeCloseTo(2 / 3, 12);
    expect(s.signalShare).toBeCloseTo(0.5, 12);
    expect(s.noiseScale).toBeCloseTo(2, 12);
    // |G|² + 2se = 2 exceeds E|g|², so the low end is 0; |G|² − 2se < 0 leaves the high end open.
    expect(s.noiseScaleRange).toEqual([0, null]);
  });

  it('recovers the noise scale of gradients G + noise/√R', () => {
    // tr(Σ) = D·σ² = 400·0.05 = 20 per row and |G|² = 4·0.5² = 1, so the noise scale is 20 rows.
    const rng = Rng.fromSeed(3);
    const D = 400;
    const R = 8;
    const sigma = Math.sqrt(0.05);
    const G = Float32Array.from({ length: D }, (_, i) => (i < 4 ? 0.5 : 0));
    const grads = Array.from({ length: 60 }, () =>
      Float32Array.from(G, (g) => g + (sigma / Math.sqrt(R)) * rng.normal()),
    );
    const s = noiseStatistics(grads, R);
    expect(Math.abs(s.trueGradSq - 1)).toBeLessThan(3 * s.trueGradSqSe);
    expect(s.trueGradSqSe).toBeLessThan(0.2);
    expect(s.noiseScale!).toBeGreaterThan(15);
    expect(s.noiseScale!).toBeLessThan(27);
    // The range spans |G|² ± 2se only (E|g|² is taken as known), so it brackets the estimate, not always the truth.
    expect(s.noiseScaleRange[0]!).toBeLessThan(s.noiseScale!);
    expect(s.noiseScaleRange[1]!).toBeGreaterThan(s.noiseScale!);
  });

  it('needs three gradients', () => {
    expect(() => noiseStatistics([new Float32Array(2), new Float32Array(2)], 1)).toThrow(/at least 3/);
  });
});

describe('measureGradientNoise', () => {
  const V = 3;
  const L = 2;
  const REWARD = [1.0, 0.2, 0.7, 0.0, 2.0, 0.4, 0.5, 1.5, 0.1];
  const task: Task<number, Int32Array, undefined> = {
    encodeTargets: () => new Int32Array(L),
    decode: (tokens) => tokens,
    reward: (preds) => ({ rewards: Float64Array.from(preds, (p) => REWARD[p[0] * V + p[1]]) }),
    evaluate: () => ({}),
  };
  const policy = () => {
    const rng = Rng.fromSeed(7);
    return new TabularPolicy(
      V,
      L,
      Float32Array.from({ length: L * V * V }, () => rng.normal() * 0.7),
    );
  };
  const train = (_step: number) => ({
    images: tf.zeros([16, 1, 1, 1]) as tf.Tensor4D,
    examples: Array.from({ length: 16 }, (_, i) => i),
  });

  beforeAll(async () => {
    await initBackend('cpu', { quiet: true });
  });

  it('estimates |∇E[R]|² of the exact gradient (rloo rows are unbiased for it)', async () => {
    const p = policy();
    const table = p.params.get('table') as tf.Variable;
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(tf.exp(p.enumerateLogProbs()), tf.tensor1d(REWARD))) as tf.Scalar,
      [table],
    );
    const exact = Array.from(grads[table.name].dataSync() as Float32Array).reduce((s, g) => s + g * g, 0);
    tf.dispose([value, grads[table.name]]);

    const done: number[] = [];
    const s = await measureGradientNoise({
      policy: p,
      task,
      train,
      rng: Rng.fromSeed(11),
      config: { batches: 40, numSamples: 4, estimator: 'rloo' },
      progress: (k) => done.push(k),
    });
    expect(s.rowsPerBatch).toBe(64);
    expect(s.parameters).toBe(L * V * V);
    expect(done).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(Math.abs(s.trueGradSq - exact)).toBeLessThan(3 * s.trueGradSqSe);
    expect(s.trueGradSqSe).toBeLessThan(exact / 3);
    expect(s.noiseScale).not.toBeNull();
    expect(s.rewardMean).toBeGreaterThan(0);
  });

  it('gives the same numbers when the batches go through in chunks (microBatch)', async () => {
    const measure = (microBatch?: number) =>
      measureGradientNoise({
        policy: policy(),
        task,
        train,
        rng: Rng.fromSeed(4),
        config: { batches: 4, numSamples: 3, estimator: 'rloo', microBatch },
      });
    const whole = await measure();
    const chunked = await measure(5); // 16 inputs: chunks of 5, 5, 5 and 1
    expect(chunked.rowsPerBatch).toBe(whole.rowsPerBatch);
    expect(chunked.rewardMean).toBe(whole.rewardMean);
    for (const k of ['batchGradSq', 'trueGradSq', 'trueGradSqSe'] as const) expect(chunked[k]).toBeCloseTo(whole[k], 5);
  });

  it('leaves out parameters the optimizer freezes, and refuses when nothing is left or the options are bad', async () => {
    await expect(
      measureGradientNoise({
        policy: policy(),
        task,
        train,
        rng: Rng.fromSeed(1),
        config: { batches: 3, numSamples: 2, lrMults: [['table', 0]] },
      }),
    ).rejects.toThrow(/every parameter is frozen/);
    await expect(
      measureGradientNoise({
        policy: policy(),
        task,
        train,
        rng: Rng.fromSeed(1),
        config: { batches: 3, numSamples: 2, microBatch: 0 },
      }),
    ).rejects.toThrow(/microBatch must be a positive integer, got 0/);
    await expect(
      measureGradientNoise({
        policy: policy(),
        task,
        train,
        rng: Rng.fromSeed(1),
        config: { batches: 2, numSamples: 2 },
      }),
    ).rejects.toThrow(/batches must be an integer ≥ 3/);
  });
});
