// The truncated importance weights of reinforceLoss (ReinforceLossInput.importance, cpu backend, fixed seeds): computed
// from the loss's own pass as min(c, exp(log π_T(y) − log μ(y))), constants of the loss (no gradient through them),
// the same over microBatch chunks as over the whole batch; and the on-policy loss runs the very kernels it always did.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { Rng, scoreRows, type SequencePolicy } from '@reward-tune/core-model';
import { expectedValueLoss, policyGradientLoss, selectTokenLogProbs, type PgReduction } from './losses';
import { reinforceLoss, type ReinforceLossInput } from './reinforce-loss';
import { sampleAndReward, type ScoredSamples } from './rollout';
import { applyUpdate, updateInputs } from './update';
import type { TuneConfig } from './tune';
import { CaptureOptimizer, FeaturePolicy, toyBatch, toyTask } from './testing/toys';

const F = 3;
const L = 3;
const V = 4;
const R = 6;
const T = 0.7;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** The gradient of `f` with respect to every parameter of `policy`, by name, and its value. */
function gradsOf(policy: SequencePolicy, f: () => tf.Scalar): { loss: number; grads: Record<string, Float32Array> } {
  const { value, grads } = tf.variableGrads(f, [...policy.params.values()] as tf.Variable[]);
  const out = Object.fromEntries(
    [...policy.params].map(([k, v]) => [k, (grads[v.name].dataSync() as Float32Array).slice()]),
  );
  const loss = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, grads: out };
}

const flat = (g: Record<string, Float32Array>) => Float64Array.from(Object.values(g).flatMap((a) => Array.from(a)));
const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, x) => s + x * x, 0));
const relDiff = (a: Record<string, Float32Array>, b: Record<string, Float32Array>) => {
  const x = flat(a);
  const y = flat(b);
  return norm(x.map((v, i) => v - y[i])) / norm(y);
};

/** R rows of random features and tokens, and log π_T of each token, computed on their own. */
function fixture() {
  const rng = Rng.fromSeed(21);
  const policy = new FeaturePolicy(F, 8, V, L, Rng.fromSeed(4));
  const images = tf.tensor4d(
    Float32Array.from({ length: R * F }, () => rng.normal()),
    [R, 1, 1, F],
  );
  const tokens = tf.tensor2d(
    Int32Array.from({ length: R * L }, () => Math.floor(rng.next() * V)),
    [R, L],
    'int32',
  );
  const current = tf.tidy(() =>
    selectTokenLogProbs(tf.logSoftmax(tf.div<tf.Tensor3D>(policy.logProbs(images, tokens), T)), tokens),
  );
  const tokenLogPi = Float32Array.from(current.dataSync());
  current.dispose();
  const advantages = Float64Array.from({ length: R }, () => rng.normal());
  const tokenAdvantages = Float64Array.from({ length: R * L }, () => rng.normal());
  const tokenValues = Float32Array.from({ length: R * L * V }, () => (rng.next() < 0.5 ? rng.normal() : 0));
  return { policy, images, tokens, tokenLogPi, advantages, tokenAdvantages, tokenValues };
}

// The ratios π/μ each row is given (log μ(y_t) = log π_T(y_t) − log(ratio)/L): below 1, 1, between 1 and c, above c.
const TARGETS = [0.5, 1, 1.5, 3, 0.2, 2.5];
const CLIP = 2;

