// The bias and the variance of the estimators, `expected` among them, on a policy whose steps are two tokens long
// and whose second token depends on the first: the case where `expected` is biased. Every figure is an exact
// expectation by enumeration (no sampling), so the pins below are the estimators' own numbers, not a draw's.
//
// The toy: a tabular autoregressive policy (token t's distribution depends on token t − 1), V = 3 tokens, L = 4
// positions = 2 steps of 2 tokens (as detection's 6-token box slots). Step k's worth is WORTH[a][b] for its tokens
// (a, b), less DUP when step 1 repeats step 0 (a duplicate, so a step's tokens change a later step's reward). The
// reward splits over tokens as detection's does: step k's increment at its last token. The token values are
// detection's too: at every position of a step, each token's value is the step's increment had that token been drawn,
// the step's other token and the earlier step as drawn. One input's estimate uses N = 2 samples; its expectation
// and covariance are sums over all 81² pairs of sequences.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@reward-tune/core-model';
import { estimatorRows, type Estimator } from './estimators';
import { reinforceLoss } from './reinforce-loss';
import { TabularPolicy } from './testing/toys';

const V = 3;
const STEP = 2;
const L = 4;
const N = 2;
/** Sequences (V^L) and the pairs of them one input's N = 2 samples can be (the enumerated "batch"). */
const SEQS = V ** L;
const PAIRS = SEQS * SEQS;
/** Parameters of the tabular policy: logits[t, prev, v]. */
const D = L * V * V;

const WORTH = [
  [1.0, 0.2, 0.6],
  [0.0, 2.0, 0.4],
  [0.5, 1.5, 0.1],
];
const DUP = 1.5;

/** Each step's increment of the reward: ρ_0 = WORTH(step 0), ρ_1 = WORTH(step 1) − DUP if it repeats step 0. */
function stepRewards(y: ArrayLike<number>): [number, number] {
  const dup = y[0] === y[2] && y[1] === y[3] ? DUP : 0;
  return [WORTH[y[0]][y[1]], WORTH[y[2]][y[3]] - dup];
}

/** Step k's value at position t had token v been drawn there, the rest as drawn (what detection's task gives). */
function drawnValue(y: Int32Array, t: number, v: number): number {
  const z = Int32Array.from(y);
  z[t] = v;
  return stepRewards(z)[Math.floor(t / STEP)];
}

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const diff = Array.from(a, (x, i) => x - b[i]);
  return Math.sqrt(dot(diff, diff) / dot(b, b));
}
function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * One input's estimate as a sum of per-token terms over its rows (each weighted 1/rows): a sampled term
 * a·∇log π(y_t), and where `q` is given the expectation term Σ_v ∇π(v)·q(v). The tabular policy's gradients are
 * closed-form: ∂log π(y_t)/∂logits[t, prev, k] = 1[k = y_t] − π(k) and
 * ∂Σ_v π(v)q(v)/∂logits[t, prev, k] = π(k)(q(k) − π·q).
 */
type TokenTerm = (row: number, t: number) => { readonly a: number; readonly q?: ArrayLike<number> };

