/**
 * Autoregressive Transformer decoder (big_vision `vtt.py` / UViM shape): token embedding + learned position
 * embeddings, pre-LN blocks of causal self-attention, cross-attention to the encoder output and MLP (tanh-GELU),
 * final layer norm, zero-initialised logits layer. Two ways to run it, which must agree exactly:
 *   - `decoderLogits`: teacher-forced, all L positions at once under a causal mask;
 *   - `decoderStep`: one position per call against a fixed-shape KV cache (for the sampler).
 * Both run the same `decoderBlock` and `decoderNorm`; they differ only in how a block's two attentions reach the
 * keys and values, and in how position embeddings are looked up.
 *
 * Dimension legend: B batch (rows; B·N in the sampler), L length, V vocabulary, D width, H heads, Dh = D/H,
 * P encoder tokens, De encoder width.
 *
 * Parameter names (all under `decoder/`):
 *   decoder/EmbedTargets/embedding [V, D]                (init N(0, 1), as UViM)
 *   decoder/pos_embedding [1, L, D]                      (init N(0, posembStd²); default: MODEL_DEFAULTS)
 *   decoder/decoderblock_{i}/LayerNorm_0/{scale,bias}
 *   decoder/decoderblock_{i}/MultiHeadDotProductAttention_0/{query,key,value,out}/{kernel,bias}   (causal self)
 *   decoder/decoderblock_{i}/LayerNorm_1/{scale,bias}
 *   decoder/decoderblock_{i}/MultiHeadDotProductAttention_1/{query,key,value,out}/{kernel,bias}  (cross; k, v: [De, D])
 *   decoder/decoderblock_{i}/LayerNorm_2/{scale,bias}
 *   decoder/decoderblock_{i}/MlpBlock_0/{Dense_0,Dense_1}/{kernel,bias}
 *   decoder/decoder_norm/{scale,bias}
 *   decoder/head/{kernel [D, V] (zeros), bias [V]}
 */
import * as tf from '@tensorflow/tfjs-core';
import { writePosition } from '../backend';
import {
  NEG,
  causalBias,
  denseP,
  layerNorm,
  stopGradient,
  mlpBlock,
  multiHeadAttention,
  param,
  splitHeads,
  type ParamInit,
} from './ops';
import type { Params } from './policy';

export interface DecoderConfig {
  readonly vocabSize: number;
  readonly length: number;
  readonly width: number;
  readonly depth: number;
  readonly heads: number;
  readonly mlp: number;
  /** Width of the encoder output it cross-attends to. */
  readonly encoderWidth: number;
  /** Init std of the learned position embeddings. */
  readonly posembStd: number;
}

export function initDecoder(init: ParamInit, cfg: DecoderConfig): void {
  const d = cfg.width;
  if (d % cfg.heads !== 0) throw new Error(`decoder width ${d} not divisible by ${cfg.heads} heads`);
  init.normal('decoder/EmbedTargets/embedding', [cfg.vocabSize, d], 1);
  init.normal('decoder/pos_embedding', [1, cfg.length, d], cfg.posembStd);
  for (let i = 0; i < cfg.depth; i++) {
    const b = `decoder/decoderblock_${i}`;
    init.layerNorm(`${b}/LayerNorm_0`, d);
    init.attention(`${b}/MultiHeadDotProductAttention_0`, d, d, d);
    init.layerNorm(`${b}/LayerNorm_1`, d);
    init.attention(`${b}/MultiHeadDotProductAttention_1`, d, cfg.encoderWidth, d);
    init.layerNorm(`${b}/LayerNorm_2`, d);
    init.mlp(`${b}/MlpBlock_0`, d, cfg.mlp);
  }
  init.layerNorm('decoder/decoder_norm', d);
  init.dense('decoder/head', d, cfg.vocabSize, 'zeros');
}

