/**
 * Tiny policies and an optimizer for the loops' tests (not exported from the package): a tabular autoregressive
 * policy small enough to enumerate, a dense "feature → per-position logits" policy, and plain Adam implementing
 * core-model's Optimizer contract with checkpointable state. All randomness comes from a seeded Rng.
 *
 * Dimension legend: B batch, N samples, L length, V vocabulary, F features.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Optimizer, Params, Rng, SampleOptions, SampleResult, SequencePolicy } from '@reward-tune/core-model';
import type { Task } from '../task';

/** What masked tokens get instead of −∞ (the SequencePolicy contract). */
export const MASKED = -1e9;

/** Draws an index from probabilities `p` (summing to 1) with one uniform number. */
function draw(p: ArrayLike<number>, u: number): number {
  let acc = 0;
  for (let k = 0; k < p.length; k++) {
    acc += p[k];
    if (u < acc) return k;
  }
  // Rounding left u above the total: the last token with non-zero probability.
  for (let k = p.length - 1; k >= 0; k--) if (p[k] > 0) return k;
  return 0;
}

function logSoftmaxRow(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let k = 0; k < logits.length; k++) max = Math.max(max, logits[k]);
  let z = 0;
  for (let k = 0; k < logits.length; k++) z += Math.exp(logits[k] - max);
  const lz = max + Math.log(z);
  return Float64Array.from(logits as ArrayLike<number>, (x) => x - lz);
}

function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < a.length; k++) if (a[k] > a[best]) best = k;
  return best;
}

/**
 * logits[t, prev, v] for token v at position t after token `prev` (prev = 0, the BOS, at t = 0), ignoring the
 * image; `mask[t][v] = false` forbids token v at position t (a per-position logits processor applied in both
 * sampling and re-scoring).
 */
export class TabularPolicy implements SequencePolicy {
  readonly params: Params;
  private readonly table: tf.Variable; // [L, V, V]
  private readonly maskAdd: Float32Array; // [L, V]: 0 or MASKED

  constructor(
    readonly vocabSize: number,
    readonly length: number,
    init: Float32Array,
    mask?: readonly (readonly boolean[])[],
  ) {
    this.table = tf.variable(tf.tensor3d(init, [length, vocabSize, vocabSize]));
    this.params = new Map([['table', this.table]]);
    this.maskAdd = new Float32Array(length * vocabSize);
    mask?.forEach((row, t) => row.forEach((ok, v) => (this.maskAdd[t * vocabSize + v] = ok ? 0 : MASKED)));
  }

  async sample(images: tf.Tensor4D, opts: SampleOptions): Promise<SampleResult> {
    const [b] = images.shape;
    const n = opts.numSamples;
    const l = this.length;
    const v = this.vocabSize;
    const table = await this.table.data();
    const temperature = opts.greedy ? 1 : (opts.temperature ?? 1);
    // Log-probabilities of every (t, prev) row once: the rows are few, the samples many.
    const rows: Float64Array[] = [];
    for (let t = 0; t < l; t++) {
      for (let p = 0; p < v; p++) {
        const logits = Array.from(
          { length: v },
          (_, k) => (table[(t * v + p) * v + k] + this.maskAdd[t * v + k]) / temperature,
        );
        rows.push(logSoftmaxRow(logits));
      }
    }
    const probs = rows.map((r) => r.map(Math.exp));
    const tokens = new Int32Array(b * n * l);
    const logProbs = new Float32Array(b * n * l);
    for (let s = 0; s < b * n; s++) {
      let prev = 0;
      for (let t = 0; t < l; t++) {
        const r = t * v + prev;
        let y: number;
        if (opts.greedy) y = argmax(rows[r]);
        else {
          if (!opts.rng) throw new Error('sampling needs an rng');
          y = draw(probs[r], opts.rng.next());
        }
        tokens[s * l + t] = y;
        logProbs[s * l + t] = rows[r][y];
        prev = y;
      }
    }
    return { batch: b, numSamples: n, length: l, tokens, logProbs };
  }

