/**
 * The update half of a tuning step: from a batch's rollout (rollout.ts) to one optimizer update. The estimator
 * (estimators.ts) picks the rows that carry the gradient and their advantages; the rows are re-scored teacher-forced
 * under the sampling distribution by the loss of reinforce-loss.ts; the batch goes `microBatch` inputs at a time,
 * each chunk weighted by its share of the rows, so the summed gradient is the whole batch's.
 *
 * Dimension legend: B batch, N samples per input, R rows carrying the gradient, L sequence length, V vocabulary.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  readTensor,
  scoreRows,
  tokensTensor,
  type Optimizer,
  type Rng,
  type SequencePolicy,
} from '@reward-tune/core-model';
import { normalizeAdvantages } from './advantages';
import type { TuneConfig } from './config-sections';
import { ESTIMATOR_SPECS, estimatorRows, normalizeProblem, samplesProblem, taskProblem } from './estimators';
import { selectTokenLogProbs } from './losses';
import { reinforceLoss, type ImportanceInput, type ImportancePer, type ReinforceLossInput } from './reinforce-loss';
import { gradientStep, type GradStep, type LossFn } from './loop';
import { sampleAndReward, type ScoredSamples } from './rollout';
import type { Task } from './task';

/** What an update needs besides the policy and optimizer (TuneOptions' fields). */
export interface UpdateContext<E, P, A> {
  readonly policy: SequencePolicy;
  readonly task: Task<E, P, A>;
  readonly config: TuneConfig;
  /** Frozen reference policy for the KL penalty; required when klCoef > 0. */
  readonly reference?: SequencePolicy;
  /**
   * Samples drawn by an older policy μ (distributed tuning's staleness ≥ 1): each row's term is multiplied by the
   * truncated importance weight min(c, π_θ(y)/μ(y)) of its whole sequence, π_θ from the loss's own pass
   * (reinforce-loss.ts ImportanceInput) and μ from the sampler's log-probs (ScoredSamples.logProbs). Absent: no
   * weights (the on-policy loop).
   */
  readonly importanceClip?: number;
  /** One importance weight per row (`sequence`, the default) or per token (`token`); see ImportanceInput. */
  readonly importancePer?: ImportancePer;
}

/**
 * The importance weights of one update (UpdateContext.importanceClip), over all its rows: their mean, max, and the
 * share clipped.
 */
export interface ImportanceStats {
  readonly isMean: number;
  readonly isMax: number;
  readonly isClipped: number;
}

/** A part's rng: one stream for every part (the loop's), or one per part (TuneConfig.seedDerivation 'per-job'). */
export type PartRng = Rng | ((part: number) => Rng);

/**
 * One update from a batch: its loss inputs (updateInputs), then gradientStep over their chunks, each chunk's loss and
 * terms weighted by its share of the rows, so that the chunks' summed gradient is the whole batch's. `importance`:
 * the weights' statistics (UpdateContext.importanceClip), known once the loss has run.
 */
export async function update<E, P, A>(
  opts: UpdateContext<E, P, A> & { readonly optimizer: Optimizer },
  batchImages: tf.Tensor4D,
  examples: readonly E[],
  rng: PartRng,
  given?: readonly ScoredSamples<A>[],
): Promise<{ readonly result: GradStep; readonly rewards: Float64Array; readonly importance?: ImportanceStats }> {
  const step = await updateInputs(opts, batchImages, examples, rng, given);
  try {
    const { importance, ...result } = await applyUpdate(opts, step);
    return { result, rewards: step.rewards, importance };
  } finally {
    step.dispose();
  }
}

/**
 * gradientStep over an update's chunks, each chunk's loss and terms weighted by its share of the rows; with importance
 * weights (the chunks' ImportanceInput), their statistics over all the update's rows, which the loss computes.
 */
export async function applyUpdate<E, P, A>(
  opts: UpdateContext<E, P, A> & { readonly optimizer: Optimizer },
  step: UpdateInputs<A>,
): Promise<GradStep & { readonly importance?: ImportanceStats }> {
  const { policy } = opts;
  // Each chunk's importance ratios as its loss reports them: [R] tensors, read once the step has run.
  const ratios: { readonly clip: number; readonly ratios: tf.Tensor1D }[] = [];
  // A whole batch is one chunk of share 1: multiplying by 1 is exact, so it updates as it always did.
  const chunks = step.chunks.map(({ share, input }): LossFn => (terms) => {
    const own: Record<string, tf.Scalar> = {};
    const importance = input.importance && {
      ...input.importance,
      report: (r: tf.Tensor1D) => ratios.push({ clip: input.importance!.clip, ratios: r }),
    };
    const loss = reinforceLoss(policy, { ...input, importance }, own);
    for (const [k, t] of Object.entries(own)) terms[k] = tf.mul(t, share);
    return tf.mul(loss, share) as tf.Scalar;
  });
  try {
    const result = await gradientStep(policy, opts.optimizer, chunks);
    if (ratios.length === 0) return result;
    const read = await Promise.all(ratios.map(async (c) => ({ clip: c.clip, ratios: await readTensor(c.ratios) })));
    return { ...result, importance: importanceStats(read) };
  } finally {
    tf.dispose(ratios.map((c) => c.ratios));
  }
}

