/**
 * ViT encoder (big_vision `vit.py` shape): patch embedding as a dense layer over flattened patches, position
 * embeddings (2-D sin-cos by default, or learned), pre-LN blocks of multi-head self-attention + MLP (tanh-GELU),
 * final layer norm. No class token, no pooling: the decoder cross-attends to all P patch tokens.
 *
 * Dimension legend: B batch, Hi×Wi×C image, p patch side, P = (Hi/p)·(Wi/p) patches, D width, H heads.
 *
 * Parameter names (all under `img/`):
 *   img/embedding/{kernel [p·p·C, D], bias [D]}
 *   img/pos_embedding [1, P, D]                         (only when posemb = 'learned')
 *   img/Transformer/encoderblock_{i}/LayerNorm_0/{scale,bias}
 *   img/Transformer/encoderblock_{i}/MultiHeadDotProductAttention_0/{query,key,value,out}/{kernel,bias}
 *   img/Transformer/encoderblock_{i}/LayerNorm_1/{scale,bias}
 *   img/Transformer/encoderblock_{i}/MlpBlock_0/{Dense_0,Dense_1}/{kernel,bias}
 *   img/Transformer/encoder_norm/{scale,bias}
 */
import * as tf from '@tensorflow/tfjs-core';
import { denseP, layerNorm, mlpBlock, multiHeadAttention, param, sincos2d, type ParamInit } from './ops';
import type { Params } from './policy';

export interface VitConfig {
  /** Input image [Hi, Wi]; both must be multiples of `patch`. */
  readonly imageSize: readonly [number, number];
  readonly channels: number;
  readonly patch: number;
  readonly width: number;
  readonly depth: number;
  readonly heads: number;
  readonly mlp: number;
  /** 'sincos2d' (fixed; what made the toy detector learn) or 'learned'. */
  readonly posemb: 'sincos2d' | 'learned';
  /** Init std of learned position embeddings (big_vision: 0.02). */
  readonly posembStd: number;
}

export function vitGrid(cfg: VitConfig): [number, number] {
  const [h, w] = cfg.imageSize;
  if (h % cfg.patch !== 0 || w % cfg.patch !== 0) {
    throw new Error(`image ${h}x${w} is not a multiple of patch ${cfg.patch}`);
  }
  return [h / cfg.patch, w / cfg.patch];
}

export function initVit(init: ParamInit, cfg: VitConfig): void {
  const [gh, gw] = vitGrid(cfg);
  const d = cfg.width;
  if (d % cfg.heads !== 0) throw new Error(`ViT width ${d} not divisible by ${cfg.heads} heads`);
  init.dense('img/embedding', cfg.patch * cfg.patch * cfg.channels, d);
  if (cfg.posemb === 'learned') init.normal('img/pos_embedding', [1, gh * gw, d], cfg.posembStd);
  initTransformerStack(init, 'img/Transformer', cfg.depth, d, cfg.mlp);
}

/**
 * Parameters of big_vision's `vit.Encoder` (pre-LN blocks, final norm) of `depth` blocks at width `d` under `prefix`:
 * `<prefix>/encoderblock_{i}/{LayerNorm_0, MultiHeadDotProductAttention_0, LayerNorm_1, MlpBlock_0}`,
 * `<prefix>/encoder_norm`. The image encoder keeps it under `img/Transformer`; the UViM oracle has two of its own.
 */
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

/** x [B, T, D] → the `vit.Encoder` output [B, T, D] under `prefix` (see initTransformerStack). */
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

/** images [B, Hi, Wi, C] → patches [B, P, p·p·C], each flattened in (row, column, channel) order. */
export function patchify(images: tf.Tensor4D, patch: number): tf.Tensor3D {
  const [b, h, w, c] = images.shape;
  const gh = h / patch;
  const gw = w / patch;
  // Rank ≤ 4 throughout (some backends limit transpose rank): [B·gh, p, gw, p·C] → [B·gh, gw, p, p·C].
  const x = tf.transpose(tf.reshape(images, [b * gh, patch, gw, patch * c]), [0, 2, 1, 3]);
  return tf.reshape(x, [b, gh * gw, patch * patch * c]);
}

/** The encoder: images [B, Hi, Wi, C] in [−1, 1] → tokens [B, P, D]. */
export function vitEncode(params: Params, cfg: VitConfig, images: tf.Tensor4D): tf.Tensor3D {
  return tf.tidy(() => {
    const [gh, gw] = vitGrid(cfg);
    let x = denseP(params, 'img/embedding', patchify(images, cfg.patch)); // [B, P, D]
    const pos =
      cfg.posemb === 'learned'
        ? param(params, 'img/pos_embedding')
        : tf.tensor3d(sincos2d(gh, gw, cfg.width), [1, gh * gw, cfg.width]);
    x = tf.add(x, pos);
    return transformerStack(params, 'img/Transformer', cfg.depth, cfg.heads, x as tf.Tensor3D);
  });
}
