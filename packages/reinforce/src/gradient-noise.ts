/**
 * How much of a tuning step's policy gradient is signal: the "simple noise scale" of McCandlish et al. (2018, "An
 * empirical model of large-batch training", appendix A), measured on K independent batches of the tuning stream.
 *
 * Each batch b gives the policy gradient g_b of exactly what a tuning update would use (the same sampling, reward,
 * estimator and rows), without the auxiliary loss, with respect to the parameters the optimizer trains. With G the
 * true gradient and Σ the per-row covariance, E|g_b|² = |G|² + tr(Σ)/R for R rows per batch, and for b ≠ c
 * E[g_b·g_c] = |G|². So:
 *   |G|²          ≈ mean of g_b·g_c over the K(K−1)/2 pairs (unbiased), with a jackknife standard error;
 *   signal share  = |G|² / E|g_b|², the expected cosine between two batches' gradients (1 = no noise);
 *   noise scale   = tr(Σ)/|G|² = R·(E|g_b|² − |G|²)/|G|², in rows: the batch at which noise and signal are equal.
 * A batch far below the noise scale makes each update mostly noise; with Adam-like optimizers, which step every
 * parameter by about the learning rate whatever its gradient's size, such updates random-walk a converged model.
 *
 * Memory: the K gradients are held at once (K × trainable parameters × 4 bytes); `microBatch` bounds the backend's.
 */
import * as tf from '@tensorflow/tfjs-core';
import { planParams, type PatternMults, type Rng, type SequencePolicy } from '@reward-tune/core-model';
import { accumulateGradients } from './loop';
import { imagesTensor, type BatchSource, type Task } from './task';
import type { TuneConfig } from './config-sections';
import { reinforceLoss } from './reinforce-loss';
import { updateInputs } from './update';

/**
 * The tuning options the measurement follows (the `tune` section as it is: samples, estimator, discount,
 * normalisation, microBatch, temperature; its steps, KL and auxiliary terms are not used), and how many batches.
 */
export type GradientNoiseConfig = Omit<TuneConfig, 'steps'> & {
  /** K independent batches (≥ 3 for the standard error). */
  readonly batches: number;
  /** The tuning optimizer's learning-rate multipliers: parameters with multiplier 0 are frozen and left out. */
  readonly lrMults?: PatternMults;
};

export interface GradientNoise {
  /** R: rows carrying the gradient in one batch (B for `paper`, B×N for the others). */
  readonly rowsPerBatch: number;
  readonly batches: number;
  /** Parameters measured (the trainable ones). */
  readonly parameters: number;
  /** Mean reward of all samples drawn. */
  readonly rewardMean: number;
  /** Mean |g_b|² (per-row loss reduction: `sequence`). */
  readonly batchGradSq: number;
  /** Unbiased estimate of |G|², and its jackknife standard error. */
  readonly trueGradSq: number;
  readonly trueGradSqSe: number;
  /** |G|² / E|g_b|² (may come out ≤ 0 when no signal is detected). */
  readonly signalShare: number;
  /** tr(Σ)/|G|² in rows; null when |G|² ≤ 0 (no signal detected at this K). */
  readonly noiseScale: number | null;
  /** The noise scale at |G|² ± 2 standard errors: [low, high]; high is null when |G|² − 2se ≤ 0. */
  readonly noiseScaleRange: readonly [number | null, number | null];
}

export interface GradientNoiseOptions<E, P, A> {
  readonly policy: SequencePolicy;
  readonly task: Task<E, P, A>;
  readonly train: BatchSource<E>;
  readonly rng: Rng;
  readonly config: GradientNoiseConfig;
  /** Called after each batch with (done, total). */
  readonly progress?: (done: number, total: number) => void;
}

