// The estimators against the exact gradient of the expected reward, on a tabular policy small enough to enumerate
// (V = 3 tokens, L = 2 positions: 9 sequences, 3 of them masked out at position 1).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as path from 'node:path';
import { Rng } from '@reward-tune/core-model';
import { normalizeAdvantages } from './advantages';
import { estimatorRows, type Estimator } from './estimators';
import { reinforceLoss } from './reinforce-loss';
import { selectTokenLogProbs, type PgReduction } from './losses';
import { TabularPolicy } from './testing/toys';

const V = 3;
const L = 2;
// Reward of sequence (y0, y1) at index 3·y0 + y1. Token 2 is masked at position 1, so the entries with y1 = 2 (9)
// must never be drawn nor weigh in the gradient.
const REWARD = [1.0, 0.2, 9, 0.0, 2.0, 9, 0.5, 1.5, 9];
const MASK = [
  [true, true, true],
  [true, true, false],
];

function makePolicy(): TabularPolicy {
  const rng = Rng.fromSeed(7);
  return new TabularPolicy(
    V,
    L,
    Float32Array.from({ length: L * V * V }, () => rng.normal() * 0.7),
    MASK,
  );
}

/** log P_T(y) of the 9 sequences y = (⌊i/3⌋, i mod 3) under softmax(logits / T), by teacher forcing. */
function temperedLogProbs(policy: TabularPolicy, temperature: number): tf.Tensor1D {
  const all = tf.tensor2d(
    Int32Array.from({ length: V * V * L }, (_, j) => (j % L === 0 ? Math.floor(j / L / V) : (j / L) % V)),
    [V * V, L],
    'int32',
  );
  const lp = tf.logSoftmax(tf.div<tf.Tensor3D>(policy.logProbs(tf.zeros([V * V, 1, 1, 1]), all), temperature));
  return tf.sum(selectTokenLogProbs(lp, all), 1);
}

/** ∇_table Σ_y P(y)·R(y) (P at temperature T when given), by enumeration. */
function exactGradient(policy: TabularPolicy, temperature?: number): Float32Array {
  const table = policy.params.get('table') as tf.Variable;
  const { value, grads } = tf.variableGrads(
    () =>
      tf.sum(
        tf.mul(
          tf.exp(temperature === undefined ? policy.enumerateLogProbs() : temperedLogProbs(policy, temperature)),
          tf.tensor1d(REWARD),
        ),
      ) as tf.Scalar,
    [table],
  );
  const g = grads[table.name].dataSync() as Float32Array;
  value.dispose();
  grads[table.name].dispose();
  return g;
}

interface Draw {
  tokens: Int32Array; // [M, N, L]
  rewards: Float64Array; // [M, N]
  greedyRewards: Float64Array; // [M]
}

async function draw(policy: TabularPolicy, m: number, n: number, seed: number, temperature = 1): Promise<Draw> {
  const images = tf.zeros([m, 1, 1, 1]) as tf.Tensor4D;
  const s = await policy.sample(images, { numSamples: n, temperature, rng: Rng.fromSeed(seed) });
  const g = await policy.sample(images, { numSamples: 1, greedy: true });
  images.dispose();
  const reward = (tok: Int32Array, i: number) => REWARD[tok[i * L] * V + tok[i * L + 1]];
  return {
    tokens: s.tokens,
    rewards: Float64Array.from({ length: m * n }, (_, i) => reward(s.tokens, i)),
    greedyRewards: Float64Array.from({ length: m }, (_, i) => reward(g.tokens, i)),
  };
}

/** −∇ of the tuning loss (the ascent direction the estimator proposes) for the given rows and advantages. */
function ascent(
  policy: TabularPolicy,
  d: Draw,
  rows: Int32Array,
  advantages: Float64Array,
  reduction: PgReduction,
  temperature?: number,
): Float32Array {
  const table = policy.params.get('table') as tf.Variable;
  const rowTokens = new Int32Array(rows.length * L);
  rows.forEach((r, k) => rowTokens.set(d.tokens.subarray(r * L, (r + 1) * L), k * L));
  const images = tf.zeros([rows.length, 1, 1, 1]) as tf.Tensor4D;
  const tokens = tf.tensor2d(rowTokens, [rows.length, L], 'int32');
  const { value, grads } = tf.variableGrads(
    () => reinforceLoss(policy, { images, tokens, advantages, reduction, temperature }),
    [table],
  );
  const g = (grads[table.name].dataSync() as Float32Array).map((x) => -x);
  tf.dispose([value, grads[table.name], images, tokens]);
  return g;
}