describe('reinforceLoss importance weights', () => {
  const fx = fixture();
  const behaviourLogProbs = Float32Array.from(fx.tokenLogPi, (lp, i) => lp - Math.log(TARGETS[Math.floor(i / L)]) / L);
  afterAll(() => tf.dispose([fx.images, fx.tokens]));

  const base = (reduction: PgReduction, perToken: boolean): ReinforceLossInput<unknown> => ({
    images: fx.images,
    tokens: fx.tokens,
    advantages: perToken ? fx.tokenAdvantages : fx.advantages,
    tokenValues: perToken ? fx.tokenValues : undefined,
    reduction,
    temperature: T,
  });

  /** The importance input, and the ratios its loss reported (read and disposed). */
  const weighting = () => {
    const reported: tf.Tensor1D[] = [];
    return {
      importance: { behaviourLogProbs, clip: CLIP, report: (r: tf.Tensor1D) => reported.push(r) },
      ratios: () => {
        expect(reported).toHaveLength(1);
        const values = Float32Array.from(reported[0].dataSync());
        tf.dispose(reported);
        return values;
      },
    };
  };

  it('are min(c, exp(Σ log π_T(y_t) − log μ(y_t))) of the loss own scores, the ratios reported unclipped', () => {
    const { importance, ratios } = weighting();
    const terms: Record<string, tf.Scalar> = {};
    const loss = tf.tidy(() => reinforceLoss(fx.policy, { ...base('token', false), importance }, terms));
    ratios().forEach((ratio, k) => expect(ratio).toBeCloseTo(TARGETS[k], 5));
    // The loss is the one of the advantages times min(c, ratio).
    const weights = TARGETS.map((x) => Math.min(CLIP, x));
    const fixed = tf.tidy(() =>
      reinforceLoss(fx.policy, { ...base('token', false), advantages: fx.advantages.map((a, k) => a * weights[k]) }),
    );
    expect(loss.dataSync()[0]).toBeCloseTo(fixed.dataSync()[0], 6);
    expect(terms.pgLoss.dataSync()[0]).toBe(loss.dataSync()[0]);
    tf.dispose([loss, fixed, ...Object.values(terms)]);
  });

  it.each([
    ['[R] advantages, token reduction', 'token' as const, false],
    ['[R, L] advantages and token values, sequence reduction', 'sequence' as const, true],
  ])(
    'carry no gradient: with %s the gradient is that of the weights given as constants',
    async (_, reduction, perToken) => {
      const { importance, ratios } = weighting();
      const input = base(reduction, perToken);
      const weighted = gradsOf(fx.policy, () => reinforceLoss(fx.policy, { ...input, importance }));
      // The weights as float32 numbers, and the products the loss forms (float32, rounded once).
      const w = Array.from(ratios(), (ratio) => Math.min(CLIP, ratio));
      const size = L * V;
      const constants = gradsOf(fx.policy, () =>
        reinforceLoss(fx.policy, {
          ...input,
          advantages: input.advantages.map((a, i) =>
            Math.fround(Math.fround(a) * w[Math.floor(i / (perToken ? L : 1))]),
          ),
          tokenValues: input.tokenValues?.map((v, i) => v * w[Math.floor(i / size)]),
        }),
      );
      expect(weighted.loss).toBe(constants.loss);
      expect(weighted.grads).toEqual(constants.grads);
      // Nor does backpropagation reach the weights' computation: it runs the same kernels as without weights.
      const backward = (f: () => tf.Scalar) => {
        const spy = jest.spyOn(tf.engine(), 'runKernel');
        let forward = 0;
        const { value, grads } = tf.variableGrads(
          () => {
            const y = f();
            forward = spy.mock.calls.length;
            return y;
          },
          [...fx.policy.params.values()] as tf.Variable[],
        );
        const names = spy.mock.calls.slice(forward).map((c) => c[0]);
        spy.mockRestore();
        tf.dispose([value, ...Object.values(grads)]);
        return names;
      };
      const ran = backward(() => reinforceLoss(fx.policy, { ...input, importance: { behaviourLogProbs, clip: CLIP } }));
      expect(ran.length).toBeGreaterThan(10);
      expect(ran).toEqual(backward(() => reinforceLoss(fx.policy, input)));

      // The check can tell: w as a differentiable function of θ (the unclipped rows' ∇w = w·∇log π) moves the gradient.
      const through = gradsOf(fx.policy, () => {
        const lp = tf.logSoftmax(tf.div<tf.Tensor3D>(fx.policy.logProbs(fx.images, fx.tokens), T));
        const logRatio = tf.sum(tf.sub(selectTokenLogProbs(lp, fx.tokens), tf.tensor2d(behaviourLogProbs, [R, L])), 1);
        const wt = tf.minimum(tf.exp(logRatio), CLIP);
        const adv = perToken
          ? tf.mul(tf.tensor2d(Float32Array.from(input.advantages), [R, L]), tf.reshape(wt, [R, 1]))
          : tf.mul(tf.tensor1d(Float32Array.from(input.advantages)), wt);
        let pg = policyGradientLoss(lp, fx.tokens, adv as tf.Tensor1D | tf.Tensor2D, reduction);
        if (input.tokenValues) {
          const values = tf.mul(tf.tensor3d(input.tokenValues, [R, L, V]), tf.reshape(wt, [R, 1, 1]));
          pg = tf.add(pg, expectedValueLoss(lp, values as tf.Tensor3D, reduction));
        }
        return pg;
      });
      expect(relDiff(through.grads, constants.grads)).toBeGreaterThan(0.1);
    },
  );

  it('leave the on-policy loss as it was: the same kernels, loss and gradient as the unweighted terms composed by hand', async () => {
    for (const perToken of [false, true]) {
      const input = base('token', perToken);
      const byHand = () => {
        const logProbs = scoreRows(fx.policy, fx.images, fx.tokens).logProbs;
        const adv = perToken
          ? tf.tensor2d(Float32Array.from(input.advantages), [R, L])
          : tf.tensor1d(Float32Array.from(input.advantages));
        const lp = tf.logSoftmax(tf.div<tf.Tensor3D>(logProbs, T));
        let pg = policyGradientLoss(lp, fx.tokens, adv, 'token');
        if (input.tokenValues)
          pg = tf.add(pg, expectedValueLoss(lp, tf.tensor3d(input.tokenValues, [R, L, V]), 'token'));
        return pg;
      };
      const kernels = async (f: () => tf.Scalar) => (await tf.profile(() => tf.tidy(f))).kernels.map((k) => k.name);
      const plain = await kernels(() => reinforceLoss(fx.policy, input));
      expect(plain).toEqual(await kernels(byHand));
      // The profile sees the weights' kernels, so the equality above is not vacuous.
      const { importance, ratios } = weighting();
      const weighted = await kernels(() => reinforceLoss(fx.policy, { ...input, importance }));
      ratios();
      expect(weighted.length).toBeGreaterThan(plain.length);
      const a = gradsOf(fx.policy, () => reinforceLoss(fx.policy, input));
      const b = gradsOf(fx.policy, byHand);
      expect(a.loss).toBe(b.loss);
      expect(a.grads).toEqual(b.grads);
    }
  });

  it.each([
    ['[R] advantages', false],
    ['[R, L] advantages and token values', true],
  ])(
    'per token: with %s each token is weighted by min(c, π_T(y_t)/μ(y_t)), the token values are not',
    (_, perToken) => {
      // Token ratios around c, each token its own: log μ(y_t) = log π_T(y_t) − log(ratio_t).
      const tokenTargets = Array.from({ length: R * L }, (_, i) => [0.4, 1, 1.7, 2.6][(i * 7) % 4]);
      const reported: tf.Tensor1D[] = [];
      const importance = {
        behaviourLogProbs: Float32Array.from(fx.tokenLogPi, (lp, i) => lp - Math.log(tokenTargets[i])),
        clip: CLIP,
        per: 'token' as const,
        report: (r: tf.Tensor1D) => reported.push(r),
      };
      const input = base('sequence', perToken);
      const weighted = gradsOf(fx.policy, () => reinforceLoss(fx.policy, { ...input, importance }));
      expect(reported).toHaveLength(1);
      const ratios = Float32Array.from(reported[0].dataSync());
      tf.dispose(reported);
      expect(ratios).toHaveLength(R * L);
      ratios.forEach((ratio, i) => expect(ratio).toBeCloseTo(tokenTargets[i], 5));
      // The same loss and gradient as per-token advantages A·w_t given as constants, the token values untouched.
      const w = Array.from(ratios, (ratio) => Math.min(CLIP, ratio));
      const constants = gradsOf(fx.policy, () =>
        reinforceLoss(fx.policy, {
          ...input,
          advantages: Float64Array.from(w, (wt, i) =>
            Math.fround(Math.fround(input.advantages[perToken ? i : Math.floor(i / L)]) * wt),
          ),
        }),
      );
      expect(weighted.loss).toBe(constants.loss);
      expect(weighted.grads).toEqual(constants.grads);
      // And not the sequence weights: the per-row product of these ratios gives another gradient.
      const sequence = gradsOf(fx.policy, () =>
        reinforceLoss(fx.policy, { ...input, importance: { ...importance, per: 'sequence', report: undefined } }),
      );
      expect(relDiff(sequence.grads, constants.grads)).toBeGreaterThan(0.05);
    },
  );

  it('refuse behaviour log-probs of the wrong shape', () => {
    const importance = { behaviourLogProbs: new Float32Array(R), clip: CLIP };
    expect(() => tf.tidy(() => reinforceLoss(fx.policy, { ...base('token', false), importance }))).toThrow(
      /behaviour log-probs/,
    );
  });
});