export async function measureGradientNoise<E, P, A>(opts: GradientNoiseOptions<E, P, A>): Promise<GradientNoise> {
  const { policy, task, rng, config } = opts;
  const k = config.batches;
  if (!Number.isInteger(k) || k < 3) throw new RangeError(`batches must be an integer ≥ 3, got ${k}`);
  const plan = planParams(policy.params.keys(), config.lrMults ?? []);
  const names = [...policy.params.keys()].filter((name) => !plan.get(name)?.frozen);
  if (names.length === 0) throw new RangeError('every parameter is frozen (lrMults): nothing to measure');
  const vars = names.map((name) => policy.params.get(name) as tf.Variable);
  const size = vars.reduce((s, v) => s + v.size, 0);

  const grads: Float32Array[] = [];
  let rows = 0;
  let rewardSum = 0;
  let rewardCount = 0;
  // The policy-gradient term alone, reduced per sequence (the textbook gradient; the ratios do not depend on it).
  const pgOnly: TuneConfig = { ...config, steps: 0, reduction: 'sequence', klCoef: 0, auxLossWeight: 0 };
  for (let b = 0; b < k; b++) {
    const batch = opts.train(b, rng);
    const img = imagesTensor(batch.images);
    try {
      const step = await updateInputs({ policy, task, config: pgOnly }, img.tensor, batch.examples, rng);
      try {
        rows = step.chunks.reduce((s, c) => s + c.input.tokens.shape[0], 0);
        rewardSum += step.rewards.reduce((a, x) => a + x, 0);
        rewardCount += step.rewards.length;
        const acc = accumulateGradients(
          policy,
          names,
          step.chunks.map(
            ({ share, input }) =>
              () =>
                tf.mul(reinforceLoss(policy, input), share) as tf.Scalar,
          ),
        );
        try {
          const flat = new Float32Array(size);
          let offset = 0;
          for (let i = 0; i < names.length; i++) {
            const g = acc.grads.get(names[i]);
            if (g) flat.set(await g.data(), offset); // a parameter the loss does not reach has a zero gradient
            offset += vars[i].size;
          }
          grads.push(flat);
        } finally {
          acc.dispose();
        }
      } finally {
        step.dispose();
      }
    } finally {
      img.tensor.dispose(); // a training batch is consumed by its step, as in the tuning loop
    }
    opts.progress?.(b + 1, k);
  }
  return {
    ...noiseStatistics(grads, rows),
    batches: k,
    parameters: size,
    rewardMean: rewardCount > 0 ? rewardSum / rewardCount : 0,
  };
}

/** The statistics of the file comment from K ≥ 3 gradients of R rows each (exported for tests). */
export function noiseStatistics(
  grads: readonly Float32Array[],
  rows: number,
): Omit<GradientNoise, 'batches' | 'parameters' | 'rewardMean'> {
  const k = grads.length;
  if (k < 3) throw new RangeError(`need at least 3 gradients, got ${k}`);
  const dot = (a: Float32Array, b: Float32Array): number => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  };
  const sq = grads.map((g) => dot(g, g));
  const pair: number[][] = grads.map(() => new Array<number>(k).fill(0));
  let pairSum = 0;
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) {
      pair[i][j] = pair[j][i] = dot(grads[i], grads[j]);
      pairSum += pair[i][j];
    }
  }
  const pairs = (k * (k - 1)) / 2;
  const trueGradSq = pairSum / pairs;
  // Jackknife: the estimate without batch i is the mean over the pairs that do not involve it.
  const leaveOut = pair.map((row) => (pairSum - row.reduce((a, x) => a + x, 0)) / (((k - 1) * (k - 2)) / 2));
  const mean = leaveOut.reduce((a, x) => a + x, 0) / k;
  const trueGradSqSe = Math.sqrt(((k - 1) / k) * leaveOut.reduce((a, x) => a + (x - mean) ** 2, 0));
  const batchGradSq = sq.reduce((a, x) => a + x, 0) / k;
  const scaleAt = (g2: number): number | null => (g2 > 0 ? (rows * Math.max(0, batchGradSq - g2)) / g2 : null);
  return {
    rowsPerBatch: rows,
    batchGradSq,
    trueGradSq,
    trueGradSqSe,
    signalShare: batchGradSq > 0 ? trueGradSq / batchGradSq : 0,
    noiseScale: scaleAt(trueGradSq),
    noiseScaleRange: [scaleAt(trueGradSq + 2 * trueGradSqSe), scaleAt(trueGradSq - 2 * trueGradSqSe)],
  };
}
