/**
 * The task contract: everything the training loops need to know about a task, in big_vision's three-function shape
 * (targets for the MLE loss, outputs from tokens, a score), plus the reward and the official metric. `reinforce`
 * sees nothing else of boxes, masks or captions.
 *
 * Dimension legend: B batch, N samples per input, L sequence length, V vocabulary, H×W×C image.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@reward-tune/core-model';
import type { RewardGives } from './estimators';

/** The rewards of the N samples of one example, and optional per-sample extras (e.g. detection's per-box IoU). */
export interface RewardResult<Aux = unknown> {
  /** [N] one reward per sample, in sample order. */
  readonly rewards: Float64Array;
  /** [N] one extra per sample, handed back to `auxLoss` for the samples that carry the gradient. */
  readonly aux?: readonly Aux[];
  /**
   * [N] × [L]: each sample's reward split over its tokens, for the `rtg` estimator: token t's entry may depend only
   * on the tokens up to t, and the entries sum to the sample's reward. A set reward can always be split so, as
   * R(first t tokens) − R(first t−1 tokens) (detection: per box slot). Tasks without it cannot use `rtg`.
   */
  readonly tokenRewards?: readonly Float64Array[];
  /**
   * [N], for the `expected` estimator: what each sample's own step would have collected had token t been v, every
   * other token of the sample as drawn. `values` [L, V]: row t holds one finite value per vocabulary token and is
   * read only where `enumerated[t]` is 1 (a token the logits processors forbid at t may hold any finite value).
   * A step's value is its entry of `tokenRewards` (detection: the box slot's increment); positions left out fall
   * back to reward to go.
   */
  readonly tokenValues?: readonly TokenValues[];
}

/** One sample's per-position, per-token values (RewardResult.tokenValues). */
export interface TokenValues {
  /** [L, V] */
  readonly values: Float32Array;
  /** [L] 1 where row t of `values` is given. */
  readonly enumerated: Uint8Array;
}

/** What the loop asks of `Task.reward` beyond the rewards. */
export interface RewardWants {
  readonly tokenRewards?: boolean;
  readonly tokenValues?: boolean;
}

/**
 * A task gives its MLE targets one example at a time (`encodeTargets`, plain JS) or a batch at a time on the backend
 * (`encodeTargetsBatch`), and decodes one sequence at a time (`decode`) or a batch of rows at once on the backend
 * (`decodeBatch`); where both are given, the batched one is used. UViM's tasks take the batched pair: the frozen
 * stage I oracle encodes the labels into stage II targets (code + 1) and decodes B·N sampled codes in one forward
 * pass. A reward computed from whole decoded outputs does not split over tokens, so such tasks cannot serve the
 * `rtg` and `expected` estimators (estimators.ts WHOLE_OUTPUT_REWARD).
 */
export interface Task<E, P, Aux = unknown> {
  /** The token sequence [L] the MLE loss teaches (`rng` for random target orderings, e.g. shuffled boxes). */
  encodeTargets?(example: E, rng: Rng): Int32Array;
  /**
   * The MLE targets of a whole batch, row-major [B·L], from its examples and its images [B, H, W, C] (e.g. UViM
   * stage II: the frozen oracle's code + 1 of the examples' labels, the images as its context). The loop awaits it;
   * the images stay the caller's. Used instead of `encodeTargets` when present.
   */
  encodeTargetsBatch?(examples: readonly E[], images: tf.Tensor4D, rng: Rng): Promise<Int32Array>;
  /**
   * Tokens per decision step (detection: the six tokens of a box slot; default 1), the unit of the `rtg`
   * estimator's discount (TuneConfig.discount).
   */
  readonly tokensPerStep?: number;
  /** Optional per-token MLE weights [L] for the targets just encoded (default: all 1). */
  targetWeights?(example: E, targets: Int32Array): Float32Array;
  /** One prediction from one token sequence [L]. */
  decode?(tokens: Int32Array, example: E): P;
  /**
   * The predictions of R token rows at once, on the backend: `tokens` [R·L] row-major, `examples` [R] and `images`
   * [R, H, W, C] the example and image of each row (an input's N samples repeat its example and image). The images
   * stay the caller's. Used instead of `decode` when present (rollouts, greedy evaluation, reward distributions).
   */
  decodeBatch?(tokens: Int32Array, examples: readonly E[], images: tf.Tensor4D): Promise<P[]>;
  /**
   * Rewards of the N predictions decoded from the N samples of one example; with `want.tokenRewards` (the `rtg` and
   * `expected` estimators) also their split over tokens, with `want.tokenValues` (`expected`) the values of the
   * tokens not drawn.
   */
  reward(predictions: readonly P[], example: E, want?: RewardWants): RewardResult<Aux>;
  /**
   * What `reward` can give beyond one number per sample, where a task says so itself. Absent: every estimator's
   * needs, except for a task with `decodeBatch`, whose rewards are taken as whole-output ones (WHOLE_OUTPUT_REWARD)
   * unless it gives this (UViM panoptic: a reward split over the code tokens by the image region each one decodes).
   */
  readonly rewardGives?: RewardGives;
  /** The official metric over a whole evaluation set (higher or lower is better per key; see the loop configs). */
  evaluate(predictions: readonly P[], examples: readonly E[]): Record<string, number>;
  /**
   * Optional auxiliary loss on the re-scored samples (detection's confidence head). `logProbs` [R, L, V] are the
   * teacher-forced log-probabilities of the R rows that carry the policy gradient, `sampledTokens` [R, L] those
   * rows' tokens, `aux` their per-sample extras from `reward`. Must be differentiable through `logProbs`; the loop
   * multiplies it by its configured weight.
   */
  auxLoss?(logProbs: tf.Tensor3D, sampledTokens: tf.Tensor2D, aux: readonly Aux[]): tf.Scalar;
}

