/**
 * The tuning loss of one step (inside a gradient tape): the rows' tokens re-scored teacher-forced under the sampling
 * distribution, −A·log P (+ the exact expectation at enumerated tokens, + KL to a reference, + the task's auxiliary
 * loss), the policy-gradient terms optionally weighted per row by a truncated importance weight computed from the same
 * pass. update.ts builds its inputs from a rollout.
 *
 * Dimension legend: R rows carrying the gradient, L sequence length, V vocabulary.
 */
import * as tf from '@tensorflow/tfjs-core';
import { customOp, scoreRows, type SequencePolicy } from '@reward-tune/core-model';
import { expectedValueLoss, klPenalty, policyGradientLoss, selectTokenLogProbs, type PgReduction } from './losses';
import type { TuneSection } from './config-sections';
import type { Task } from './task';

/** One importance weight per row or per token: the names `tune.sampler.importance` takes (see ImportanceInput). */
export type ImportancePer = TuneSection['sampler']['importance'];

/**
 * Truncated importance weights for rows drawn by an older policy μ (distributed tuning's staleness ≥ 1), π_T the
 * loss's own scores at the sampling temperature, so no second pass scores the rows; the weights are constants of the
 * loss: no gradient flows through them (importanceRatios). Per `per`:
 * - `sequence` (default): row r's policy-gradient terms (its advantages and the `expected` estimator's token values)
 *   are multiplied by w_r = min(c, π_T(y_r)/μ(y_r)) of its whole sequence: unbiased up to the clip, but the product of
 *   L token ratios spreads (and is clipped) more the longer the sequence and the more the policy moved.
 * - `token`: each token's advantage is multiplied by its own w_rt = min(c, π_T(y_t | y_<t)/μ(y_t | y_<t)), and the
 *   `expected` estimator's token values are left as they are (their exact expectation over token t is already taken
 *   under π). The shift of the prefix's distribution is ignored: a first-order correction (as PPO's per-token ratio),
 *   exact as μ → π, with far less spread than the sequence's product.
 */
export interface ImportanceInput {
  /**
   * [R, L] the sampler's log-probability of each token, log μ(y_t | y_<t) (ScoredSamples.logProbs). Per token, not
   * summed: the ratio's log Σ_t (log π_T − log μ) is summed in float32, and the difference of nearly equal terms
   * taken token by token stays exact where a difference of two long sums would not.
   */
  readonly behaviourLogProbs: Float32Array;
  /** c, the clip of the weight. */
  readonly clip: number;
  /** One weight per row (`sequence`, the default) or per token (`token`); see above. */
  readonly per?: ImportancePer;
  /**
   * Receives the ratios before clipping (the weights are min(c, ratio)): the rows' π_T(y)/μ(y) [R], or with `token`
   * every token's [R·L], row-major; kept out of the loss's scope: the receiver reads and disposes it.
   */
  readonly report?: (ratios: tf.Tensor1D) => void;
}

export interface ReinforceLossInput<A> {
  /** [B, H, W, C] the rows' images. */
  readonly images: tf.Tensor4D;
  /** [R] the image of each row (index into `images`); absent: row r is image r. */
  readonly rowImages?: Int32Array;
  /** [R, L] the sampled tokens of each row. */
  readonly tokens: tf.Tensor2D;
  /** [R] advantages, or [R, L] (one per token, `rtg` and `expected`). */
  readonly advantages: Float64Array;
  /** [R, L, V] `expected` only: the enumerated tokens' values, 0 at the positions not enumerated. */
  readonly tokenValues?: Float32Array;
  readonly reduction: PgReduction;
  /** The temperature the rows were sampled at (TuneConfig.temperature; default 1). */
  readonly temperature?: number;
  /** Importance weights of the rows (see ImportanceInput); absent: every weight 1 (on-policy samples). */
  readonly importance?: ImportanceInput;
  /** [R, L] log π_ref of the tokens, with its weight. */
  readonly kl?: { readonly coef: number; readonly refTokenLogProbs: tf.Tensor2D };
  readonly aux?: {
    readonly weight: number;
    readonly loss: NonNullable<Task<unknown, unknown, A>['auxLoss']>;
    readonly values: readonly A[];
    /** Score the rows again with gradients to the output layer only (TuneConfig.auxLossScope 'head'). */
    readonly headOnly?: boolean;
  };
}

/**
 * The tuning loss of one step, to call inside a gradient tape: re-scores the rows' tokens teacher-forced (the same
 * logits processors as the sampler) and adds the optional KL and auxiliary terms. Named terms go into `terms`.
 */
