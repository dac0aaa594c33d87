/**
 * Building blocks of the oracle that vit.ts does not expose under another name: big_vision's `vit.Encoder` (pre-LN
 * blocks of self-attention + MLP, then `encoder_norm`) under any prefix, patch un-flattening, and flax's default
 * Dense initialiser. The block structure and parameter names are those of vit.ts's encoder
 * (`<prefix>/encoderblock_{i}/{LayerNorm_0, MultiHeadDotProductAttention_0, LayerNorm_1, MlpBlock_0}`,
 * `<prefix>/encoder_norm`); vit.ts hard-codes its `img/Transformer` prefix, hence this copy of the loop.
 */
import * as tf from '@tensorflow/tfjs-core';
import { layerNorm, mlpBlock, multiHeadAttention, type ParamInit } from '../ops';
import type { Params } from '../policy';

/** Parameters of a `vit.Encoder` of `depth` blocks at width `d` under `prefix`. */
export function initTransformerStack(init: ParamInit, prefix: string, depth: number, d: number, mlp: number): void {
  for (let i = 0; i < depth; i++) {
    const b = `${prefix}/encoderblock_${i}`;
    init.layerNorm(`${b}/LayerNorm_0`, d);
    init.attention(`${b}/MultiHeadDotProductAttention_0`, d, d, d);
    init.layerNorm(`${b}/LayerNorm_1`, d);
    init.mlp(`${b}/MlpBlock_0`, d, mlp);
  }
  init.layerNorm(`${prefix}/encoder_norm`, d);
}

/** x [B, T, D] → the `vit.Encoder` output [B, T, D] (pre-LN blocks, final norm). */
export function transformerStack(
  params: Params,
  prefix: string,
  depth: number,
  heads: number,
  x: tf.Tensor3D,
): tf.Tensor3D {
  return tf.tidy(() => {
    let h: tf.Tensor = x;
    for (let i = 0; i < depth; i++) {
      const b = `${prefix}/encoderblock_${i}`;
      const y = layerNorm(params, `${b}/LayerNorm_0`, h);
      h = tf.add(h, multiHeadAttention(params, `${b}/MultiHeadDotProductAttention_0`, heads, y, y));
      h = tf.add(h, mlpBlock(params, `${b}/MlpBlock_0`, layerNorm(params, `${b}/LayerNorm_1`, h)));
    }
    return layerNorm(params, `${prefix}/encoder_norm`, h) as tf.Tensor3D;
  });
}

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
