/**
 * The oracle's dictionary, learned by exponential moving averages and not by gradient (big_vision's UViM VQ-VAE):
 * the state is discounted sums `dictionary` [K, Dc] and discounted counts `counts` [K] of the (standardised)
 * pre-quantisation vectors assigned to each codeword; a codeword is the L2-normalised mean dictionary[k]/counts[k].
 *
 * One update, after a training step's forward (outside the gradient tape), with momentum m:
 *   counts     ← m·counts + histogram(codes)                (the histogram is added as is, not times 1 − m)
 *   dictionary ← m·dictionary + Σ_{tokens assigned to k} x_pre
 * then, while any count < minCount (a codeword unused for ~ln(minCount)/ln(m) steps): the least-used slot takes a
 * copy of the most-used entry times U(1 − 0.001, 1 + 0.001) per dimension, and both entries' counts and sums are
 * halved (argmin/argmax take the first index on ties). Plain JS: K is at most a few thousand.
 *
 * State init: dictionary ~ N(0, (1/√K)²), counts = 1. The state is kept in float32 (as big_vision's); the update
 * itself runs in float64 and rounds once.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../../rng';
import type { OracleConfig } from './config';

/** Multiplicative jitter of a split codeword (big_vision's PERTURB). */
export const SPLIT_PERTURB = 0.001;

export interface OracleState {
  readonly dictSize: number;
  readonly codewordDim: number;
  /** [K·Dc] row-major discounted sums. */
  readonly dictionary: Float32Array;
  /** [K] discounted counts. */
  readonly counts: Float32Array;
}

/** Fresh state: dictionary ~ N(0, 1/√K) drawn from `rng` row by row, counts 1. */
export function initOracleState(cfg: Pick<OracleConfig, 'dictSize' | 'codewordDim'>, rng: Rng): OracleState {
  const { dictSize, codewordDim } = cfg;
  const dictionary = new Float32Array(dictSize * codewordDim);
  const std = 1 / Math.sqrt(dictSize);
  for (let i = 0; i < dictionary.length; i++) dictionary[i] = rng.normal() * std;
  return { dictSize, codewordDim, dictionary, counts: new Float32Array(dictSize).fill(1) };
}

/** The codewords [K·Dc]: dictionary[k]/counts[k], L2-normalised per row (float32, as the forward uses them). */
export function codewords(state: OracleState): Float32Array {
  const { dictSize: k, codewordDim: d } = state;
  const e = new Float32Array(k * d);
  for (let i = 0; i < k; i++) {
    const c = state.counts[i];
    let n = 0;
    for (let j = 0; j < d; j++) {
      const v = state.dictionary[i * d + j] / c;
      e[i * d + j] = v;
      n += v * v;
    }
    const inv = 1 / Math.sqrt(n);
    for (let j = 0; j < d; j++) e[i * d + j] *= inv;
  }
  return e;
}

/** The codewords as a tensor [K, Dc]. */
export function codewordsTensor(state: OracleState): tf.Tensor2D {
  return tf.tensor2d(codewords(state), [state.dictSize, state.codewordDim]);
}

/** How many times each code occurs in `codes` (any shape, values in [0, K)). */
export function codeHistogram(codes: ArrayLike<number>, dictSize: number): Float64Array {
  const h = new Float64Array(dictSize);
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (!(c >= 0 && c < dictSize && Number.isInteger(c)))
      throw new RangeError(`code ${c} at ${i} is outside [0, ${dictSize})`);
    h[c] += 1;
  }
  return h;
}

export interface EmaOptions {
  readonly momentum: number;
  readonly minCount: number;
  /** Draws the split jitter (Dc uniforms per split, in dimension order). */
  readonly rng: Rng;
}

export interface EmaResult {
  readonly state: OracleState;
  /** How many dead codewords were replaced by splits this update. */
  readonly splits: number;
}

/** First index of the largest / smallest value. */
function argExtreme(a: Float64Array, largest: boolean): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (largest ? a[i] > a[best] : a[i] < a[best]) best = i;
  return best;
}

/**
 * Splits the most-used codeword into the least-used slot while any count is below `minCount` (in place, float64).
 * Stops, rather than loop forever, when the most-used count cannot be halved without itself falling below
 * `minCount` (only possible when all counts together hold less than 2·minCount, which no training batch leaves).
 */
export function splitDeadCodes(
  dict: Float64Array,
  counts: Float64Array,
  dim: number,
  minCount: number,
  rng: Rng,
): number {
  let splits = 0;
  for (;;) {
    const iMin = argExtreme(counts, false);
    if (!(counts[iMin] < minCount)) return splits;
    const iMax = argExtreme(counts, true);
    if (iMax === iMin || counts[iMax] / 2 < minCount) return splits;
    for (let j = 0; j < dim; j++) {
      const u = 1 - SPLIT_PERTURB + 2 * SPLIT_PERTURB * rng.next();
      dict[iMin * dim + j] = (dict[iMax * dim + j] * u) / 2;
      dict[iMax * dim + j] /= 2;
    }
    counts[iMax] /= 2;
    counts[iMin] = counts[iMax];
    splits++;
  }
}