/** `ascent` for the expected estimator: the rows' token values [M·N, L, V] beside their advantages ('sequence'). */
function ascentWithValues(
  policy: TabularPolicy,
  d: Draw,
  rows: Int32Array,
  advantages: Float64Array,
  values: Float32Array,
): Float32Array {
  const table = policy.params.get('table') as tf.Variable;
  const images = tf.zeros([rows.length, 1, 1, 1]) as tf.Tensor4D;
  const tokens = tf.tensor2d(d.tokens, [rows.length, L], 'int32');
  const { value, grads } = tf.variableGrads(
    () => reinforceLoss(policy, { images, tokens, advantages, tokenValues: values, reduction: 'sequence' }),
    [table],
  );
  const g = (grads[table.name].dataSync() as Float32Array).map((x) => -x);
  tf.dispose([value, grads[table.name], images, tokens]);
  return g;
}

function relativeError(estimate: ArrayLike<number>, exact: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < exact.length; i++) {
    num += (estimate[i] - exact[i]) ** 2;
    den += exact[i] ** 2;
  }
  return Math.sqrt(num / den);
}

describe('REINFORCE estimators on an enumerable tabular policy', () => {
  const M = 40000; // inputs: the loss's mean over them is the average of M single-input estimates
  const N = 4;
  let policy: TabularPolicy;
  let exact: Float32Array;
  let d: Draw;

  beforeAll(async () => {
    setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/');
    expect(await tf.setBackend('wasm')).toBe(true);
    policy = makePolicy();
    exact = exactGradient(policy);
    d = await draw(policy, M, N, 123);
  });

  it('samples only unmasked tokens, and re-scoring gives the sampler its own log-probs', async () => {
    let maskedDrawn = 0;
    for (let i = 1; i < d.tokens.length; i += L) if (d.tokens[i] === 2) maskedDrawn++;
    expect(maskedDrawn).toBe(0);
    const images = tf.zeros([4, 1, 1, 1]) as tf.Tensor4D;
    const s = await policy.sample(images, { numSamples: 3, rng: Rng.fromSeed(5) });
    const tokens = tf.tensor2d(s.tokens, [12, L], 'int32');
    const rescored = tf.tidy(() => selectTokenLogProbs(policy.logProbs(tf.zeros([12, 1, 1, 1]), tokens), tokens));
    Array.from(rescored.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(s.logProbs[i], 5));
    tf.dispose([images, tokens, rescored]);
  });

  it.each<Estimator>(['paper', 'rloo', 'greedy'])('%s: mean estimate within 5%% of the exact gradient', (estimator) => {
    const { rows, advantages } = estimatorRows(estimator, d.rewards, M, N, d.greedyRewards);
    // Measured at this seed: paper 0.008, rloo 0.003, greedy 0.003.
    const err = relativeError(ascent(policy, d, rows, advantages, 'sequence'), exact);
    expect(err).toBeLessThan(0.05);
  });

  it('rtg: with the reward split causally over the tokens, the mean estimate is within 5% of the exact gradient', () => {
    // r[0] = f(y0), any function of the first token; r[1] = R − f(y0).
    const f = [0.3, -1, 2];
    const causal = new Float64Array(M * N * L);
    const late = new Float64Array(M * N * L); // the whole reward at token 0: depends on y1, so not a causal split
    for (let i = 0; i < M * N; i++) {
      causal[i * L] = f[d.tokens[i * L]];
      causal[i * L + 1] = d.rewards[i] - f[d.tokens[i * L]];
      late[i * L] = d.rewards[i];
    }
    const { rows, advantages } = estimatorRows('rtg', d.rewards, M, N, undefined, { values: causal, length: L });
    expect(advantages.length).toBe(M * N * L);
    // Measured at this seed: 0.004; the non-causal split leaves token 1 without gradient: 0.93.
    expect(relativeError(ascent(policy, d, rows, advantages, 'sequence'), exact)).toBeLessThan(0.05);
    const wrong = estimatorRows('rtg', d.rewards, M, N, undefined, { values: late, length: L });
    expect(relativeError(ascent(policy, d, wrong.rows, wrong.advantages, 'sequence'), exact)).toBeGreaterThan(0.15);
  });

  it('expected: the exact expectation at an enumerated last token, reward to go before it: unbiased, and quieter than rtg', () => {
    // Position 1 enumerated: Q(v) = R(y0, v) − f(y0), its own increment had v been drawn (the masked token 2's 9 −
    // f(y0) has probability 0 and must not matter). Position 0 not: reward to go, as rtg.
    const f = [0.3, -1, 2];
    const causal = new Float64Array(M * N * L);
    const enumerated = new Uint8Array(M * N * L);
    const values = new Float32Array(M * N * L * V);
    for (let i = 0; i < M * N; i++) {
      const y0 = d.tokens[i * L];
      causal[i * L] = f[y0];
      causal[i * L + 1] = d.rewards[i] - f[y0];
      enumerated[i * L + 1] = 1;
      for (let v = 0; v < V; v++) values[(i * L + 1) * V + v] = REWARD[y0 * V + v] - f[y0];
    }
    const tokenRewards = { values: causal, length: L, enumerated };
    const { rows, advantages } = estimatorRows('expected', d.rewards, M, N, undefined, tokenRewards);
    // The enumerated position's advantage is replaced by the expectation.
    for (let i = 1; i < advantages.length; i += L) expect(advantages[i]).toBe(0);
    const withValues = (vals: Float32Array) => ascentWithValues(policy, d, rows, advantages, vals);
    const err = relativeError(withValues(values), exact);
    const rtg = estimatorRows('rtg', d.rewards, M, N, undefined, { values: causal, length: L });
    const errRtg = relativeError(ascent(policy, d, rtg.rows, rtg.advantages, 'sequence'), exact);
    // Measured at this seed: expected 0.002, rtg 0.004.
    expect(err).toBeLessThan(0.05);
    expect(err).toBeLessThan(errRtg);
    const masked = values.map((x, j) => (Math.floor(j / V) % L === 1 && j % V === 2 ? 1e6 : x));
    withValues(masked).forEach((x, j) => expect(x).toBeCloseTo(withValues(values)[j], 4));
    expect(() => estimatorRows('expected', d.rewards, M, N, undefined, { values: causal, length: L })).toThrow(
      /enumerated flags/,
    );
  });

  it('at temperature T < 1 the estimate is the gradient of the tempered policy, which re-scoring at T = 1 misses', async () => {
    const T = 0.5;
    const exactT = exactGradient(policy, T);
    // The enumeration at T = 1 is the policy's own (a check of temperedLogProbs itself).
    exactGradient(policy, 1).forEach((x, i) => expect(x).toBeCloseTo(exact[i], 4));
    const dT = await draw(policy, M, N, 321, T);
    const { rows, advantages } = estimatorRows('paper', dT.rewards, M, N);
    // Measured at this seed: 0.014 at T; 0.47 when the same samples are re-scored at T = 1.
    expect(relativeError(ascent(policy, dT, rows, advantages, 'sequence', T), exactT)).toBeLessThan(0.05);
    expect(relativeError(ascent(policy, dT, rows, advantages, 'sequence'), exactT)).toBeGreaterThan(0.15);
  });

  it('token reduction is the sequence reduction divided by L (big_vision mean over B×L positions)', () => {
    const { rows, advantages } = estimatorRows('paper', d.rewards, M, N);
    const seq = ascent(policy, d, rows, advantages, 'sequence');
    const tok = ascent(policy, d, rows, advantages, 'token');
    tok.forEach((x, i) => expect(x * L).toBeCloseTo(seq[i], 5));
  });

  it('fails the tolerance with a baseline that includes the sample itself, or with a flipped sign', () => {
    const { rows, advantages } = estimatorRows('paper', d.rewards, M, N);
    // Wrong baseline: the mean over all N samples, sample 0 included. Its expectation shrinks the gradient by
    // (1 − 1/N) = 0.75, a 25% error.
    const wrong = Float64Array.from(rows, (row) => {
      const b = row / N;
      let mean = 0;
      for (let j = 0; j < N; j++) mean += d.rewards[b * N + j] / N;
      return d.rewards[row] - mean;
    });
    const errWrong = relativeError(ascent(policy, d, rows, wrong, 'sequence'), exact);
    expect(errWrong).toBeGreaterThan(0.15); // measured 0.249
    const errFlipped = relativeError(
      ascent(
        policy,
        d,
        rows,
        advantages.map((a) => -a),
        'sequence',
      ),
      exact,
    );
    expect(errFlipped).toBeGreaterThan(1.5);
  });
});

describe('estimatorRows and normalizeAdvantages', () => {
  const rewards = Float64Array.from([1, 0, 2, /* input 2 */ 4, 4, 1]);

  it('paper picks sample 0 of each input, rloo and greedy every sample', () => {
    expect(Array.from(estimatorRows('paper', rewards, 2, 3).rows)).toEqual([0, 3]);
    expect(Array.from(estimatorRows('rloo', rewards, 2, 3).rows)).toEqual([0, 1, 2, 3, 4, 5]);
    // Greedy outputs scored 1 and 3: advantages are r − r_greedy.
    const g = estimatorRows('greedy', rewards, 2, 3, Float64Array.from([1, 3]));
    expect(Array.from(g.advantages)).toEqual([0, -1, 1, 1, 1, -2]);
    expect(() => estimatorRows('greedy', rewards, 2, 3)).toThrow(/greedy rewards/);
  });

  it('normalises to zero mean and unit std, and leaves all-equal advantages at zero', () => {
    const a = normalizeAdvantages(Float64Array.from([1, 3])); // mean 2, std 1
    expect(Array.from(a)).toEqual([-1, 1]);
    expect(Array.from(normalizeAdvantages(Float64Array.from([2, 2, 2])))).toEqual([0, 0, 0]);
  });
});
