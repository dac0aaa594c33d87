// The best-of-N analysis (pool.ts): its arithmetic on hand-built pools (random = the pool's mean, most likely = the
// reward of the highest sequence log-probability, best = the pool's maximum, each a prefix of the largest pool), its
// sampling on the tabular toy policy (the sequence log-probability is the sum of the token log-probabilities the
// policy gives the sequence; how the samples are cut into calls changes nothing), the --sizes flag and the chart.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng, UsageError } from '@reward-tune/core-model';
import type { ImageTable } from '../batches';
import type { Task } from '../task';
import { TabularPolicy } from '../testing/toys';
import { greedyReward, parsePoolSizes, poolChartSvg, poolCurves, samplePool, type PoolSamples } from './pool';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('poolCurves', () => {
  // Two images, four samples each. Image 0: rewards 0.2, 0.9, 0.1, 0.5 with log-probs −1, −3, −0.5, −2 (the most
  // likely is sample 0, then sample 2 once it is in the pool). Image 1: rewards 0, 0, 1, 0.4, log-probs −2, −2, −4, −1
  // (ties keep the first; sample 3 takes over at N = 4).
  const samples: PoolSamples = {
    images: 2,
    perImage: 4,
    rewards: Float64Array.from([0.2, 0.9, 0.1, 0.5, 0, 0, 1, 0.4]),
    logProbs: Float64Array.from([-1, -3, -0.5, -2, -2, -2, -4, -1]),
  };

  it('random, most likely and best of the first N samples, averaged over the images', () => {
    const c = poolCurves(samples, [1, 2, 3, 4], 0.25);
    const close = (xs: number[], want: number[]) => xs.forEach((x, i) => expect(x).toBeCloseTo(want[i], 12));
    close(c.random, [(0.2 + 0) / 2, (0.55 + 0) / 2, (0.4 + 1 / 3) / 2, (0.425 + 0.35) / 2]);
    close(c.most_likely, [(0.2 + 0) / 2, (0.2 + 0) / 2, (0.1 + 0) / 2, (0.1 + 0.4) / 2]);
    close(c.best, [(0.2 + 0) / 2, (0.9 + 0) / 2, (0.9 + 1) / 2, (0.9 + 1) / 2]);
    expect(c.N).toEqual([1, 2, 3, 4]);
    expect(c.greedy).toBe(0.25);
    // N = 1: every rule picks the one sample.
    expect(c.random[0]).toBe(c.best[0]);
    expect(c.most_likely[0]).toBe(c.best[0]);
  });

  it('a subset of sizes reads the same prefixes; the JSON line has exactly the five keys', () => {
    const all = poolCurves(samples, [1, 2, 3, 4], 0.25);
    const some = poolCurves(samples, [2, 4], 0.25);
    expect(some.best).toEqual([all.best[1], all.best[3]]);
    expect(some.most_likely).toEqual([all.most_likely[1], all.most_likely[3]]);
    expect(some.random).toEqual([all.random[1], all.random[3]]);
    const line = JSON.parse(JSON.stringify(some)) as Record<string, unknown>;
    expect(Object.keys(line)).toEqual(['N', 'random', 'most_likely', 'best', 'greedy']);
    for (const k of ['N', 'random', 'most_likely', 'best']) expect(line[k]).toHaveLength(2);
  });

  it('refuses sizes beyond the samples drawn', () => {
    expect(() => poolCurves(samples, [1, 8], 0)).toThrow(/up to 8 samples per image, have 4/);
  });
});

describe('parsePoolSizes', () => {
  it('increasing positive integers, else one line naming the flag', () => {
    expect(parsePoolSizes('1,4,16')).toEqual([1, 4, 16]);
    expect(parsePoolSizes(' 2 , 3 ')).toEqual([2, 3]);
    for (const bad of ['', '0,4', '4,2', '1,1', '1,x', '1.5']) expect(() => parsePoolSizes(bad)).toThrow(UsageError);
    expect(() => parsePoolSizes('4,2')).toThrow('--sizes 4,2: expected increasing sizes');
  });
});