describe('estimator bias and variance, by enumeration, where the enumerated token is not the last of its step', () => {
  let policy: TabularPolicy;
  /** pi[t][prev][v]: the policy's probabilities in float64. */
  let pi: number[][][];
  let seqs: Int32Array[];
  /** [PAIRS] probability of each pair (input) of samples. */
  let pairProb: Float64Array;
  /** [PAIRS, N, L] tokens, [PAIRS, N] rewards, [PAIRS, N, L] token rewards, [PAIRS, N, L, V] drawn values. */
  let tokens: Int32Array;
  let rewards: Float64Array;
  let tokenRewards: Float64Array;
  let values: Float64Array;
  let exact: Float64Array;

  const probsAt = (y: ArrayLike<number>, t: number) => pi[t][t === 0 ? 0 : y[t - 1]];
  const rowTokens = (row: number) => tokens.subarray(row * L, (row + 1) * L);
  const rowValues = (row: number, t: number) => values.subarray((row * L + t) * V, (row * L + t + 1) * V);
  const scored = () => ({
    values: tokenRewards,
    length: L,
    discount: 1,
    tokensPerStep: STEP,
    enumerated: new Uint8Array(PAIRS * N * L).fill(1),
  });

  /** Adds a·∇log π(y_t) and, with q, Σ_v ∇π(v)q(v) (the ascent direction) to g. */
  function addTerm(g: Float64Array, y: ArrayLike<number>, t: number, w: number, term: ReturnType<TokenTerm>): void {
    const p = probsAt(y, t);
    const at = (t * V + (t === 0 ? 0 : y[t - 1])) * V;
    for (let k = 0; k < V; k++) g[at + k] += w * term.a * ((k === y[t] ? 1 : 0) - p[k]);
    if (!term.q) return;
    const mean = dot(p, term.q);
    for (let k = 0; k < V; k++) g[at + k] += w * p[k] * (term.q[k] - mean);
  }

  /** The mean and the trace of the covariance of one input's estimate, rows 0..N−1 of `rows` (all by default). */
  function moments(term: TokenTerm, rows: readonly number[] = [0, 1]): { mean: Float64Array; variance: number } {
    const mean = new Float64Array(D);
    const g = new Float64Array(D);
    let square = 0;
    for (let m = 0; m < PAIRS; m++) {
      g.fill(0);
      for (const j of rows)
        for (let t = 0; t < L; t++) addTerm(g, rowTokens(m * N + j), t, 1 / rows.length, term(m * N + j, t));
      for (let d = 0; d < D; d++) mean[d] += pairProb[m] * g[d];
      square += pairProb[m] * dot(g, g);
    }
    return { mean, variance: square - dot(mean, mean) };
  }

  /** A table estimator's per-token terms, read from its estimatorRows output (paper: sample 0 only). */
  function tableTerms(estimator: Estimator): { term: TokenTerm; rows: number[] } {
    const { rows, advantages } = estimatorRows(estimator, rewards, PAIRS, N, undefined, scored());
    const perRow = advantages.length / rows.length;
    const index = new Map(Array.from(rows, (row, k) => [row, k]));
    return {
      rows: estimator === 'paper' ? [0] : [0, 1],
      term: (row, t) => {
        const k = index.get(row)!;
        const a = advantages[perRow === 1 ? k : k * L + t];
        return { a, q: estimator === 'expected' ? rowValues(row, t) : undefined };
      },
    };
  }

  /**
   * The mean estimate through the real loss. The loss is linear in the advantages and values, so the PAIRS·N rows
   * fold into one row per distinct sequence: its advantage at t is Σ P(pair)·a_t over the rows that drew it, its
   * values Σ P(pair)·q likewise (times SEQS, which the loss's mean over rows divides out).
   */
  function lossMean(estimator: Estimator): Float64Array {
    const { rows, advantages } = estimatorRows(estimator, rewards, PAIRS, N, undefined, scored());
    const perRow = advantages.length / rows.length;
    const share = rows.length / PAIRS; // rows per input
    const folded = new Float64Array(SEQS * L);
    const valueSums = new Float64Array(SEQS * L * V);
    rows.forEach((row, k) => {
      const m = Math.floor(row / N);
      const s = row % N === 0 ? Math.floor(m / SEQS) : m % SEQS;
      const w = (SEQS * pairProb[m]) / share;
      for (let t = 0; t < L; t++) folded[s * L + t] += w * advantages[perRow === 1 ? k : k * L + t];
      for (let i = 0; i < L * V; i++) valueSums[s * L * V + i] += w * values[row * L * V + i];
    });
    const tokenValues = estimator === 'expected' ? Float32Array.from(valueSums) : undefined;
    const table = policy.params.get('table') as tf.Variable;
    const images = tf.zeros([SEQS, 1, 1, 1]) as tf.Tensor4D;
    const tok = tf.tensor2d(Int32Array.from(seqs.flatMap((y) => Array.from(y))), [SEQS, L], 'int32');
    const { value, grads } = tf.variableGrads(
      () => reinforceLoss(policy, { images, tokens: tok, advantages: folded, tokenValues, reduction: 'sequence' }),
      [table],
    );
    const g = Float64Array.from(grads[table.name].dataSync(), (x) => -x);
    tf.dispose([value, grads[table.name], images, tok]);
    return g;
  }

  beforeAll(async () => {
    expect(await tf.setBackend('cpu')).toBe(true);
    const rng = Rng.fromSeed(11);
    const init = Float32Array.from({ length: D }, () => rng.normal());
    policy = new TabularPolicy(V, L, init);
    pi = Array.from({ length: L }, (_, t) =>
      Array.from({ length: V }, (_, prev) => {
        const logits = Array.from({ length: V }, (_, k) => init[(t * V + prev) * V + k]);
        const z = logits.reduce((s, x) => s + Math.exp(x), 0);
        return logits.map((x) => Math.exp(x) / z);
      }),
    );
    seqs = Array.from({ length: SEQS }, (_, i) =>
      Int32Array.from({ length: L }, (_, t) => Math.floor(i / V ** (L - 1 - t)) % V),
    );
    const prob = seqs.map((y) => y.reduce((p, v, t) => p * probsAt(y, t)[v], 1));
    pairProb = Float64Array.from({ length: PAIRS }, (_, m) => prob[Math.floor(m / SEQS)] * prob[m % SEQS]);
    tokens = new Int32Array(PAIRS * N * L);
    rewards = new Float64Array(PAIRS * N);
    tokenRewards = new Float64Array(PAIRS * N * L);
    values = new Float64Array(PAIRS * N * L * V);
    for (let m = 0; m < PAIRS; m++) {
      [Math.floor(m / SEQS), m % SEQS].forEach((s, j) => {
        const row = m * N + j;
        const y = seqs[s];
        const rho = stepRewards(y);
        tokens.set(y, row * L);
        rewards[row] = rho[0] + rho[1];
        rho.forEach((r, k) => (tokenRewards[row * L + (k + 1) * STEP - 1] = r));
        for (let t = 0; t < L; t++) for (let v = 0; v < V; v++) values[(row * L + t) * V + v] = drawnValue(y, t, v);
      });
    }
    // ∇ Σ_y P(y)·R(y) = Σ_y P(y)·R(y)·∇log P(y).
    exact = new Float64Array(D);
    seqs.forEach((y, i) => {
      const r = stepRewards(y);
      for (let t = 0; t < L; t++) addTerm(exact, y, t, prob[i] * (r[0] + r[1]), { a: 1 });
    });
  });

  it('the enumeration is the policy: probabilities sum to 1, and the exact gradient matches autodiff of Σ P·R', () => {
    expect(pairProb.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 12);
    const table = policy.params.get('table') as tf.Variable;
    const r = tf.tensor1d(seqs.map((y) => stepRewards(y)[0] + stepRewards(y)[1]));
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.exp(policy.enumerateLogProbs()), r)), [table]);
    expect(relativeError(grads[table.name].dataSync(), exact)).toBeLessThan(1e-5);
    tf.dispose([r, value, grads[table.name]]);
  });

  // Measured: cosine of the mean estimate to the exact gradient, and ‖E g − g*‖/‖g*‖, through the real loss.
  it.each<[Estimator, number, number]>([
    ['paper', 1, 0],
    ['rloo', 1, 0],
    ['rtg', 1, 0],
    ['expected', 0.9218, 0.4],
  ])('%s: cosine %s and relative error %s to the exact gradient', (estimator, cos, err) => {
    const mean = lossMean(estimator);
    expect(cosine(mean, exact)).toBeCloseTo(cos, 4);
    expect(relativeError(mean, exact)).toBeCloseTo(err, 4);
    // The closed-form per-input gradients (the variances below) average to the same.
    const { term, rows } = tableTerms(estimator);
    expect(relativeError(moments(term, rows).mean, mean)).toBeLessThan(1e-5);
  });

  it('variance (trace of the covariance) of one input’s estimate: expected 12× below rtg, paper 2× above rloo', () => {
    const variance = (e: Estimator) => {
      const { term, rows } = tableTerms(e);
      return moments(term, rows).variance;
    };
    // A batch of B inputs divides each by B. ‖g*‖² = 0.2061.
    expect(dot(exact, exact)).toBeCloseTo(0.2061, 4);
    expect(variance('paper')).toBeCloseTo(5.7158, 4);
    expect(variance('rloo')).toBeCloseTo(2.961, 4);
    expect(variance('rtg')).toBeCloseTo(2.4942, 4);
    expect(variance('expected')).toBeCloseTo(0.2058, 4);
  });

  describe('where the bias and the variance reduction come from, and what an unbiased variant keeps', () => {
    let rtg: Float64Array;
    /** The sampled term for the steps after t's: rtg's advantage at the next step's first token (0 in the last). */
    const later = (row: number, t: number) => {
      const next = (Math.floor(t / STEP) + 1) * STEP;
      return next < L ? rtg[row * L + next] : 0;
    };
    const lastOfStep = (t: number) => (t + 1) % STEP === 0;
    /**
     * The values a task cannot give: at a step's first token, the step's increment averaged over the policy's
     * next token.
     */
    const exactValues = (row: number, t: number): ArrayLike<number> => {
      if (lastOfStep(t)) return rowValues(row, t); // nothing of the step comes after: the drawn values are exact
      const y = Int32Array.from(rowTokens(row));
      return Float64Array.from({ length: V }, (_, v) => {
        y[t] = v;
        let q = 0;
        for (let z = 0; z < V; z++) q += pi[t + 1][v][z] * drawnValue(y, t + 1, z);
        return q;
      });
    };
    const measured = (term: TokenTerm) => {
      const { mean, variance } = moments(term);
      return { cos: cosine(mean, exact), err: relativeError(mean, exact), variance };
    };

    beforeAll(() => {
      rtg = estimatorRows('rtg', rewards, PAIRS, N, undefined, scored()).advantages;
    });

    it('source 1 (own step only) is rtg at discount 0; source 2 (the step’s later token as drawn) adds the most', () => {
      const rtg0 = estimatorRows('rtg', rewards, PAIRS, N, undefined, { ...scored(), discount: 0 }).advantages;
      // Own step only: rtg at γ = 0, and the token expectation with exact values has the same mean.
      const own = measured((row, t) => ({ a: rtg0[row * L + t] }));
      expect(own.cos).toBeCloseTo(0.9927, 4);
      expect(own.err).toBeCloseTo(0.1209, 4);
      expect(own.variance).toBeCloseTo(1.5287, 4);
      const ownExact = measured((row, t) => ({ a: 0, q: exactValues(row, t) }));
      expect(ownExact.err).toBeCloseTo(0.1209, 4);
      expect(ownExact.variance).toBeCloseTo(0.1449, 4);
      // The step's later token as drawn, later steps credited (sampled): source 2 alone.
      const drawnRest = measured((row, t) => ({ a: later(row, t), q: rowValues(row, t) }));
      expect(drawnRest.cos).toBeCloseTo(0.91, 4);
      expect(drawnRest.err).toBeCloseTo(0.4179, 4);
      expect(drawnRest.variance).toBeCloseTo(1.2343, 4);
      // Both sources removed: exact values and later steps credited is unbiased.
      const neither = measured((row, t) => ({ a: later(row, t), q: exactValues(row, t) }));
      expect(neither.cos).toBeCloseTo(1, 6);
      expect(neither.err).toBeCloseTo(0, 6);
      expect(neither.variance).toBeCloseTo(1.1656, 4);
    });

    it('expected-last (the exact expectation at each step’s last token only) is unbiased but keeps a quarter of the reduction', () => {
      const last = measured((row, t) =>
        lastOfStep(t) ? { a: later(row, t), q: rowValues(row, t) } : { a: rtg[row * L + t] },
      );
      expect(last.cos).toBeCloseTo(1, 6);
      expect(last.err).toBeCloseTo(0, 6);
      expect(last.variance).toBeCloseTo(1.9483, 4);
      // Of rtg's 2.4942 → expected's 0.2058: (2.4942 − 1.9483) / (2.4942 − 0.2058) = 24%.
    });

    it('a control variate from the drawn values, (A − Q(y) + π·Q)·∇log π(y) + Σ_v ∇π(v)Q(v), is biased', () => {
      // Unbiased only where Q is exact (a step's last token); at its first token Q(v) carries the later token drawn
      // after y, not after v.
      const cv = measured((row, t) => {
        const q = rowValues(row, t);
        const y = rowTokens(row);
        return { a: rtg[row * L + t] - q[y[t]] + dot(probsAt(y, t), q), q };
      });
      expect(cv.cos).toBeCloseTo(0.9851, 4);
      expect(cv.err).toBeCloseTo(0.1757, 4);
      expect(cv.variance).toBeCloseTo(2.3713, 4);
    });

    it('expected has the lower mean squared error than rtg below about 69 inputs per batch', () => {
      const e = tableTerms('expected');
      const r = tableTerms('rtg');
      const exp = moments(e.term, e.rows);
      const bias2 = relativeError(exp.mean, exact) ** 2 * dot(exact, exact);
      // E‖ĝ_B − g*‖² = bias² + variance / B: equal at B = (variance_rtg − variance_expected) / bias².
      expect((moments(r.term, r.rows).variance - exp.variance) / bias2).toBeCloseTo(69.37, 1);
    });
  });
});
