/**
 * The REINFORCE estimators as one table: each estimator's name, what it needs from a rollout, the fewest samples per
 * input it works with, whether its advantages may be normalised, and how it turns a step's scored samples into the
 * rows that carry the gradient and their advantages. The config schema (config-sections.ts), the rollout
 * (rollout.ts), the update (update.ts) and a task's refusal of an estimator all read this table; nothing else
 * tells the estimators apart. docs/method.md derives each one.
 *
 * - `paper` (default, big_vision detection_reward.py): only sample 0 of each input; baseline = mean reward of the
 *   other N−1 samples; advantage not normalised (the paper's loss averages over all B×L token positions).
 * - `rloo`: all N samples, each against the mean of the other N−1.
 * - `greedy` (self-critical): all N samples, each against the reward of the input's greedy output.
 * - `rtg` (reward to go): all N samples, one advantage per token: the reward the sample collects from that token on
 *   (the task splits it over tokens, `RewardResult.tokenRewards`), against the same quantity's mean over the other
 *   N−1 samples (advantages.ts). A token's gradient no longer carries the outcome of what was drawn before it.
 * - `expected`: `rtg`, except at the positions where the task gives the value of every token
 *   (`RewardResult.tokenValues`: what the sample's own step would collect had that token been drawn instead, the
 *   rest of the sample as drawn). There the gradient is the exact expectation over the token, Σ_v ∇π(v)·Q(v)
 *   (losses.ts `expectedValueLoss`), instead of one drawn token's (Q(y) − baseline)·∇log π(y): no sampling noise
 *   from that token at all. A biased, lower-variance per-token estimator, biased three ways: a token is credited
 *   only with its own step's value (as `rtg` at discount 0); the step's later tokens stay as drawn rather than
 *   following it; and where a position is valued in some samples only (detection's box-or-null decision), exact and
 *   sampled terms mix. Its bias and variance where the token is not its step's last: estimators.bias.spec.ts.
 * The first four baselines are independent of the sample they are subtracted from, so those four are unbiased
 * (`rtg` at its default discount 1; a smaller one trades bias for less noise).
 *
 * Dimension legend: B batch, N samples per input, R rows carrying the gradient, L sequence length.
 */
import { paperAdvantages, rewardToGoAdvantages, rlooAdvantages } from './advantages';

/** The estimator names, in the order the config and the docs list them. */
export const ESTIMATORS = ['paper', 'rloo', 'greedy', 'rtg', 'expected'] as const;
export type Estimator = (typeof ESTIMATORS)[number];

/** What a rollout collects beside each sample's reward (Task.reward's `want`, plus the greedy outputs' rewards). */
export interface RolloutNeeds {
  /** The reward of each input's greedy output. */
  readonly greedy: boolean;
  /** Each sample's reward split over its tokens (RewardResult.tokenRewards). */
  readonly tokenRewards: boolean;
  /** The values of the tokens not drawn (RewardResult.tokenValues). */
  readonly tokenValues: boolean;
}

/** What a task's reward can give beyond one number per sample; absent fields are taken as given. */
export interface RewardGives {
  readonly tokenRewards?: boolean;
  readonly tokenValues?: boolean;
  /** Why not, for the refusal message (e.g. `CIDEr-D does not split over tokens`). */
  readonly why?: string;
}

/** A step's scored samples as the estimators read them. */
export interface ScoredRewards {
  /** [B, N] */
  readonly rewards: Float64Array;
  readonly batch: number;
  readonly samples: number;
  /** [B] the greedy outputs' rewards (needs.greedy). */
  readonly greedyRewards?: Float64Array;
  /** needs.tokenRewards: [B, N, L] per-token rewards and how reward to go discounts them. */
  readonly tokenRewards?: {
    readonly values: Float64Array;
    readonly length: number;
    readonly discount?: number;
    readonly tokensPerStep?: number;
    /** [B, N, L] needs.tokenValues: 1 where the task enumerated the token's values. */
    readonly enumerated?: Uint8Array;
  };
}

export interface EstimatorSpec {
  readonly needs: RolloutNeeds;
  /** The fewest samples per input (a leave-one-out baseline needs another sample of the same input). */
  readonly minSamples: number;
  /**
   * Whether the step's advantages may be centred and scaled (normalizeAdvantages). Not `expected`'s: that would
   * rescale the drawn tokens' advantages but not the enumerated tokens' values beside them.
   */
  readonly normalizable: boolean;
  /** Which samples carry the gradient: sample 0 of each input (row b is input b), or every one (row i is sample i). */
  readonly rows: 'first' | 'every';
  /** The rows' advantages: [R], or [R, L] (one per token). */
  advantages(s: ScoredRewards): Float64Array;
}

const NEEDS_NOTHING: RolloutNeeds = { greedy: false, tokenRewards: false, tokenValues: false };

function rewardToGo(estimator: Estimator, s: ScoredRewards): Float64Array {
  const t = s.tokenRewards;
  if (!t)
    throw new RangeError(
      `the ${estimator} estimator needs per-token rewards (the task's reward must return tokenRewards)`,
    );
  return rewardToGoAdvantages(t.values, s.batch, s.samples, t.length, t.discount, t.tokensPerStep);
}

