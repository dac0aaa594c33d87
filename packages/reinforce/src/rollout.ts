/**
 * The rollout half of a tuning step: N samples per input at temperature T (no truncation), each decoded (one
 * sequence at a time, or all B·N rows in one batch on the backend: Task.decodeBatch) and rewarded by the task, plus
 * what the estimator needs beyond the rewards (estimators.ts `RolloutNeeds`: the greedy output's reward, the task's
 * per-token split of each reward, the values of the tokens not drawn). Also the reward distribution of T=1 samples
 * that a tuning run logs before and after.
 *
 * Dimension legend: B batch, N samples per input, L sequence length, V vocabulary.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { Rng, type RngState, type SequencePolicy } from '@reward-tune/core-model';
import type { RolloutNeeds } from './estimators';
import { batchSize, decodeRows, imagesTensor, type Batch, type Task } from './task';

export interface ScoredSamples<A> {
  /** [B, N, L] */
  readonly tokens: Int32Array;
  readonly length: number;
  /** [B, N] */
  readonly rewards: Float64Array;
  /** [B·N] per-sample aux from the reward (undefined where the task gives none). */
  readonly aux: (A | undefined)[];
  /** [B] reward of each input's greedy output (needs.greedy). */
  readonly greedyRewards?: Float64Array;
  /** [B, N, L] the task's per-token split of each reward (needs.tokenRewards). */
  readonly tokenRewards?: Float64Array;
  /** needs.tokenValues: the task's token values [B, N, L, V] and which positions it enumerated [B, N, L]. */
  readonly tokenValues?: { readonly values: Float32Array; readonly enumerated: Uint8Array; readonly vocab: number };
  /** [B, N, L] the sampler's log-probability of each drawn token (the behaviour policy's, for importance weights). */
  readonly logProbs?: Float32Array;
}

/** N samples per input at temperature T without truncation, decoded and rewarded, with what `needs` asks for. */
export async function sampleAndReward<E, P, A>(
  policy: SequencePolicy,
  task: Task<E, P, A>,
  images: tf.Tensor4D,
  examples: readonly E[],
  n: number,
  needs: Partial<RolloutNeeds>,
  rng: Rng,
  temperature = 1,
): Promise<ScoredSamples<A>> {
  const b = examples.length;
  const sampled = await policy.sample(images, { numSamples: n, temperature, topK: 0, topP: 0, rng });
  const l = sampled.length;
  const rewards = new Float64Array(b * n);
  const aux: (A | undefined)[] = new Array(b * n);
  const tokenRewards = needs.tokenRewards ? new Float64Array(b * n * l) : undefined;
  let tokenValues: ScoredSamples<A>['tokenValues'];
  const decoded = await decodeRows(task, sampled.tokens, l, images, examples, n);
  for (let i = 0; i < b; i++) {
    const ex = examples[i];
    const preds = decoded.slice(i * n, (i + 1) * n);
    const r = task.reward(preds, ex, { tokenRewards: needs.tokenRewards, tokenValues: needs.tokenValues });
    if (r.rewards.length !== n)
      throw new RangeError(`task.reward returned ${r.rewards.length} rewards for ${n} samples`);
    rewards.set(r.rewards, i * n);
    for (let j = 0; j < n; j++) aux[i * n + j] = r.aux?.[j];
    if (tokenRewards) {
      if (r.tokenRewards?.length !== n || r.tokenRewards.some((t) => t.length !== l)) {
        throw new RangeError(`the rtg estimator needs task.reward to return tokenRewards: ${n} arrays of ${l} values`);
      }
      r.tokenRewards.forEach((t, j) => tokenRewards.set(t, (i * n + j) * l));
    }
    if (needs.tokenValues) {
      const given = r.tokenValues;
      const vocab = given?.[0] ? given[0].values.length / l : 0;
      if (
        given?.length !== n ||
        !(vocab >= 1 && Number.isInteger(vocab)) ||
        given.some((t) => t.values.length !== l * vocab || t.enumerated.length !== l)
      ) {
        throw new RangeError(
          `the expected estimator needs task.reward to return tokenValues: ${n} of [${l}, V] values and [${l}] flags`,
        );
      }
      tokenValues ??= { values: new Float32Array(b * n * l * vocab), enumerated: new Uint8Array(b * n * l), vocab };
      for (let j = 0; j < n; j++) {
        const row = i * n + j;
        tokenValues.enumerated.set(given[j].enumerated, row * l);
        // Only the enumerated positions: the loss sums over every [L, V] entry (expectedValueLoss).
        for (let t = 0; t < l; t++)
          if (given[j].enumerated[t])
            tokenValues.values.set(given[j].values.subarray(t * vocab, (t + 1) * vocab), (row * l + t) * vocab);
      }
    }
  }
  if (!needs.greedy)
    return { tokens: sampled.tokens, length: l, rewards, aux, tokenRewards, tokenValues, logProbs: sampled.logProbs };
  const g = await policy.sample(images, { numSamples: 1, greedy: true });
  const greedy = await decodeRows(task, g.tokens, l, images, examples, 1);
  const greedyRewards = new Float64Array(b);
  for (let i = 0; i < b; i++) greedyRewards[i] = task.reward([greedy[i]], examples[i]).rewards[0];
  return {
    tokens: sampled.tokens,
    length: l,
    rewards,
    aux,
    greedyRewards,
    tokenRewards,
    tokenValues,
    logProbs: sampled.logProbs,
  };
}