/** Samples [first, first + count) inputs of `s` (N samples each). */
function slicePart<A>(s: ScoredSamples<A>, n: number, first: number, count: number): ScoredSamples<A> {
  const l = s.length;
  const [a, b] = [first * n, (first + count) * n];
  return {
    tokens: s.tokens.slice(a * l, b * l),
    length: l,
    rewards: s.rewards.slice(a, b),
    aux: s.aux.slice(a, b),
    logProbs: s.logProbs!.slice(a * l, b * l),
  };
}

describe('an update with importance weights (applyUpdate)', () => {
  it('reports the statistics of the weights a separate re-scoring gives, the same in microBatch chunks as whole', async () => {
    const b = 6;
    const n = 3;
    const behaviour = new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2)); // μ, the sampler's
    const current = new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2)); // π_θ, moved on since
    for (const [k, v] of current.params) {
      const rng = Rng.fromSeed(30 + k.length);
      v.assign(
        tf.add(
          v,
          tf.tensor(
            Float32Array.from({ length: v.size }, () => rng.normal() * 0.3),
            v.shape,
          ),
        ),
      );
    }
    const { images, examples } = toyBatch(Rng.fromSeed(7), b, F, L);
    const scored = await sampleAndReward(behaviour, toyTask, images, examples, n, {}, Rng.fromSeed(8));
    const config: TuneConfig = { steps: 1, numSamples: n, estimator: 'rloo' };

    // The weights as the separate pass gave them: π_θ re-scored over every row, min(c, π/μ).
    const rowImages = Int32Array.from({ length: b * n }, (_, r) => Math.floor(r / n));
    const tokens = tf.tensor2d(scored.tokens, [b * n, L], 'int32');
    const lp = tf.tidy(() => selectTokenLogProbs(scoreRows(current, images, tokens, { rowImages }).logProbs, tokens));
    const lpv = lp.dataSync();
    tf.dispose([lp, tokens]);
    const clip = 1.3;
    const ratios = Array.from({ length: b * n }, (_, r) => {
      let diff = 0;
      for (let t = 0; t < L; t++) diff += lpv[r * L + t] - scored.logProbs![r * L + t];
      return Math.exp(diff);
    });
    const w = ratios.map((x) => Math.min(clip, x));
    const expected = {
      isMean: w.reduce((a, x) => a + x, 0) / w.length,
      isMax: Math.max(...w),
      isClipped: ratios.filter((x) => x > clip).length / ratios.length,
    };
    // Some rows clipped, some not: both sides of min are exercised.
    expect(expected.isClipped).toBeGreaterThan(0);
    expect(expected.isClipped).toBeLessThan(1);

    const run = async (microBatch: number | undefined, importanceClip: number | undefined) => {
      const optimizer = new CaptureOptimizer();
      const opts = { policy: current, task: toyTask, config: { ...config, microBatch }, importanceClip, optimizer };
      const m = microBatch ?? b;
      const given = Array.from({ length: b / m }, (_, p) => slicePart(scored, n, p * m, m));
      const inputs = await updateInputs(opts, images, examples, Rng.fromSeed(0), given);
      try {
        const result = await applyUpdate(opts, inputs);
        return { result, grads: Object.fromEntries(optimizer.grads) };
      } finally {
        inputs.dispose();
      }
    };
    const whole = await run(undefined, clip);
    const chunked = await run(2, clip);
    for (const got of [whole, chunked]) {
      expect(got.result.importance!.isMean).toBeCloseTo(expected.isMean, 6);
      expect(got.result.importance!.isMax).toBeCloseTo(expected.isMax, 6);
      expect(got.result.importance!.isClipped).toBe(expected.isClipped);
    }
    expect(relDiff(chunked.grads, whole.grads)).toBeLessThan(1e-5);
    // The weights change the gradient, and an update without them reports none.
    const unweighted = await run(undefined, undefined);
    expect(unweighted.result.importance).toBeUndefined();
    expect(relDiff(unweighted.grads, whole.grads)).toBeGreaterThan(0.01);
    images.dispose();
  });
});