export const ESTIMATOR_SPECS: Readonly<Record<Estimator, EstimatorSpec>> = {
  paper: {
    needs: NEEDS_NOTHING,
    minSamples: 2,
    normalizable: true,
    rows: 'first',
    advantages: (s) => paperAdvantages(s.rewards, s.batch, s.samples),
  },
  rloo: {
    needs: NEEDS_NOTHING,
    minSamples: 2,
    normalizable: true,
    rows: 'every',
    advantages: (s) => rlooAdvantages(s.rewards, s.batch, s.samples),
  },
  greedy: {
    needs: { ...NEEDS_NOTHING, greedy: true },
    minSamples: 1,
    normalizable: true,
    rows: 'every',
    advantages: ({ rewards, batch, samples, greedyRewards }) => {
      if (!greedyRewards || greedyRewards.length !== batch)
        throw new RangeError(`greedy estimator needs ${batch} greedy rewards`);
      if (rewards.length !== batch * samples)
        throw new RangeError(`rewards has ${rewards.length} values, expected ${batch}×${samples}`);
      const adv = new Float64Array(batch * samples);
      for (let i = 0; i < adv.length; i++) adv[i] = rewards[i] - greedyRewards[Math.floor(i / samples)];
      return adv;
    },
  },
  rtg: {
    needs: { ...NEEDS_NOTHING, tokenRewards: true },
    minSamples: 2,
    normalizable: true,
    rows: 'every',
    advantages: (s) => rewardToGo('rtg', s),
  },
  expected: {
    needs: { greedy: false, tokenRewards: true, tokenValues: true },
    minSamples: 2,
    normalizable: false,
    rows: 'every',
    advantages: (s) => {
      const advantages = rewardToGo('expected', s);
      const enumerated = s.tokenRewards?.enumerated;
      if (enumerated?.length !== advantages.length) {
        throw new RangeError(
          `the expected estimator needs ${advantages.length} enumerated flags, got ${enumerated?.length}`,
        );
      }
      // The exact expectation replaces the drawn token's term at the enumerated positions (update.ts).
      enumerated.forEach((e, i) => e && (advantages[i] = 0));
      return advantages;
    },
  },
};

/**
 * The rows [R] (indices into the flattened B×N samples) that carry the gradient, and their advantages: [R], or
 * [R, L] (one per token) for `rtg` and `expected` (0 where `expected` takes the exact expectation instead).
 */
export interface GradientRows {
  readonly rows: Int32Array;
  readonly advantages: Float64Array;
}

/** Which samples carry the gradient and with which advantage (the table's `rows` and `advantages`). */
export function estimatorRows(
  estimator: Estimator,
  rewards: Float64Array,
  batch: number,
  samples: number,
  greedyRewards?: Float64Array,
  tokenRewards?: ScoredRewards['tokenRewards'],
): GradientRows {
  const spec = ESTIMATOR_SPECS[estimator];
  const advantages = spec.advantages({ rewards, batch, samples, greedyRewards, tokenRewards });
  const rows =
    spec.rows === 'first'
      ? Int32Array.from({ length: batch }, (_, b) => b * samples)
      : Int32Array.from({ length: batch * samples }, (_, i) => i);
  return { rows, advantages };
}

/** Why `numSamples` samples per input are too few for `estimator`, or undefined when they are enough. */
export function samplesProblem(estimator: Estimator, numSamples: number): string | undefined {
  const min = ESTIMATOR_SPECS[estimator].minSamples;
  return numSamples >= min ? undefined : `estimator '${estimator}' needs numSamples ≥ ${min}, got ${numSamples}`;
}

/** Why `estimator` cannot normalise its advantages, or undefined when it can (or is not asked to). */
export function normalizeProblem(estimator: Estimator, normalizeAdvantages: boolean | undefined): string | undefined {
  return normalizeAdvantages && !ESTIMATOR_SPECS[estimator].normalizable
    ? `estimator '${estimator}' does not combine with normalizeAdvantages`
    : undefined;
}

/** Why a task whose reward gives `gives` cannot serve `estimator`, or undefined when it can. */
export function rewardProblem(estimator: Estimator, gives: RewardGives): string | undefined {
  const { needs } = ESTIMATOR_SPECS[estimator];
  const missing = [
    needs.tokenRewards && gives.tokenRewards === false ? 'a reward that splits over tokens' : undefined,
    needs.tokenValues && gives.tokenValues === false ? 'the values of the tokens not drawn' : undefined,
  ].filter((m): m is string => m !== undefined);
  if (missing.length === 0) return undefined;
  return `estimator '${estimator}' needs ${missing.join(' and ')}${gives.why ? `; ${gives.why}` : ", which this task's reward does not give"}`;
}

/**
 * What a task that decodes whole batches of samples at once (Task.decodeBatch: UViM's frozen oracle decoder over
 * B·N codes) gives: one reward per decoded output, no split over its tokens. Such a task passes it to
 * `tuneSectionSchema` (a config naming `rtg` or `expected` is then refused at `tune.estimator`), and the loop
 * refuses those estimators for it too (`taskProblem`).
 */
export const WHOLE_OUTPUT_REWARD: RewardGives = {
  tokenRewards: false,
  tokenValues: false,
  why: 'this task decodes its samples a batch at a time and rewards each decoded output as a whole',
};

/**
 * Why `task` cannot serve `estimator`, or undefined: by what the task says its reward gives (Task.rewardGives), else
 * a batch-decoding task's reward is taken not to split over tokens.
 */
export function taskProblem(
  estimator: Estimator,
  task: { readonly decodeBatch?: unknown; readonly rewardGives?: RewardGives },
): string | undefined {
  const gives = task.rewardGives ?? (task.decodeBatch === undefined ? undefined : WHOLE_OUTPUT_REWARD);
  return gives === undefined ? undefined : rewardProblem(estimator, gives);
}

/** The estimators a task whose reward gives `gives` can serve. */
export const estimatorsFor = (gives: RewardGives): Estimator[] =>
  ESTIMATORS.filter((e) => rewardProblem(e, gives) === undefined);