/**
 * One EMA update from a step's codes [N] (N = B·L) and pre-quantisation vectors [N·Dc]; returns the new state (the
 * old one is untouched).
 */
export function emaUpdate(
  state: OracleState,
  codes: ArrayLike<number>,
  preQuant: ArrayLike<number>,
  opts: EmaOptions,
): EmaResult {
  const { dictSize: k, codewordDim: d } = state;
  if (preQuant.length !== codes.length * d) {
    throw new RangeError(
      `emaUpdate: ${preQuant.length} pre-quantisation values for ${codes.length} codes of width ${d}`,
    );
  }
  const m = opts.momentum;
  const counts = Float64Array.from(state.counts, (c) => c * m);
  const hist = codeHistogram(codes, k);
  for (let i = 0; i < k; i++) counts[i] += hist[i];
  const sums = new Float64Array(k * d);
  for (let n = 0; n < codes.length; n++) {
    const o = codes[n] * d;
    for (let j = 0; j < d; j++) sums[o + j] += preQuant[n * d + j];
  }
  const dict = Float64Array.from(state.dictionary, (v, i) => v * m + sums[i]);
  const splits = splitDeadCodes(dict, counts, d, opts.minCount, opts.rng);
  return {
    state: { dictSize: k, codewordDim: d, dictionary: Float32Array.from(dict), counts: Float32Array.from(counts) },
    splits,
  };
}

export interface CodebookHealth {
  /** exp(entropy) of the usage distribution: K when uniform, 1 when one code takes everything. */
  readonly perplexity: number;
  /** Fraction of codes whose count is ≤ `unusedAtMost` (0 by default: never used, for a histogram). */
  readonly unusedFraction: number;
  /** The largest code's share of the total (big_vision's `codebook_max_ratio`). */
  readonly maxShare: number;
}

/** Usage statistics of a code histogram (or of the EMA `counts`). */
export function codebookHealth(counts: ArrayLike<number>, unusedAtMost = 0): CodebookHealth {
  let total = 0;
  let max = 0;
  let unused = 0;
  for (let i = 0; i < counts.length; i++) {
    total += counts[i];
    max = Math.max(max, counts[i]);
    if (counts[i] <= unusedAtMost) unused++;
  }
  let entropy = 0;
  if (total > 0) {
    for (let i = 0; i < counts.length; i++) {
      const p = counts[i] / total;
      if (p > 0) entropy -= p * Math.log(p);
    }
  }
  return {
    perplexity: Math.exp(entropy),
    unusedFraction: unused / counts.length,
    maxShare: total > 0 ? max / total : 0,
  };
}

/** Checkpoint names of the state tensors (kept apart from the trained parameters). */
export const STATE_DICTIONARY = 'state/dictionary';
export const STATE_COUNTS = 'state/counts';

/** The state as tensors `state/dictionary` [K, Dc] and `state/counts` [K], e.g. to save beside the parameters. */
export function oracleStateTensors(state: OracleState): Map<string, tf.Tensor> {
  return new Map<string, tf.Tensor>([
    [STATE_DICTIONARY, tf.tensor2d(state.dictionary, [state.dictSize, state.codewordDim])],
    [STATE_COUNTS, tf.tensor1d(state.counts)],
  ]);
}

/** The state from host tensors named as `oracleStateTensors` names them (e.g. a loaded checkpoint's). */
export function oracleStateFromHost(
  tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: ArrayLike<number> }>,
  cfg: Pick<OracleConfig, 'dictSize' | 'codewordDim'>,
): OracleState {
  const dict = tensors.get(STATE_DICTIONARY);
  const counts = tensors.get(STATE_COUNTS);
  if (dict === undefined || counts === undefined)
    throw new Error(`oracle state: '${STATE_DICTIONARY}' and '${STATE_COUNTS}' are both needed`);
  const want = `[${cfg.dictSize}, ${cfg.codewordDim}]`;
  if (dict.shape.length !== 2 || dict.shape[0] !== cfg.dictSize || dict.shape[1] !== cfg.codewordDim) {
    throw new Error(`oracle state: ${STATE_DICTIONARY} has shape [${dict.shape.join(', ')}], the config needs ${want}`);
  }
  if (counts.shape.length !== 1 || counts.shape[0] !== cfg.dictSize) {
    throw new Error(
      `oracle state: ${STATE_COUNTS} has shape [${counts.shape.join(', ')}], the config needs [${cfg.dictSize}]`,
    );
  }
  return {
    dictSize: cfg.dictSize,
    codewordDim: cfg.codewordDim,
    dictionary: Float32Array.from(dict.data),
    counts: Float32Array.from(counts.data),
  };
}
