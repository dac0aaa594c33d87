/**
 * Gradient clipping as optax does it, kept on the device (no readback): the global-norm factor is one scalar tensor
 * computed once per step and multiplied into each gradient inside that variable's update.
 */
import * as tf from '@tensorflow/tfjs-core';
import { addMany } from '../backend';

/** sqrt(Σ‖g‖²) over all `grads`. */
export function globalNorm(grads: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    if (grads.length === 0) return tf.scalar(0);
    const squares = grads.map((g) => tf.sum(tf.square(g)));
    return tf.sqrt(addMany(squares)) as tf.Scalar;
  });
}

/**
 * The factor that `optax.clip_by_global_norm(maxNorm)` applies to every gradient: exactly 1 while the norm is below
 * `maxNorm`, else maxNorm / norm. (optax computes g / norm · maxNorm; g · (maxNorm / norm) differs by an ulp at most.)
 */
export function globalNormClipFactor(grads: readonly tf.Tensor[], maxNorm: number): tf.Scalar {
  if (!(maxNorm > 0)) throw new RangeError(`gradClipNorm must be > 0, got ${maxNorm}`);
  return tf.tidy(() => {
    const max = tf.scalar(maxNorm);
    return tf.div(max, tf.maximum(globalNorm(grads), max)) as tf.Scalar;
  });
}

/** `optax.clip_by_block_rms(threshold)` on one tensor: u / max(1, rms(u) / threshold). */
export function clipByBlockRms(u: tf.Tensor, threshold: number): tf.Tensor {
  return tf.tidy(() => tf.div(u, tf.maximum(1, tf.div(tf.sqrt(tf.mean(tf.square(u))), threshold))));
}