/** Images as a tensor, or as raw [B, H, W, C] values with their shape. Values in [−1, 1] (big_vision range). */
export type ImageBatch =
  tf.Tensor4D | { readonly data: Float32Array; readonly shape: readonly [number, number, number, number] };

export interface Batch<E> {
  readonly images: ImageBatch;
  readonly examples: readonly E[];
}

/**
 * Training batches, drawn with the loop's own `rng` (whose state the checkpoint saves) so that a resumed run sees
 * the same batches as an uninterrupted one. `step` is the 0-based index of the update the batch is for. The loop
 * owns what the source returns: it disposes the batch's image tensor after the step.
 */
export type BatchSource<E> = (step: number, rng: Rng) => Batch<E>;

/** The batch's images as a tensor, and whether the caller created it (and so must dispose it). */
export function imagesTensor(images: ImageBatch): { readonly tensor: tf.Tensor4D; readonly owned: boolean } {
  if (images instanceof tf.Tensor) return { tensor: images, owned: false };
  const [b, h, w, c] = images.shape;
  if (images.data.length !== b * h * w * c) {
    throw new RangeError(`images has ${images.data.length} values, expected ${b}×${h}×${w}×${c}`);
  }
  return { tensor: tf.tensor4d(images.data, [b, h, w, c]), owned: true };
}

/** B, the number of examples in a batch, checked against the images. */
export function batchSize<E>(batch: Batch<E>): number {
  const b = batch.images instanceof tf.Tensor ? batch.images.shape[0] : batch.images.shape[0];
  if (b !== batch.examples.length) {
    throw new RangeError(`batch has ${b} images but ${batch.examples.length} examples`);
  }
  return b;
}

/**
 * The predictions of every sampled row of a batch: `tokens` [B·n·L] row-major, row r being sample r mod n of input
 * ⌊r/n⌋ (`images` [B, H, W, C], `examples` [B]). Through the task's `decodeBatch` when it has one (the rows' images
 * tiled from `images`), else `decode` row by row, in row order.
 */
export async function decodeRows<E, P, A>(
  task: Task<E, P, A>,
  tokens: Int32Array,
  length: number,
  images: tf.Tensor4D,
  examples: readonly E[],
  perInput: number,
): Promise<P[]> {
  const rows = examples.length * perInput;
  if (tokens.length !== rows * length)
    throw new RangeError(`${tokens.length} tokens for ${examples.length}×${perInput} rows of ${length}`);
  if (task.decodeBatch) {
    const owners = Int32Array.from({ length: rows }, (_, r) => Math.floor(r / perInput));
    const rowImages = perInput === 1 ? images : tf.tidy(() => tf.gather(images, owners));
    try {
      const preds = await task.decodeBatch(
        tokens,
        Array.from(owners, (i) => examples[i]),
        rowImages,
      );
      if (preds.length !== rows)
        throw new RangeError(`task.decodeBatch gave ${preds.length} predictions for ${rows} rows`);
      return preds;
    } finally {
      if (rowImages !== images) rowImages.dispose();
    }
  }
  if (!task.decode) throw new Error('the task has neither decode nor decodeBatch');
  const preds: P[] = [];
  for (let r = 0; r < rows; r++)
    preds.push(task.decode(tokens.slice(r * length, (r + 1) * length), examples[Math.floor(r / perInput)]));
  return preds;
}

/**
 * The MLE targets [B·L] of a batch's examples (and, when the task weights tokens, their weights [B·L]): the task's
 * `encodeTargetsBatch` when it has one, else `encodeTargets` example by example; every row checked to be `length`
 * long.
 */
export async function encodeTargetRows<E, P, A>(
  task: Task<E, P, A>,
  examples: readonly E[],
  images: tf.Tensor4D,
  length: number,
  rng: Rng,
): Promise<{ readonly targets: Int32Array; readonly weights?: Float32Array }> {
  const b = examples.length;
  const weights = task.targetWeights ? new Float32Array(b * length) : undefined;
  if (task.encodeTargetsBatch) {
    const targets = await task.encodeTargetsBatch(examples, images, rng);
    if (targets.length !== b * length)
      throw new RangeError(
        `task.encodeTargetsBatch gave ${targets.length} tokens for ${b} examples, the policy's length is ${length}`,
      );
    if (weights && task.targetWeights)
      for (let i = 0; i < b; i++)
        weights.set(task.targetWeights(examples[i], targets.slice(i * length, (i + 1) * length)), i * length);
    return { targets, weights };
  }
  if (!task.encodeTargets) throw new Error('the task has neither encodeTargets nor encodeTargetsBatch');
  const targets = new Int32Array(b * length);
  examples.forEach((ex, i) => {
    const t = task.encodeTargets!(ex, rng);
    if (t.length !== length)
      throw new RangeError(`task.encodeTargets gave ${t.length} tokens, the policy's length is ${length}`);
    targets.set(t, i * length);
    if (weights && task.targetWeights) weights.set(task.targetWeights(ex, t), i * length);
  });
  return { targets, weights };
}