/** Rewards of T=1 samples of every held-out example, from an RNG of its own. */
export async function sampleRewardDistribution<E, P, A>(
  policy: SequencePolicy,
  task: Task<E, P, A>,
  heldOut: readonly Batch<E>[],
  samplesPerExample: number,
  rng: Rng,
): Promise<Float64Array> {
  const out: number[] = [];
  for (const batch of heldOut) {
    const b = batchSize(batch);
    const img = imagesTensor(batch.images);
    try {
      const s = await policy.sample(img.tensor, {
        numSamples: samplesPerExample,
        temperature: 1,
        topK: 0,
        topP: 0,
        rng,
      });
      const decoded = await decodeRows(task, s.tokens, s.length, img.tensor, batch.examples, samplesPerExample);
      for (let i = 0; i < b; i++) {
        const preds = decoded.slice(i * samplesPerExample, (i + 1) * samplesPerExample);
        out.push(...task.reward(preds, batch.examples[i]).rewards);
      }
    } finally {
      if (img.owned) img.tensor.dispose();
    }
  }
  return Float64Array.from(out);
}

/** `jobRng`'s stream of a step's batch draw (the shards' streams are 0, 1, …). */
export const BATCH_STREAM = 0xffffffff;
/** `jobRng`'s stream of the auxiliary warm-up (TuneConfig.auxWarmup), at step 0. */
export const WARMUP_STREAM = 0xfffffffe;

/**
 * An RNG of its own for one piece of one update (TuneConfig.seedDerivation 'per-job'): the batch draw of update
 * `step` (stream BATCH_STREAM) or the sampling of its shard `stream`, derived from the run's RNG state `base` by
 * hashing (splitmix32 rounds over the state words, the step and the stream). So every piece is a function of the
 * run seed alone, whichever process draws it and in whatever order: the tuning run's updates do not depend on how
 * the sampling is spread out.
 */
export function jobRng(base: RngState, step: number, stream: number): Rng {
  if (!(Number.isSafeInteger(step) && step >= 0))
    throw new RangeError(`step must be a non-negative integer, got ${step}`);
  if (!(Number.isInteger(stream) && stream >= 0 && stream <= 0xffffffff))
    throw new RangeError(`stream must be a uint32, got ${stream}`);
  let x = 0;
  const mix = (w: number): number => {
    x = (x + 0x9e3779b9 + (w >>> 0)) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  for (const w of [...base, step % 2 ** 32, Math.floor(step / 2 ** 32), stream]) x = mix(w);
  const state = [mix(0), mix(0), mix(0), mix(0)];
  if (!state.some((w) => w !== 0)) state[0] = 1; // xoshiro's one forbidden state
  return Rng.fromState(state as unknown as RngState);
}