/** Targets [B, L] → decoder inputs [B, L]: shifted right by one with 0 (BOS) in front, last token dropped. */
export function shiftRight(tokens: tf.Tensor2D): tf.Tensor2D {
  const [b, l] = tokens.shape;
  return tf.concat(
    [tf.zeros([b, 1], 'int32'), tf.slice(tf.cast(tokens, 'int32'), [0, 0], [b, l - 1])],
    1,
  ) as tf.Tensor2D;
}

/** One attention sublayer of a block, given its parameter prefix and the layer-normed input. */
type Attention = (prefix: string, y: tf.Tensor) => tf.Tensor;

/**
 * Decoder block `i` on x [B, Lq, D] (all L positions, or the one being decoded): pre-LN residual sublayers of
 * causal self-attention, cross-attention to the encoder output, and the MLP. The caller supplies the two attentions
 * (`MultiHeadDotProductAttention_0` and `_1` of the block), which is where teacher forcing and the cached step differ.
 */
function decoderBlock(
  params: Params,
  i: number,
  x: tf.Tensor,
  selfAttention: Attention,
  crossAttention: Attention,
): tf.Tensor {
  const blk = `decoder/decoderblock_${i}`;
  let y = layerNorm(params, `${blk}/LayerNorm_0`, x);
  x = tf.add(x, selfAttention(`${blk}/MultiHeadDotProductAttention_0`, y));
  y = layerNorm(params, `${blk}/LayerNorm_1`, x);
  x = tf.add(x, crossAttention(`${blk}/MultiHeadDotProductAttention_1`, y));
  return tf.add(x, mlpBlock(params, `${blk}/MlpBlock_0`, layerNorm(params, `${blk}/LayerNorm_2`, x)));
}

/** The final layer norm, whose output `decoderHead` maps to logits. */
function decoderNorm(params: Params, x: tf.Tensor): tf.Tensor {
  return layerNorm(params, 'decoder/decoder_norm', x);
}

/**
 * Teacher-forced decoder features: encoded [B, P, De], decoder inputs [B, L] (already shifted right) → the final
 * layer norm's output [B, L, D], which `decoderHead` maps to logits. Embedding lookup is tf.gather (its gradient
 * needs UnsortedSegmentSum, which backend/wasm-kernels.ts registers on wasm).
 */
export function decoderFeatures(
  params: Params,
  cfg: DecoderConfig,
  encoded: tf.Tensor3D,
  inputs: tf.Tensor2D,
): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, l] = inputs.shape;
    if (l !== cfg.length) throw new Error(`decoder input length ${l} != configured length ${cfg.length}`);
    const emb = tf.reshape(tf.gather(param(params, 'decoder/EmbedTargets/embedding'), tf.reshape(inputs, [-1])), [
      b,
      l,
      cfg.width,
    ]);
    let x = tf.add(emb, param(params, 'decoder/pos_embedding')); // [B, L, D]
    const mask = causalBias(l); // [1, 1, L, L]
    const selfAttention: Attention = (prefix, y) => multiHeadAttention(params, prefix, cfg.heads, y, y, mask);
    const crossAttention: Attention = (prefix, y) => multiHeadAttention(params, prefix, cfg.heads, y, encoded);
    for (let i = 0; i < cfg.depth; i++) x = decoderBlock(params, i, x, selfAttention, crossAttention);
    return decoderNorm(params, x) as tf.Tensor3D;
  });
}

/**
 * The output layer: features [B, L, D] → logits [B, L, V]. `headOnly`: gradients reach only this layer
 * (`decoder/head`), the features it reads are constants.
 */
export function decoderHead(params: Params, features: tf.Tensor3D, headOnly = false): tf.Tensor3D {
  return denseP(params, 'decoder/head', headOnly ? stopGradient(features) : features) as tf.Tensor3D;
}

/** Teacher-forced logits [B, L, V]: `decoderHead` of `decoderFeatures`. */
export function decoderLogits(
  params: Params,
  cfg: DecoderConfig,
  encoded: tf.Tensor3D,
  inputs: tf.Tensor2D,
): tf.Tensor3D {
  return tf.tidy(() => decoderHead(params, decoderFeatures(params, cfg, encoded, inputs)));
}

