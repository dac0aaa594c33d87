/**
 * Building blocks of the oracle beyond vit.ts's (whose `transformerStack` it uses for its encoder and decoder):
 * patch un-flattening and flax's default Dense initialiser.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ParamInit } from '../ops';

/**
 * The inverse of vit.ts's `patchify`: patches [B, gh·gw, p·p·C] (each in row, column, channel order) → maps
 * [B, gh·p, gw·p, C]. Rank ≤ 4 throughout, as patchify.
 */
export function unpatchify(patches: tf.Tensor3D, gh: number, gw: number, patch: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, , f] = patches.shape;
    const c = f / (patch * patch);
    const x = tf.transpose(tf.reshape(patches, [b * gh, gw, patch, patch * c]), [0, 2, 1, 3]); // [B·gh, p, gw, p·C]
    return tf.reshape(x, [b, gh * patch, gw * patch, c]) as tf.Tensor4D;
  });
}

/**
 * flax's default Dense/Conv kernel init (lecun_normal: std 1/√fan_in; flax truncates at 2σ and rescales, this draws
 * the untruncated normal of the same std) and a zero bias.
 */
export function lecunDense(init: ParamInit, prefix: string, din: number, dout: number): void {
  init.normal(`${prefix}/kernel`, [din, dout], 1 / Math.sqrt(din));
  init.constant(`${prefix}/bias`, [dout], 0);
}