/** The weights min(c, ratio) of all the rows of `chunks`: their mean, max, and the share whose ratio exceeds c. */
function importanceStats(
  chunks: readonly { readonly clip: number; readonly ratios: ArrayLike<number> }[],
): ImportanceStats {
  const weights: number[] = [];
  let clipped = 0;
  for (const { clip, ratios } of chunks) {
    for (let i = 0; i < ratios.length; i++) {
      weights.push(Math.min(clip, ratios[i]));
      if (ratios[i] > clip) clipped++;
    }
  }
  return {
    isMean: weights.reduce((a, w) => a + w, 0) / weights.length,
    isMax: Math.max(...weights),
    isClipped: clipped / weights.length,
  };
}

export interface UpdateInputs<A> {
  /** [B, N] rewards of every sample. */
  readonly rewards: Float64Array;
  /**
   * The tuning loss's inputs, `microBatch` inputs' rows per chunk, with each chunk's share of the rows (with
   * UpdateContext.importanceClip, each input's `importance`: the sampler's log-probs of its rows and the clip; the
   * weights come out of the loss, and applyUpdate returns their statistics).
   */
  readonly chunks: readonly { readonly share: number; readonly input: ReinforceLossInput<A> }[];
  dispose(): void;
}

/**
 * What one update differentiates, from a batch: N samples per input, their rewards, the estimator's rows and
 * advantages, and the loss inputs of those rows (tokens, images, the reference's log-probs for the KL term, the
 * auxiliary values). Sampling goes `microBatch` inputs at a time (the whole batch by default), and so do the chunks,
 * so a batch larger than the backend's memory allows still makes one update. `given`: the parts' samples as drawn
 * elsewhere (distributed tuning's actors), one per part, instead of sampling here.
 */
export async function updateInputs<E, P, A>(
  opts: UpdateContext<E, P, A>,
  batchImages: tf.Tensor4D,
  examples: readonly E[],
  rng: PartRng,
  given?: readonly ScoredSamples<A>[],
): Promise<UpdateInputs<A>> {
  const { policy, task, config } = opts;
  const estimator = config.estimator ?? 'paper';
  const spec = ESTIMATOR_SPECS[estimator];
  const klCoef = config.klCoef ?? 0;
  const n = config.numSamples;
  const b = examples.length;
  checkUpdateConfig(config, task);
  const micro = Math.min(config.microBatch ?? b, b);
  const made: tf.Tensor[] = [];
  const dispose = () => tf.dispose(made);
  try {
    const parts: { readonly first: number; readonly images: tf.Tensor4D; readonly scored: ScoredSamples<A> }[] = [];
    for (let start = 0; start < b; start += micro) {
      const count = Math.min(micro, b - start);
      const images = count === b ? batchImages : tf.slice(batchImages, [start, 0, 0, 0], [count, -1, -1, -1]);
      if (images !== batchImages) made.push(images);
      const part = parts.length;
      const scored =
        given !== undefined
          ? givenPart(given, part, count * n)
          : await sampleAndReward(
              policy,
              task,
              images,
              examples.slice(start, start + count),
              n,
              spec.needs,
              typeof rng === 'function' ? rng(part) : rng,
              config.temperature,
            );
      parts.push({ first: start * n, images, scored });
    }
    if (given !== undefined && given.length !== parts.length) {
      throw new RangeError(`${given.length} shards given for a batch of ${parts.length} parts`);
    }
    const l = parts[0].scored.length;
    const rewards = concat(
      parts.map((p) => p.scored.rewards),
      (n) => new Float64Array(n),
    );
    const greedyRewards = spec.needs.greedy
      ? concat(
          parts.map((p) => p.scored.greedyRewards ?? new Float64Array()),
          (n) => new Float64Array(n),
        )
      : undefined;
    const tokenRewards = spec.needs.tokenRewards
      ? {
          values: concat(
            parts.map((p) => p.scored.tokenRewards ?? new Float64Array()),
            (n) => new Float64Array(n),
          ),
          length: l,
          discount: config.discount,
          tokensPerStep: task.tokensPerStep,
          enumerated: spec.needs.tokenValues
            ? concat(
                parts.map((p) => p.scored.tokenValues?.enumerated ?? new Uint8Array()),
                (n) => new Uint8Array(n),
              )
            : undefined,
        }
      : undefined;
    const picked = estimatorRows(estimator, rewards, b, n, greedyRewards, tokenRewards);
    // Advantages per row (1) or per token (L).
    const per = picked.advantages.length / picked.rows.length;
    const advantages = config.normalizeAdvantages ? normalizeAdvantages(picked.advantages) : picked.advantages;
    const auxLoss = task.auxLoss?.bind(task);
    const clip = opts.importanceClip;
    const chunks: { share: number; input: ReinforceLossInput<A> }[] = [];
    for (const part of parts) {
      // This part's rows: k indexes the step's rows, local the part's own samples.
      const ks = Array.from(picked.rows.keys()).filter(
        (k) => picked.rows[k] >= part.first && picked.rows[k] < part.first + part.scored.rewards.length,
      );
      const local = ks.map((k) => picked.rows[k] - part.first);
      const tokens = tokensTensor(
        rowsOf(part.scored.tokens, l, local, (n) => new Int32Array(n)),
        [ks.length, l],
      );
      made.push(tokens);
      // Row r is sample r mod N of input ⌊r/N⌋ (one row per input: row b is input b, so the images serve as they are).
      const images = part.images;
      const rowImages = spec.rows === 'first' ? undefined : Int32Array.from(local, (row) => Math.floor(row / n));
      let kl: ReinforceLossInput<A>['kl'];
      if (klCoef > 0 && opts.reference) {
        const ref = opts.reference;
        const refTokenLogProbs = tf.tidy(() =>
          selectTokenLogProbs(scoreRows(ref, images, tokens, { rowImages }).logProbs, tokens),
        );
        made.push(refTokenLogProbs);
        kl = { coef: klCoef, refTokenLogProbs };
      }
      const auxWeight = config.auxLossWeight ?? 1;
      const rowAdvantages = rowsOf(advantages, per, ks, (n) => new Float64Array(n));
      const rowValues =
        part.scored.tokenValues &&
        rowsOf(part.scored.tokenValues.values, l * part.scored.tokenValues.vocab, local, (n) => new Float32Array(n));
      const input: ReinforceLossInput<A> = {
        images,
        rowImages,
        tokens,
        advantages: rowAdvantages,
        tokenValues: rowValues,
        reduction: config.reduction ?? 'token',
        temperature: config.temperature,
        importance: clip === undefined ? undefined : importanceInput(part.scored, local, clip, opts.importancePer),
        kl,
        aux:
          auxLoss && auxWeight > 0
            ? {
                weight: auxWeight,
                loss: auxLoss,
                values: local.map((row) => part.scored.aux[row] as A),
                headOnly: config.auxLossScope === 'head',
              }
            : undefined,
      };
      chunks.push({ share: ks.length / picked.rows.length, input });
    }
    return { rewards, chunks, dispose };
  } catch (err) {
    dispose();
    throw err;
  }
}