// ---------------------------------------------------------------------------------------------------------------
// KV-cached stepping. Every tensor keeps the same shape from step to step (WebGPU compiles shaders per shape).

export interface KvCache {
  /**
   * Per layer: self-attention keys stored transposed [B, H, Dh, L] and values [B, H, L, Dh] (position t written at
   * step t, zeros after). Keys are kept transposed so that no step transposes anything: with one query position,
   * [B, 1, D] → [B, H, 1, Dh] and [B, H, Dh, 1] are both plain reshapes.
   */
  readonly selfKT: tf.Tensor4D[];
  readonly selfV: tf.Tensor4D[];
  /** Per layer: cross-attention keys [B, H, Dh, P] (transposed) and values [B, H, P, Dh], computed once. */
  readonly crossKT: tf.Tensor4D[];
  readonly crossV: tf.Tensor4D[];
}

/**
 * Allocates the cache for encoded [B, P, De] decoded `repeat` times each (rows B·repeat, image i's at rows
 * i·repeat … i·repeat + repeat − 1, as the sampler lays out N samples per image): self buffers zero, cross keys and
 * values projected once per image and then copied to its rows (the same values as projecting every row).
 */
export function initKvCache(params: Params, cfg: DecoderConfig, encoded: tf.Tensor3D, repeat = 1): KvCache {
  if (!(Number.isInteger(repeat) && repeat >= 1)) throw new RangeError(`initKvCache: repeat ${repeat}`);
  return tf.tidy(() => {
    const b = encoded.shape[0] * repeat;
    const dh = cfg.width / cfg.heads;
    // Each image's rows next to each other: [B, …] → [B, repeat, …] → [B·repeat, …], by concatenation (wasm's Tile
    // and GatherV2 run element by element; its Concat copies blocks).
    const spread = (x: tf.Tensor4D): tf.Tensor4D =>
      repeat === 1
        ? x
        : tf.reshape(
            tf.concat(
              Array.from({ length: repeat }, () => tf.expandDims(x, 1)),
              1,
            ),
            [b, x.shape[1], x.shape[2], x.shape[3]],
          );
    const cache = {
      selfKT: [] as tf.Tensor4D[],
      selfV: [] as tf.Tensor4D[],
      crossKT: [] as tf.Tensor4D[],
      crossV: [] as tf.Tensor4D[],
    };
    for (let i = 0; i < cfg.depth; i++) {
      const att = `decoder/decoderblock_${i}/MultiHeadDotProductAttention_1`;
      cache.selfKT.push(tf.zeros([b, cfg.heads, dh, cfg.length]));
      cache.selfV.push(tf.zeros([b, cfg.heads, cfg.length, dh]));
      const kT = tf.transpose(splitHeads(denseP(params, `${att}/key`, encoded), cfg.heads), [0, 1, 3, 2]);
      cache.crossKT.push(spread(kT as tf.Tensor4D));
      cache.crossV.push(spread(splitHeads(denseP(params, `${att}/value`, encoded), cfg.heads)));
    }
    return cache;
  });
}

export function disposeKvCache(cache: KvCache): void {
  tf.dispose([...cache.selfKT, ...cache.selfV, ...cache.crossKT, ...cache.crossV]);
}

/**
 * Forward-only attention for one query position: q [B, H, 1, Dh], kT [B, H, Dh, S], v [B, H, S, Dh] → [B, H, 1, Dh].
 */
function attendOne(q: tf.Tensor, kT: tf.Tensor, v: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  let scores = tf.mul(tf.matMul(q, kT), 1 / Math.sqrt(q.shape[3]!)); // [B, H, 1, S]
  if (bias !== undefined) scores = tf.add(scores, bias);
  return tf.matMul(tf.softmax(scores), v);
}