  logProbs(_images: tf.Tensor4D, tokens: tf.Tensor2D): tf.Tensor3D {
    const [b, l] = tokens.shape;
    const v = this.vocabSize;
    // Row t·V + prev of the (masked) table for every (b, t): the indices are data, not parameters, so they are
    // computed in JS; the selection is one-hot × matMul (no gather gradient), the mask folded into the small table.
    const tok = tokens.dataSync();
    const rowIdx = new Int32Array(b * l);
    for (let i = 0; i < b; i++)
      for (let t = 0; t < l; t++) rowIdx[i * l + t] = t * v + (t === 0 ? 0 : tok[i * l + t - 1]);
    return tf.tidy(() => {
      const masked = tf.add(this.table, tf.reshape(tf.tensor2d(this.maskAdd, [l, v]), [l, 1, v]));
      const picked = tf.matMul(tf.oneHot(tf.tensor1d(rowIdx, 'int32'), l * v), tf.reshape(masked, [l * v, v]));
      return tf.logSoftmax(tf.reshape(picked, [b, l, v])) as tf.Tensor3D;
    });
  }

  /** log P(y) of every sequence y = (y_0, …, y_{L−1}) in lexicographic order, [V^L], differentiable. */
  enumerateLogProbs(): tf.Tensor1D {
    const l = this.length;
    const v = this.vocabSize;
    const all = new Int32Array(v ** l * l);
    for (let i = 0; i < v ** l; i++) for (let t = 0; t < l; t++) all[i * l + t] = Math.floor(i / v ** (l - 1 - t)) % v;
    return tf.tidy(() => {
      const tokens = tf.tensor2d(all, [v ** l, l], 'int32');
      const lp = this.logProbs(tf.zeros([v ** l, 1, 1, 1]), tokens);
      return tf.sum(tf.mul(lp, tf.oneHot(tokens, v)), [1, 2]) as tf.Tensor1D;
    });
  }
}

/**
 * A conditional, non-autoregressive policy: images [B, 1, 1, F] are F features; tanh hidden layer of width D, then
 * L×V logits. Position t's distribution does not depend on earlier tokens, which keeps the toy's optimum obvious.
 */
export class FeaturePolicy implements SequencePolicy {
  readonly params: Params;

  constructor(
    readonly features: number,
    readonly hidden: number,
    readonly vocabSize: number,
    readonly length: number,
    rng: Rng,
  ) {
    const normal = (n: number, std: number) => Float32Array.from({ length: n }, () => rng.normal() * std);
    const out = length * vocabSize;
    this.params = new Map([
      [
        'hidden/kernel',
        tf.variable(tf.tensor2d(normal(features * hidden, 1 / Math.sqrt(features)), [features, hidden])),
      ],
      ['hidden/bias', tf.variable(tf.zeros([hidden]))],
      ['head/kernel', tf.variable(tf.tensor2d(normal(hidden * out, 0.1 / Math.sqrt(hidden)), [hidden, out]))],
      ['head/bias', tf.variable(tf.zeros([out]))],
    ]);
  }

  private forward(images: tf.Tensor4D): tf.Tensor3D {
    const p = (k: string) => this.params.get(k) as tf.Variable;
    return tf.tidy(() => {
      const x = tf.reshape(images, [images.shape[0], this.features]);
      const h = tf.tanh(tf.add(tf.matMul(x, p('hidden/kernel')), p('hidden/bias')));
      const logits = tf.add(tf.matMul(h, p('head/kernel')), p('head/bias'));
      return tf.logSoftmax(tf.reshape(logits, [images.shape[0], this.length, this.vocabSize])) as tf.Tensor3D;
    });
  }

