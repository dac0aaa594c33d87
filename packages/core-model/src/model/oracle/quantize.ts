/**
 * Vector quantisation of the oracle's bottleneck, as big_vision's UViM VQ-VAE:
 *   - `standardize`: per vector, zero mean and unit variance over the channels (jax.nn.standardize, ε = 1e-5), so a
 *     pre-quantisation vector has norm ≈ √Dc;
 *   - `nearestCodes`: argmin_k |x − e_k|² = argmax_k (2x·e_k − |e_k|²) over the L2-normalised codewords (a matMul
 *     and an argMax; ties take the first index);
 *   - `straightThrough`: the selected codeword's values in the forward pass, the output's gradient passed unchanged
 *     to the pre-quantisation vector in the backward pass (tfjs has no stop_gradient, hence a custom gradient). The
 *     codewords are state, not parameters: no gradient reaches them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { customOp, matMulT } from '../../backend';
import { stopGradient } from '../ops';

/** jax.nn.standardize's default epsilon. */
export const STANDARDIZE_EPS = 1e-5;

/** (x − mean)/√(var + ε) over the last axis (differentiable). */
export function standardize(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const xc = tf.sub(x, tf.mean(x, -1, true));
    return tf.mul(xc, tf.rsqrt(tf.add(tf.mean(tf.mul(xc, xc), -1, true), STANDARDIZE_EPS)));
  });
}

/** The nearest codeword's index for each row of x [N, Dc] among codewords e [K, Dc] → int32 [N] (no gradient). */
export function nearestCodes(x: tf.Tensor2D, e: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const scores = tf.sub(tf.mul(matMulT(x, e, false, true), 2), tf.sum(tf.mul(e, e), 1)); // [N, K]: −|x−e|² + |x|²
    return tf.argMax(scores, 1) as tf.Tensor1D;
  });
}

/**
 * The rows of e [K, Dc] that `codes` [N] select → [N, Dc], as a one-hot matMul (no gather on any backend). The
 * one-hot is made int32 and cast: tfjs-backend-wasm 4.22's OneHot with dtype 'float32' writes the integers' bit
 * patterns (1 reads as 1.4e-45).
 */
export function selectCodewords(e: tf.Tensor2D, codes: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => tf.matMul(tf.cast(tf.oneHot(codes, e.shape[0]), 'float32'), e) as tf.Tensor2D);
}

/**
 * Straight-through estimator: returns `quantised`'s values; the gradient with respect to `x` is the gradient with
 * respect to the output (and none reaches `quantised`, a constant of this call).
 */
export function straightThrough(x: tf.Tensor, quantised: tf.Tensor): tf.Tensor {
  if (!tf.util.arraysEqual(x.shape, quantised.shape)) {
    throw new Error(`straightThrough: shapes [${x.shape}] and [${quantised.shape}] differ`);
  }
  return customOp(
    (_x: tf.Tensor) => ({ value: tf.clone(quantised), saved: [] }),
    (dy) => [tf.clone(dy)],
  )(x);
}

export interface Quantised {
  /** [..., Dc] the selected codewords' values, straight-through to `x`. */
  readonly quantised: tf.Tensor;
  /** [...] int32 codes. */
  readonly codes: tf.Tensor;
  /** [..., Dc] the selected codewords themselves (a constant: no gradient), for the commitment term. */
  readonly selected: tf.Tensor;
}

/** Nearest-codeword quantisation of x [..., Dc] with the straight-through gradient. */
export function quantize(x: tf.Tensor, e: tf.Tensor2D): Quantised {
  const d = x.shape[x.rank - 1];
  if (d !== e.shape[1]) throw new Error(`quantize: vectors of width ${d}, codewords of width ${e.shape[1]}`);
  const lead = x.shape.slice(0, -1);
  const [codes, selected] = tf.tidy(() => {
    // Through stopGradient: the backward pass ends there instead of walking the argmin path to x.
    const flat = tf.reshape(stopGradient(x), [-1, d]) as tf.Tensor2D;
    const idx = nearestCodes(flat, e);
    return [tf.reshape(idx, lead), tf.reshape(selectCodewords(e, idx), x.shape)];
  });
  return { quantised: straightThrough(x, selected), codes, selected };
}
