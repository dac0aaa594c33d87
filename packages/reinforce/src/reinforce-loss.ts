/**
 * The tuning loss of one step (inside a gradient tape): the rows' tokens re-scored teacher-forced under the sampling
 * distribution, −A·log P (+ the exact expectation at enumerated tokens, + KL to a reference, + the task's auxiliary
 * loss). update.ts builds its inputs from a rollout.
 *
 * Dimension legend: R rows carrying the gradient, L sequence length, V vocabulary.
 */
import * as tf from '@tensorflow/tfjs-core';
import { scoreRows, type SequencePolicy } from '@reward-tune/core-model';
import { expectedValueLoss, klPenalty, policyGradientLoss, type PgReduction } from './losses';
import type { Task } from './task';

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
  const adv =
    input.advantages.length === r
      ? tf.tensor1d(Float32Array.from(input.advantages))
      : tf.tensor2d(Float32Array.from(input.advantages), [r, l]);
  // log softmax(z/T) = log softmax(log softmax(z)/T): the softmax forgets the shift. Masked tokens stay ≈ −∞.
  const t = input.temperature ?? 1;
  const sampledLogProbs = t === 1 ? logProbs : tf.logSoftmax(tf.div<tf.Tensor3D>(logProbs, t));
  let pg = policyGradientLoss(sampledLogProbs, input.tokens, adv, input.reduction);
  if (input.tokenValues)
    pg = tf.add(
      pg,
      expectedValueLoss(sampledLogProbs, tf.tensor3d(input.tokenValues, logProbs.shape), input.reduction),
    );
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