  async sample(images: tf.Tensor4D, opts: SampleOptions): Promise<SampleResult> {
    const [b] = images.shape;
    const n = opts.numSamples;
    const l = this.length;
    const v = this.vocabSize;
    const lpT = this.forward(images);
    const lp = await lpT.data();
    lpT.dispose();
    const tokens = new Int32Array(b * n * l);
    const logProbs = new Float32Array(b * n * l);
    for (let i = 0; i < b; i++) {
      for (let t = 0; t < l; t++) {
        const row = lp.subarray((i * l + t) * v, (i * l + t + 1) * v);
        const probs = Array.from(row, Math.exp);
        for (let j = 0; j < n; j++) {
          let y: number;
          if (opts.greedy) y = argmax(row);
          else {
            if (!opts.rng) throw new Error('sampling needs an rng');
            y = draw(probs, opts.rng.next());
          }
          tokens[(i * n + j) * l + t] = y;
          logProbs[(i * n + j) * l + t] = row[y];
        }
      }
    }
    return { batch: b, numSamples: n, length: l, tokens, logProbs };
  }

  logProbs(images: tf.Tensor4D, _tokens: tf.Tensor2D): tf.Tensor3D {
    return this.forward(images);
  }
}

/** Wraps a policy so that its teacher-forced log-probs turn NaN once `poisoned` is set (for the non-finite guard). */
export class PoisonPolicy implements SequencePolicy {
  poisoned = false;
  constructor(private readonly inner: SequencePolicy) {}
  get params(): Params {
    return this.inner.params;
  }
  get vocabSize(): number {
    return this.inner.vocabSize;
  }
  get length(): number {
    return this.inner.length;
  }
  sample(images: tf.Tensor4D, opts: SampleOptions): Promise<SampleResult> {
    return this.inner.sample(images, opts);
  }
  logProbs(images: tf.Tensor4D, tokens: tf.Tensor2D): tf.Tensor3D {
    const lp = this.inner.logProbs(images, tokens);
    return this.poisoned ? tf.tidy(() => tf.mul(lp, NaN)) : lp;
  }
}

/**
 * An optimizer that applies nothing and records the gradients it is given (copied, by name); `frozen` names the
 * parameters it says it ignores (Optimizer.isFrozen).
 */
export class CaptureOptimizer implements Optimizer {
  readonly grads = new Map<string, Float32Array>();
  readonly step = 0;
  constructor(private readonly frozen: (name: string) => boolean = () => false) {}
  isFrozen(name: string): boolean {
    return this.frozen(name);
  }
  apply(_params: Params, grads: ReadonlyMap<string, tf.Tensor>): void {
    for (const [k, g] of grads) this.grads.set(k, (g.dataSync() as Float32Array).slice());
  }
  getState() {
    return { step: 0, tensors: new Map<string, tf.Tensor>() };
  }
  setState(): void {}
  dispose(): void {}
}

/** Adam (with bias correction, no weight decay) with a constant learning rate and named, restorable state. */
export class Adam implements Optimizer {
  private t = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    private readonly lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {}

  get step(): number {
    return this.t;
  }