/**
 * One decoding step at position t: inputs [B] (the token at t−1, or 0 at t = 0) → logits [B, V] and the cache with
 * position t written (the old self-attention buffers are consumed: disposed here, and on wasm written in place, see
 * `writePosition`); attention sees positions ≤ t through an additive [1, 1, 1, L] mask. Computes what
 * `decoderLogits` computes at position t, through the same `decoderBlock` (decoder.spec.ts checks the two agree).
 */
export function decoderStep(
  params: Params,
  cfg: DecoderConfig,
  cache: KvCache,
  inputs: tf.Tensor1D,
  t: number,
): { logits: tf.Tensor2D; cache: KvCache } {
  const l = cfg.length;
  const h = cfg.heads;
  const dh = cfg.width / h;
  const oneHot = new Float32Array(l);
  oneHot[t] = 1;
  const visible = new Float32Array(l).map((_, j) => (j <= t ? 0 : NEG));
  const out = tf.tidy(() => {
    const b = inputs.shape[0];
    const writeRow = tf.tensor4d(oneHot, [1, 1, 1, l]); // selects column t of [.., Dh, L]
    const writeCol = tf.reshape(writeRow, [1, 1, l, 1]) as tf.Tensor4D; // selects row t of [.., L, Dh]
    const mask = tf.tensor4d(visible, [1, 1, 1, l]);
    const emb = tf.gather(param(params, 'decoder/EmbedTargets/embedding'), inputs); // [B, D]
    // Position t's embedding as one-hot [1, L] @ [L, D] (exact): same op and shapes at every step.
    const pos = tf.matMul(
      tf.reshape(writeRow, [1, l]),
      tf.reshape(param(params, 'decoder/pos_embedding'), [l, cfg.width]),
    );
    let x = tf.reshape(tf.add(emb, pos), [b, 1, cfg.width]); // [B, 1, D]
    const heads = (z: tf.Tensor): tf.Tensor4D => tf.reshape(z, [b, h, 1, dh]); // [B, 1, D] → [B, H, 1, Dh]
    const merge = (z: tf.Tensor): tf.Tensor3D => tf.reshape(z, [b, 1, cfg.width]); // [B, H, 1, Dh] → [B, 1, D]
    const selfKT: tf.Tensor4D[] = [];
    const selfV: tf.Tensor4D[] = [];
    for (let i = 0; i < cfg.depth; i++) {
      // Self-attention: write position t's key and value into the layer's cache, attend over positions ≤ t.
      const selfAttention: Attention = (sa, y) => {
        const q = heads(denseP(params, `${sa}/query`, y));
        const kNew = tf.reshape(denseP(params, `${sa}/key`, y), [b, h, dh, 1]) as tf.Tensor4D;
        const kT = writePosition(cache.selfKT[i], kNew, t, 3, writeRow); // [B, H, Dh, L]
        const v = writePosition(cache.selfV[i], heads(denseP(params, `${sa}/value`, y)), t, 2, writeCol);
        selfKT.push(kT);
        selfV.push(v);
        return denseP(params, `${sa}/out`, merge(attendOne(q, kT, v, mask)));
      };
      // Cross-attention: the encoder's keys and values were projected once, in initKvCache.
      const crossAttention: Attention = (ca, y) => {
        const q = heads(denseP(params, `${ca}/query`, y));
        return denseP(params, `${ca}/out`, merge(attendOne(q, cache.crossKT[i], cache.crossV[i])));
      };
      x = decoderBlock(params, i, x, selfAttention, crossAttention);
    }
    const logits = tf.reshape(decoderHead(params, decoderNorm(params, x) as tf.Tensor3D), [b, cfg.vocabSize]);
    return { logits: logits as tf.Tensor2D, selfKT, selfV };
  });
  tf.dispose([...cache.selfKT, ...cache.selfV]);
  return {
    logits: out.logits,
    cache: { selfKT: out.selfKT, selfV: out.selfV, crossKT: cache.crossKT, crossV: cache.crossV },
  };
}