/**
 * What an update needs of the config: the estimator table's rules (samples, normalisation, and what `task`'s reward
 * can give: a batch-decoding task's does not split over tokens), a positive microBatch and temperature.
 */
export function checkUpdateConfig(config: TuneConfig, task?: { readonly decodeBatch?: unknown }): void {
  const t = config.temperature;
  if (t !== undefined && !(t > 0 && Number.isFinite(t)))
    throw new RangeError(`temperature must be a positive number, got ${t}`);
  const estimator = config.estimator ?? 'paper';
  const problem =
    samplesProblem(estimator, config.numSamples) ??
    normalizeProblem(estimator, config.normalizeAdvantages) ??
    (task && taskProblem(estimator, task));
  if (problem !== undefined) throw new RangeError(problem);
  const m = config.microBatch;
  if (m !== undefined && !(Number.isInteger(m) && m >= 1))
    throw new RangeError(`microBatch must be a positive integer, got ${m}`);
}

/** Part `part` of the samples given to updateInputs, checked to hold `samples` samples. */
function givenPart<A>(given: readonly ScoredSamples<A>[], part: number, samples: number): ScoredSamples<A> {
  const scored = given[part];
  if (scored === undefined) throw new RangeError(`no samples given for part ${part}`);
  if (scored.rewards.length !== samples) {
    throw new RangeError(`part ${part}: ${scored.rewards.length} samples given, expected ${samples}`);
  }
  return scored;
}

/**
 * The loss's importance input for rows `local` of a part: the sampler's log-probs of their tokens, the clip c and
 * whether the weights are per row or per token.
 */
function importanceInput<A>(
  scored: ScoredSamples<A>,
  local: readonly number[],
  clip: number,
  per: ImportancePer | undefined,
): ImportanceInput {
  const behaviour = scored.logProbs;
  if (behaviour === undefined)
    throw new Error("importance weights need the sampler's log-probs (ScoredSamples.logProbs)");
  return { behaviourLogProbs: rowsOf(behaviour, scored.length, local, (n) => new Float32Array(n)), clip, per };
}

/** Rows `rows` of a row-major array of `rowSize`-value rows, in that order, in an array made by `make`. */
function rowsOf<T extends Float64Array | Float32Array | Int32Array>(
  values: T,
  rowSize: number,
  rows: readonly number[],
  make: (length: number) => T,
): T {
  const out = make(rows.length * rowSize);
  rows.forEach((row, k) => out.set(values.subarray(row * rowSize, (row + 1) * rowSize), k * rowSize));
  return out;
}

/** The parts end to end, in an array made by `make`. */
function concat<T extends Float64Array | Float32Array | Uint8Array>(
  parts: readonly T[],
  make: (length: number) => T,
): T {
  const out = make(parts.reduce((s, p) => s + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
