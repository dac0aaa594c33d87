/**
 * Autoregressive sampling with a fixed-shape KV cache: the encoder output is tiled N times, then each of the L
 * steps runs the decoder on one position, reads the [B·N, V] logits back, applies the logits processors, and picks
 * the next token on the CPU side (greedy, or inverse-CDF sampling with temperature, top-k and top-p from an `Rng`).
 * Choosing on the CPU makes sampling exact and reproducible across backends, and lets processors depend on the
 * tokens already chosen.
 *
 * Dimension legend: B batch, N samples per input, R = B·N rows (row r = b·N + n), L length, V vocabulary,
 * P encoder tokens, De encoder width.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readTensor } from '../backend';
import { allowedAt, type LogitsProcessor } from './logits-processors';
import { decoderStep, disposeKvCache, initKvCache, type DecoderConfig } from './decoder';
import { NEG } from './ops';
import type { Params, SampleOptions, SampleResult } from './policy';
import type { Rng } from '../rng';

export interface Selection {
  /** [R] chosen tokens. */
  readonly tokens: Int32Array;
  /** [R] log-probability of each under the distribution it was drawn from (see `selectTokens`). */
  readonly logProbs: Float32Array;
}

/**
 * Picks one token per row from logits [R, V] after the processors' `allowed` mask [R, V] (null: all allowed).
 *
 * Sampling: p ∝ exp(z/T) over allowed tokens, truncated to the top-k and/or the smallest top-p set (ties broken by
 * lower token id), renormalised; the token is drawn by inverse CDF with one `rng.next()` per row, and its log-prob
 * is taken under that truncated, tempered distribution. Greedy: the argmax (lowest id on ties); since the point
 * mass would give log-prob 0, greedy reports the log-prob under the processed model distribution at T = 1 instead.
 */
export function selectTokens(
  logits: Float32Array,
  rows: number,
  vocabSize: number,
  allowed: Uint8Array | null,
  opts: SampleOptions,
  rng?: Rng,
): Selection {
  const temperature = opts.temperature ?? 1;
  const topK = opts.topK ?? 0;
  const topP = opts.topP ?? 0;
  if (!opts.greedy) {
    if (!(temperature > 0)) throw new Error(`temperature must be > 0, got ${temperature}`);
    if (rng === undefined) throw new Error('sampling needs an rng (or greedy: true)');
  }
  const tokens = new Int32Array(rows);
  const logProbs = new Float32Array(rows);
  const z = new Float64Array(vocabSize);
  for (let r = 0; r < rows; r++) {
    const o = r * vocabSize;
    let max = -Infinity;
    let arg = 0;
    for (let j = 0; j < vocabSize; j++) {
      // Same arithmetic as the teacher-forced scorer: float32 logit plus NEG where masked.
      z[j] = allowed !== null && allowed[o + j] === 0 ? Math.fround(logits[o + j] + NEG) : logits[o + j];
      if (z[j] > max) {
        max = z[j];
        arg = j;
      }
    }
    if (opts.greedy) {
      let sum = 0;
      for (let j = 0; j < vocabSize; j++) sum += Math.exp(z[j] - max);
      tokens[r] = arg;
      logProbs[r] = z[arg] - max - Math.log(sum);
      continue;
    }
    // Tempered probabilities over allowed tokens (masked ones have exactly zero mass).
    const p = new Float64Array(vocabSize);
    let total = 0;
    for (let j = 0; j < vocabSize; j++) {
      const ok = allowed === null || allowed[o + j] === 1;
      p[j] = ok ? Math.exp((z[j] - max) / temperature) : 0;
      total += p[j];
    }
    let order: number[] | null = null;
    if ((topK > 0 && topK < vocabSize) || (topP > 0 && topP < 1)) {
      order = Array.from({ length: vocabSize }, (_, j) => j).filter((j) => p[j] > 0);
      order.sort((a, b) => p[b] - p[a] || a - b);
      let keep = topK > 0 ? Math.min(topK, order.length) : order.length;
      if (topP > 0 && topP < 1) {
        let cum = 0;
        for (let i = 0; i < keep; i++) {
          cum += p[order[i]] / total;
          if (cum >= topP) {
            keep = i + 1;
            break;
          }
        }
      }
      order = order.slice(0, keep);
      total = order.reduce((s, j) => s + p[j], 0);
    }
    const u = rng!.next() * total;
    let acc = 0;
    let chosen = -1;
    const candidates = order ?? null;
    const count = candidates ? candidates.length : vocabSize;
    for (let i = 0; i < count; i++) {
      const j = candidates ? candidates[i] : i;
      if (p[j] === 0) continue;
      chosen = j;
      acc += p[j];
      if (u < acc) break;
    }
    tokens[r] = chosen;
    logProbs[r] = Math.log(p[chosen] / total);
  }
  return { tokens, logProbs };
}

/**
 * Samples N sequences per input from encoded [B, P, De] (the encoder's output, computed once by the caller).
 * The cache has a fixed shape [B·N, H, L, Dh] per layer, so no step creates a tensor of a new shape.
 */
export async function sampleSequences(
  params: Params,
  cfg: DecoderConfig,
  encoded: tf.Tensor3D,
  processors: readonly LogitsProcessor[],
  opts: SampleOptions,
): Promise<SampleResult> {
  const n = opts.numSamples;
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`numSamples must be a positive integer, got ${n}`);
  const b = encoded.shape[0];
  const rows = b * n;
  const { length: l, vocabSize: v } = cfg;
  let cache = initKvCache(params, cfg, encoded, n);
  const tokens = new Int32Array(rows * l);
  const logProbs = new Float32Array(rows * l);
  let prev: Int32Array = new Int32Array(rows); // BOS = 0
  try {
    for (let t = 0; t < l; t++) {
      const input = tf.tensor1d(prev, 'int32');
      const step = decoderStep(params, cfg, cache, input, t);
      input.dispose();
      cache = step.cache;
      const logits = (await readTensor(step.logits)) as Float32Array;
      step.logits.dispose();
      const allowed = allowedAt(processors, { position: t, rows, length: l, vocabSize: v, tokens });
      const sel = selectTokens(logits, rows, v, allowed, opts, opts.rng);
      for (let r = 0; r < rows; r++) {
        tokens[r * l + t] = sel.tokens[r];
        logProbs[r * l + t] = sel.logProbs[r];
      }
      prev = sel.tokens;
    }
  } finally {
    disposeKvCache(cache);
  }
  return { batch: b, numSamples: n, length: l, tokens, logProbs };
}