export function reinforceLoss<A>(
  policy: SequencePolicy,
  input: ReinforceLossInput<A>,
  terms: Record<string, tf.Scalar> = {},
): tf.Scalar {
  // One pass for both where the policy can: each image encoded once, the head-only aux log-probs from the same
  // features.
  const head = input.aux !== undefined && input.aux.weight > 0 && input.aux.headOnly === true;
  const scores = scoreRows(policy, input.images, input.tokens, { rowImages: input.rowImages, head });
  const logProbs = scores.logProbs; // [R, L, V]
  const [r, l] = input.tokens.shape;
  // log softmax(z/T) = log softmax(log softmax(z)/T): the softmax forgets the shift. Masked tokens stay ≈ −∞.
  const t = input.temperature ?? 1;
  const sampledLogProbs = t === 1 ? logProbs : tf.logSoftmax(tf.div<tf.Tensor3D>(logProbs, t));
  let adv =
    input.advantages.length === r
      ? tf.tensor1d(Float32Array.from(input.advantages))
      : tf.tensor2d(Float32Array.from(input.advantages), [r, l]);
  let values = input.tokenValues && tf.tensor3d(input.tokenValues, logProbs.shape);
  if (input.importance?.per === 'token') {
    // [R, L] weights, constants of the loss: each token's advantage times its own; the token values stay.
    const w = importanceWeights(sampledLogProbs, input.tokens, input.importance);
    adv = tf.mul(adv.rank === 1 ? tf.reshape(adv, [r, 1]) : adv, w);
  } else if (input.importance) {
    // [R] weights, constants of the loss: each row's advantages and token values times its own.
    const w = importanceWeights(sampledLogProbs, input.tokens, input.importance);
    adv = tf.mul(adv, adv.rank === 1 ? w : tf.reshape(w, [r, 1]));
    if (values) values = tf.mul<tf.Tensor3D>(values, tf.reshape(w, [r, 1, 1]));
  }
  let pg = policyGradientLoss(sampledLogProbs, input.tokens, adv, input.reduction);
  if (values) pg = tf.add(pg, expectedValueLoss(sampledLogProbs, values, input.reduction));
  terms.pgLoss = pg;
  let loss: tf.Scalar = pg;
  if (input.kl && input.kl.coef > 0) {
    const kl = klPenalty(logProbs, input.tokens, input.kl.refTokenLogProbs);
    terms.kl = kl;
    loss = tf.add(loss, tf.mul(kl, input.kl.coef));
  }
  if (input.aux && input.aux.weight > 0) {
    const aux = input.aux.loss(scores.headLogProbs ?? logProbs, input.tokens, input.aux.values);
    terms.auxLoss = aux;
    loss = tf.add(loss, tf.mul(aux, input.aux.weight));
  }
  return loss;
}

/**
 * The truncated importance weights min(c, π_T/μ) from the loss's own sampled-token log-probs, as a constant of the
 * loss: [R] of whole sequences, or [R, L] of single tokens with `per` 'token'; the unclipped ratios go to
 * `importance.report`.
 */
function importanceWeights(sampledLogProbs: tf.Tensor3D, tokens: tf.Tensor2D, importance: ImportanceInput): tf.Tensor {
  const [r, l] = tokens.shape;
  if (importance.behaviourLogProbs.length !== r * l)
    throw new RangeError(
      `importance: ${importance.behaviourLogProbs.length} behaviour log-probs for [${r}, ${l}] tokens`,
    );
  const perToken = importance.per === 'token';
  const behaviour = tf.tensor2d(importance.behaviourLogProbs, [r, l]);
  const ratios = importanceRatios(sampledLogProbs, tokens, behaviour, perToken);
  if (importance.report) importance.report(tf.keep(tf.reshape(ratios, [-1]) as tf.Tensor1D));
  return tf.minimum(ratios, importance.clip);
}

/**
 * exp(Σ_t (log π_T(y_t) − log μ(y_t))) [R], or per token exp(log π_T(y_t) − log μ(y_t)) [R, L], with no gradient to
 * anything (tfjs-core has no stopGradient): one custom op whose only input is the constant `behaviour` [R, L]. The
 * ops inside a custom op's forward are not recorded on the gradient tape, and the log-probs [R, L, V] enter by
 * closure, not as an input, so the tape sees a node that depends on no parameter: backpropagation never reaches it
 * (its zero backward is never run), and everything made from its output (the weights, the weighted advantages) is as
 * constant as the advantages themselves.
 */
function importanceRatios(
  logProbs: tf.Tensor3D,
  tokens: tf.Tensor2D,
  behaviour: tf.Tensor2D,
  perToken: boolean,
): tf.Tensor {
  return customOp(
    (mu: tf.Tensor) => {
      const logRatios = tf.sub(selectTokenLogProbs(logProbs, tokens), mu);
      return { value: tf.exp(perToken ? logRatios : tf.sum(logRatios, 1)), saved: [] };
    },
    () => [tf.zerosLike(behaviour)],
  )(behaviour);
}