  apply(params: Params, grads: ReadonlyMap<string, tf.Tensor>): void {
    this.t += 1;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    for (const [name, g] of grads) {
      const p = params.get(name);
      if (!p) continue;
      const m = this.slot(this.m, name, p);
      const v = this.slot(this.v, name, p);
      tf.tidy(() => {
        m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1)));
        v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)));
        p.assign(tf.sub(p, tf.mul(tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), this.eps)), this.lr)));
      });
    }
  }

  private slot(slots: Map<string, tf.Variable>, name: string, like: tf.Tensor): tf.Variable {
    let s = slots.get(name);
    if (!s) {
      s = tf.variable(tf.zerosLike(like), false);
      slots.set(name, s);
    }
    return s;
  }

  getState(): { readonly step: number; readonly tensors: ReadonlyMap<string, tf.Tensor> } {
    const tensors = new Map<string, tf.Tensor>();
    for (const [k, t] of this.m) tensors.set(`${k}/m`, t);
    for (const [k, t] of this.v) tensors.set(`${k}/v`, t);
    return { step: this.t, tensors };
  }

  setState(state: { readonly step: number; readonly tensors: ReadonlyMap<string, tf.Tensor> }): void {
    this.dispose();
    this.t = state.step;
    for (const [key, t] of state.tensors) {
      const slash = key.lastIndexOf('/');
      const target = key.slice(slash + 1) === 'm' ? this.m : this.v;
      target.set(key.slice(0, slash), tf.variable(tf.clone(t), false));
    }
  }

  dispose(): void {
    for (const s of [...this.m.values(), ...this.v.values()]) s.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/** An input of the toy matching task: F features in {−1, 1} and the L-token target they determine. */
export interface ToyExample {
  readonly features: Float32Array;
  readonly target: Int32Array;
}

/**
 * Target token t (vocabulary 4) = 2·[x_t > 0] + [x_{t+1 mod F} > 0]: a linearly separable function of the
 * features, so the FeaturePolicy can reach the optimum (reward L on every input).
 */
export function toyExample(features: Float32Array, length: number): ToyExample {
  const f = features.length;
  const target = Int32Array.from(
    { length },
    (_, t) => 2 * (features[t % f] > 0 ? 1 : 0) + (features[(t + 1) % f] > 0 ? 1 : 0),
  );
  return { features, target };
}

export function toyBatch(
  rng: Rng,
  batch: number,
  features: number,
  length: number,
): { images: tf.Tensor4D; examples: ToyExample[] } {
  const examples = Array.from({ length: batch }, () =>
    toyExample(
      Float32Array.from({ length: features }, () => (rng.next() < 0.5 ? -1 : 1)),
      length,
    ),
  );
  const data = new Float32Array(batch * features);
  examples.forEach((e, i) => data.set(e.features, i * features));
  return { images: tf.tensor4d(data, [batch, 1, 1, features]), examples };
}

function matches(tokens: Int32Array, target: Int32Array): number {
  let m = 0;
  for (let t = 0; t < target.length; t++) if (tokens[t] === target[t]) m++;
  return m;
}

/** The toy targets' vocabulary (toyExample). */
const TOY_VOCAB = 4;

/** The toy task's token values: [L, V] with 1 at each even position's target token, and which positions those are. */
function toyTokenValues(length: number, target: Int32Array): { values: Float32Array; enumerated: Uint8Array } {
  const values = new Float32Array(length * TOY_VOCAB);
  const enumerated = Uint8Array.from({ length }, (_, t) => (t % 2 === 0 ? 1 : 0));
  enumerated.forEach((e, t) => e && (values[t * TOY_VOCAB + target[t]] = 1));
  return { values, enumerated };
}

/** Reward: the number of positions that match the target; metric: token accuracy and exact-match rate. */
export const toyTask: Task<ToyExample, Int32Array, number> = {
  encodeTargets: (ex) => ex.target,
  decode: (tokens) => tokens.slice(),
  reward: (preds, ex, want) => ({
    rewards: Float64Array.from(preds, (p) => matches(p, ex.target)),
    aux: preds.map((p) => matches(p, ex.target)),
    // The match count splits over tokens: 1 where the token matches.
    tokenRewards: want?.tokenRewards
      ? preds.map((p) => Float64Array.from(p, (t, i) => (t === ex.target[i] ? 1 : 0)))
      : undefined,
    // Every token's worth at the even positions (1 for the target token), so `expected` mixes both kinds of position.
    tokenValues: want?.tokenValues ? preds.map((p) => toyTokenValues(p.length, ex.target)) : undefined,
  }),
  evaluate: (preds, exs) => {
    let tok = 0;
    let exact = 0;
    let total = 0;
    preds.forEach((p, i) => {
      const m = matches(p, exs[i].target);
      tok += m;
      total += exs[i].target.length;
      if (m === exs[i].target.length) exact++;
    });
    return { tokenAccuracy: tok / total, exactMatch: exact / preds.length };
  },
};