describe('samplePool on the tabular toy', () => {
  // Vocabulary 3, length 3; every image (the toy ignores it) has target [1, 2, 0]: reward = matching positions.
  const V = 3;
  const L = 3;
  const target = Int32Array.from([1, 2, 0]);
  const task: Task<number, Int32Array> = {
    decode: (tokens) => tokens.slice(),
    reward: (preds) => ({ rewards: Float64Array.from(preds, (p) => p.reduce((m, t, i) => m + +(t === target[i]), 0)) }),
    evaluate: () => ({}),
  };
  const table: ImageTable<number> = { examples: [0, 1, 2], size: 1, pixels: new Float32Array(3 * 3) };
  const policy = () =>
    new TabularPolicy(
      V,
      L,
      Float32Array.from({ length: L * V * V }, (_, i) => Math.sin(i * 1.7) * 1.5),
    );

  it('each sample carries its reward and its sequence log-probability under the policy', async () => {
    const p = policy();
    const s = await samplePool({ policy: p, task, table, perImage: 64, rows: 16, rng: Rng.fromSeed(3) });
    expect([s.images, s.perImage, s.rewards.length, s.logProbs.length]).toEqual([3, 64, 192, 192]);
    // Every sequence's log-probability (lexicographic order) and reward: each sample's pair is some sequence's.
    const all = await p.enumerateLogProbs().data();
    const seqReward = (k: number) =>
      task.reward([Int32Array.from({ length: L }, (_, t) => Math.floor(k / V ** (L - 1 - t)) % V)], 0).rewards[0];
    for (let r = 0; r < 192; r++) {
      const k = all.findIndex((x) => Math.abs(x - s.logProbs[r]) < 1e-5);
      expect([r, k >= 0 && seqReward(k)]).toEqual([r, s.rewards[r]]);
    }
    const c = poolCurves(s, [1, 4, 16, 64], 0);
    for (let k = 1; k < 4; k++) expect(c.best[k]).toBeGreaterThanOrEqual(c.best[k - 1]);
    // The most likely of 64 is the mode: the highest log-probability any sequence has.
    const mode = Math.max(...all);
    for (let i = 0; i < 3; i++) expect(Math.max(...s.logProbs.subarray(i * 64, (i + 1) * 64))).toBeCloseTo(mode, 5);
    p.params.forEach((v) => v.dispose());
  });

  it('how the samples are cut into sampling calls changes nothing (the toy draws row by row)', async () => {
    const p = policy();
    const draw = (rows: number) => samplePool({ policy: p, task, table, perImage: 8, rows, rng: Rng.fromSeed(5) });
    const one = await draw(1);
    for (const rows of [3, 8, 24, 100]) {
      const other = await draw(rows);
      expect(Array.from(other.rewards)).toEqual(Array.from(one.rewards));
      expect(Array.from(other.logProbs)).toEqual(Array.from(one.logProbs));
    }
    p.params.forEach((v) => v.dispose());
  });

  it("greedy's mean reward, and a chart with the three curves and greedy", async () => {
    const p = policy();
    const g = await greedyReward(p, task, table, 2);
    const sampled = await p.sample(tf.zeros([1, 1, 1, 3]), { numSamples: 1, greedy: true });
    expect(g).toBe(task.reward([sampled.tokens], 0).rewards[0]);
    const svg = poolChartSvg(
      { N: [1, 4], random: [0.5, 0.5], most_likely: [0.6, 0.7], best: [0.6, 0.9], greedy: g },
      't',
    );
    for (const name of ['best of N (oracle)', 'most likely of N', 'random of N', 'greedy']) expect(svg).toContain(name);
    expect(svg.match(/<polyline/g)).toHaveLength(4);
    p.params.forEach((v) => v.dispose());
  });
});
