/**
 * The contract between a sequence model and the training loops: what `reinforce` needs from a policy, whatever the
 * architecture behind it. Dimension legend: B batch, N samples per input, L sequence length, V vocabulary,
 * H×W×C image.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng';

/** Trainable parameters by big_vision-style name (e.g. `encoder/encoderblock_0/MlpBlock_0/Dense_0/kernel`). */
export type Params = Map<string, tf.Variable>;

export interface SampleOptions {
  /** N outputs per input. */
  readonly numSamples: number;
  /** Greedy (argmax) decoding; when true the other sampling options are ignored. */
  readonly greedy?: boolean;
  /** Softmax temperature (1 = the model's distribution; REINFORCE needs 1 and no truncation). */
  readonly temperature?: number;
  /** Keep only the k most likely tokens (0 = off). */
  readonly topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (0 or 1 = off). */
  readonly topP?: number;
  /** Source of the sampling randomness (unused when greedy). */
  readonly rng?: Rng;
}

export interface SampleResult {
  readonly batch: number;
  readonly numSamples: number;
  readonly length: number;
  /** [B, N, L] sampled token ids. */
  readonly tokens: Int32Array;
  /** [B, N, L] log-probability of each sampled token under the exact distribution it was drawn from. */
  readonly logProbs: Float32Array;
}

export interface SequencePolicy {
  readonly params: Params;
  readonly vocabSize: number;
  /** L, the fixed output length. */
  readonly length: number;

  /** Autoregressive sampling (no gradient). `images` [B, H, W, C] in [−1, 1]. */
  sample(images: tf.Tensor4D, opts: SampleOptions): Promise<SampleResult>;

  /**
   * Teacher-forced log-softmax [B, L, V] for target sequences `tokens` [B, L] (the model sees them shifted right
   * with 0), after the same logits processors the sampler applies, so that REINFORCE re-scores exactly the sampled
   * distribution. Differentiable with respect to `params`; masked-out tokens get a large negative finite value, not
   * −∞, so that losses weighting them by 0 stay finite.
   */
  logProbs(images: tf.Tensor4D, tokens: tf.Tensor2D): tf.Tensor3D;

  /**
   * `logProbs` with gradients reaching only the output layer, for an auxiliary loss that should be a read-out of
   * the policy's features rather than a force on them (detection's confidence loss). Optional.
   */
  headLogProbs?(images: tf.Tensor4D, tokens: tf.Tensor2D): tf.Tensor3D;

  /**
   * `logProbs` (and, with `head`, `headLogProbs`) of token rows that share images, in one pass: each image encoded
   * once and each row's decoder features computed once for both. Optional: `scoreRows` below does the same with
   * `logProbs` and `headLogProbs` for a policy without it.
   */
  scoreRows?(images: tf.Tensor4D, tokens: tf.Tensor2D, opts: RowScoring): RowScores;
}

export interface RowScoring {
  /** [R] the image (index into `images`) of each token row; absent: row r is image r. */
  readonly rowImages?: Int32Array;
  /** Also the head-only log-probs (SequencePolicy.headLogProbs) of the same rows. */
  readonly head?: boolean;
}

export interface RowScores {
  /** [R, L, V] as `logProbs` of the rows' images and tokens. */
  readonly logProbs: tf.Tensor3D;
  /** [R, L, V] as `headLogProbs` (with `head` only). */
  readonly headLogProbs?: tf.Tensor3D;
}

/**
 * Teacher-forced log-probs of token rows `tokens` [R, L] whose images are `images[rowImages[r]]`: the policy's own
 * `scoreRows` when it has one (a row's image encoded once however many rows share it), else `logProbs` and
 * `headLogProbs` of the gathered images.
 */
export function scoreRows(
  policy: SequencePolicy,
  images: tf.Tensor4D,
  tokens: tf.Tensor2D,
  opts: RowScoring = {},
): RowScores {
  if (policy.scoreRows) return policy.scoreRows(images, tokens, opts);
  const headLogProbs = policy.headLogProbs?.bind(policy);
  if (opts.head && !headLogProbs)
    throw new Error("auxLossScope 'head' (head-only log-probs) needs a policy with headLogProbs");
  return tf.tidy(() => {
    const rows = opts.rowImages ? tf.gather(images, tf.tensor1d(opts.rowImages, 'int32')) : images;
    const logProbs = policy.logProbs(rows, tokens);
    return opts.head && headLogProbs ? { logProbs, headLogProbs: headLogProbs(rows, tokens) } : { logProbs };
  });
}
