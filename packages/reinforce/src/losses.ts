/**
 * The differentiable losses of the two loops, over teacher-forced log-probabilities [R, L, V] (R rows: the batch for
 * MLE, the rows that carry the policy gradient for tuning). Token selection uses one-hot products rather than
 * `tf.gather`, whose gradient needs a kernel the wasm backend lacks.
 *
 * Dimension legend: R rows, L sequence length, V vocabulary.
 */
import * as tf from '@tensorflow/tfjs-core';
import { pickOneHot } from '@reward-tune/core-model';

/** [R, L] log-probability of each given token: Σ_v onehot(tokens)·logProbs. */
export function selectTokenLogProbs(logProbs: tf.Tensor3D, tokens: tf.Tensor2D): tf.Tensor2D {
  const [r, l, v] = logProbs.shape;
  assertShape(tokens.shape, [r, l], 'tokens');
  // pickOneHot: tf.sum's own gradient would fill ones([R, L, V]) on the CPU and upload them every step.
  return tf.tidy(() => pickOneHot(logProbs, tf.oneHot(tf.cast(tokens, 'int32'), v)) as tf.Tensor2D);
}

export interface XentOptions {
  /** [R, L] per-token weights (e.g. 0 on padding); default all 1. */
  readonly weights?: tf.Tensor2D;
  /** ε: the target puts 1−ε on the label and ε/(V−1) on every other token. */
  readonly labelSmoothing?: number;
}

/**
 * Teacher-forced cross-entropy with big_vision's `weighted_softmax_xent(normalize=True)` reduction:
 * per token ℓ = −Σ_v target_v·logp_v, times its weight; summed over the sequence and divided by the sequence's
 * weight sum (by L when unweighted), so each sequence's loss is its weighted mean token loss; then the mean over R.
 * With label smoothing the ε/(V−1) mass also lands on tokens a logits processor masked (logp ≈ −1e9), which makes
 * the loss huge: use smoothing only with policies that do not mask.
 */
export function weightedSoftmaxXent(logProbs: tf.Tensor3D, targets: tf.Tensor2D, opts: XentOptions = {}): tf.Scalar {
  const [r, l, v] = logProbs.shape;
  assertShape(targets.shape, [r, l], 'targets');
  if (opts.weights) assertShape(opts.weights.shape, [r, l], 'weights');
  const eps = opts.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps < 1)) throw new RangeError(`labelSmoothing must be in [0, 1), got ${eps}`);
  return tf.tidy(() => {
    // The one-hot is made 0/1 in int32 and then scaled: wasm's OneHot writes its on/off values into an int32 tensor
    // (a fractional 0.7 becomes 0) and its float32 variant writes integer bit patterns (docs/runtime.md).
    const hard = tf.oneHot(tf.cast(targets, 'int32'), v);
    const offValue = v > 1 ? eps / (v - 1) : 0;
    const soft = eps === 0 ? hard : tf.add(tf.mul(tf.cast(hard, 'float32'), 1 - eps - offValue), offValue);
    let perToken = tf.neg(tf.sum(tf.mul(soft, logProbs), -1)); // [R, L]
    let norm: tf.Tensor = tf.scalar(l);
    if (opts.weights) {
      perToken = tf.mul(perToken, opts.weights);
      // big_vision clips the normaliser at 2e-38; that underflows float32's normal range, so 1e-30 here.
      norm = tf.maximum(tf.sum(opts.weights, 1), 1e-30); // [R]
    }
    return tf.mean(tf.div(tf.sum(perToken, 1), norm)) as tf.Scalar;
  });
}

/**
 * How the policy-gradient loss is reduced over tokens:
 * - `token` (big_vision detection, the default): −A·logp(y_t) averaged over all R×L token positions, so the gradient
 *   is (1/L)·∇E[R] per row, padding positions included.
 * - `sequence`: −A·Σ_t logp(y_t) averaged over the R rows, the textbook REINFORCE gradient ∇E[R] per row.
 * The two differ by the constant factor L; the choice only rescales the learning rate.
 */
export type PgReduction = 'token' | 'sequence';

/**
 * REINFORCE surrogate −A·log P(y): its gradient is −A·∇log P(y). `advantages` are constants (no gradient flows into
 * them): [R], one per row, or [R, L], one per token (the `rtg` estimator: −Σ_t A_t·log π(y_t | y_<t)).
 */
export function policyGradientLoss(
  logProbs: tf.Tensor3D,
  tokens: tf.Tensor2D,
  advantages: tf.Tensor1D | tf.Tensor2D,
  reduction: PgReduction,
): tf.Scalar {
  const [r, l] = logProbs.shape;
  if (advantages.rank === 1) assertShape(advantages.shape, [r], 'advantages');
  else assertShape(advantages.shape, [r, l], 'advantages');
  return tf.tidy(() => {
    const tokenLp = selectTokenLogProbs(logProbs, tokens); // [R, L]
    const weighted = tf.mul(tokenLp, advantages.rank === 1 ? tf.reshape(advantages, [r, 1]) : advantages);
    const perRow = tf.sum(weighted, 1); // [R]
    const scale = reduction === 'token' ? r * l : r;
    return tf.div(tf.neg(tf.sum(perRow)), scale) as tf.Scalar;
  });
}

/**
 * The `expected` estimator's surrogate at the positions a task enumerates: −Σ_v π(v)·Q(v), Q constants [R, L, V]
 * (0 at positions not enumerated, which then add nothing). Its gradient at position t is −Σ_v ∇π(v)·Q(v), the
 * exact expectation over token t of what `policyGradientLoss` estimates from the one token drawn there; Q's level
 * at a position does not matter (Σ_v ∇π(v) = 0), so it needs no baseline. Reduced as `policyGradientLoss` is, so
 * that the two add up to one estimator.
 */
export function expectedValueLoss(logProbs: tf.Tensor3D, values: tf.Tensor3D, reduction: PgReduction): tf.Scalar {
  const [r, l] = logProbs.shape;
  assertShape(values.shape, logProbs.shape, 'values');
  return tf.tidy(() => {
    const scale = reduction === 'token' ? r * l : r;
    return tf.div(tf.neg(tf.sum(tf.mul(tf.exp(logProbs), values))), scale) as tf.Scalar;
  });
}

/**
 * Per-token KL penalty to a frozen reference on the sampled tokens, with the non-negative "k3" estimator
 * k3 = exp(Δ) − Δ − 1, Δ = log π_ref(y_t) − log π_θ(y_t), averaged over R×L. Its expectation under π_θ is
 * KL(π_θ‖π_ref) per token; its gradient pulls π_θ towards π_ref. Δ is clipped to ±20 so that a token the reference
 * finds very unlikely cannot overflow the exponential. `refLogProbs` [R, L] are constants.
 */
export function klPenalty(logProbs: tf.Tensor3D, tokens: tf.Tensor2D, refTokenLogProbs: tf.Tensor2D): tf.Scalar {
  const [r, l] = logProbs.shape;
  assertShape(refTokenLogProbs.shape, [r, l], 'refTokenLogProbs');
  return tf.tidy(() => {
    const delta = tf.clipByValue(tf.sub(refTokenLogProbs, selectTokenLogProbs(logProbs, tokens)), -20, 20);
    return tf.mean(tf.sub(tf.sub(tf.exp(delta), delta), 1)) as tf.Scalar;
  });
}

function assertShape(actual: readonly number[], expected: readonly number[], name: string): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new RangeError(`${name} has shape [${actual.join(', ')}], expected [${expected.join(', ')}]`);
  }
}
