/**
 * UViM stage I, the "oracle": a VQ-VAE over a task's outputs whose encoder and decoder both see the image (as
 * big_vision's UViM `vit.Model`). Data flow, dimension legend B batch, H×W image, p patch, P = (H/p)·(W/p) tokens,
 * D width, L code length, Dc codeword width, K dictionary size, C_k channels of output key k:
 *
 *   encode: Σ_k dense(patchify(labels_k)) [B, P, D]  (+ ctx_enc_embedding(patchify(image)))  + pos_embedding_encoder
 *           → encoder (pre-LN ViT blocks + final norm) → bottleneck down to L tokens → encoder_head [B, L, Dc]
 *           → standardize per vector → nearest L2-normalised codeword, straight-through → quantised [B, L, Dc]
 *   decode: codes → codewords (or given vectors) → code dropout (training) → decoder_stem [B, L, D] → bottleneck up
 *           to P tokens (+ ctx_dec_embedding(patchify(image))) + pos_embedding_decoder → decoder
 *           → head_k [B, P, p²·C_k] → [B, H, W, C_k] per key
 *
 * Parameter names (flax's, flattened with '/'; kernels 2-D so that every dense layer is one matMul):
 *   embedding_<k>/{kernel [p²·C_k, D], bias [D]}       big_vision DenseGeneral kernel [C_k, p², D]: a transpose
 *   ctx_enc_embedding/{kernel [p²·Cc, D], bias [D]}    big_vision conv kernel [p, p, Cc, D]: a reshape
 *   pos_embedding_encoder [1, P, D]                     N(0, (1/√D)²) by default
 *   encoder/encoderblock_{i}/{LayerNorm_0, MultiHeadDotProductAttention_0/{query,key,value,out}, LayerNorm_1,
 *     MlpBlock_0/{Dense_0,Dense_1}}, encoder/encoder_norm   (attention kernels [D, D]; flax's are [D, H, D/H])
 *   bottleneck_downsample [P, L]                        (bottleneck 'learned' only)
 *   encoder_head/{kernel [D, Dc], bias [Dc]}
 *   decoder_stem/{kernel [Dc, D], bias [D]}
 *   bottleneck_upsample [L, P]                          (bottleneck 'learned' only)
 *   ctx_dec_embedding/{kernel, bias}, pos_embedding_decoder, decoder/…  as on the encoder side
 *   head_<k>/{kernel [D, p²·C_k] (zeros), bias [p²·C_k] (zeros)}   big_vision [D, C_k, p²] / [C_k, p²]: a transpose
 * Patches flatten in (row, column, channel) order, as vit.ts's `patchify`, so the class axis of a head's output is
 * last (tf.logSoftmax works on the last axis only).
 *
 * State (not trained by gradient; dictionary.ts): `dictionary` [K, Dc] and `counts` [K], kept apart from the
 * parameters in an `OracleState` so that optimizers never see them; `oracleStateTensors` names them
 * `state/dictionary` and `state/counts` for a checkpoint.
 *
 * One file because it is one model: init, encode, decode, loss and the train step all follow the parameter layout
 * above (the quantiser, dictionary, bottleneck and config live beside it).
 */
import * as tf from '@tensorflow/tfjs-core';
import { addMany, readTensor } from '../../backend';
import type { Optimizer } from '../../optim/optimizer';
import { Rng } from '../../rng';
import { dense, denseP, param, pickOneHot, ParamInit } from '../ops';
import type { Params } from '../policy';
import { initTransformerStack, patchify, transformerStack } from '../vit';
import { lecunDense, unpatchify } from './blocks';
import { bottleneckDown, bottleneckUp } from './bottleneck';
import { oracleGrid, oracleTokens, type OracleConfig } from './config';
import {
  codebookHealth,
  codeHistogram,
  codewords,
  codewordsTensor,
  emaUpdate,
  initOracleState,
  type CodebookHealth,
  type OracleState,
} from './dictionary';
import { quantize, selectCodewords, standardize } from './quantize';

export interface OracleModel {
  readonly params: Params;
  readonly state: OracleState;
}

/** Fresh parameters and state, deterministic in `seed` (parameters in the documented order, then the dictionary). */
export function initOracle(cfg: OracleConfig, seed: number): OracleModel {
  const rng = Rng.fromSeed(seed);
  const init = new ParamInit(rng);
  const d = cfg.width;
  const p2 = cfg.patch * cfg.patch;
  const tokens = oracleTokens(cfg);
  const posStd = cfg.posembStd ?? 1 / Math.sqrt(d);
  for (const o of cfg.outputs) lecunDense(init, `embedding_${o.name}`, p2 * o.channels, d);
  if (cfg.withEncoderCtx) lecunDense(init, 'ctx_enc_embedding', p2 * cfg.ctxChannels, d);
  init.normal('pos_embedding_encoder', [1, tokens, d], posStd);
  initTransformerStack(init, 'encoder', cfg.encDepth, d, cfg.mlp);
  if (cfg.bottleneck === 'learned') init.xavierUniform('bottleneck_downsample', [tokens, cfg.codeLen]);
  lecunDense(init, 'encoder_head', d, cfg.codewordDim);
  lecunDense(init, 'decoder_stem', cfg.codewordDim, d);
  if (cfg.bottleneck === 'learned') init.xavierUniform('bottleneck_upsample', [cfg.codeLen, tokens]);
  if (cfg.withDecoderCtx) lecunDense(init, 'ctx_dec_embedding', p2 * cfg.ctxChannels, d);
  init.normal('pos_embedding_decoder', [1, tokens, d], posStd);
  initTransformerStack(init, 'decoder', cfg.decDepth, d, cfg.mlp);
  for (const o of cfg.outputs) init.dense(`head_${o.name}`, d, p2 * o.channels, 'zeros');
  return { params: init.params, state: initOracleState(cfg, rng) };
}

export function disposeOracle(model: OracleModel): void {
  tf.dispose([...model.params.values()]);
}

/** Per output key, the task output [B, H, W, C_k] (one-hot or soft labels for `xent` keys, values for `mse`). */
export type OracleLabels = Readonly<Record<string, tf.Tensor4D>>;

function checkImage(cfg: OracleConfig, name: string, x: tf.Tensor4D, channels: number): void {
  const [, h, w, c] = x.shape;
  if (h !== cfg.imageSize || w !== cfg.imageSize || c !== channels) {
    throw new Error(
      `oracle: ${name} is [${x.shape.join(', ')}], expected [B, ${cfg.imageSize}, ${cfg.imageSize}, ${channels}]`,
    );
  }
}

function ctxTokens(params: Params, cfg: OracleConfig, name: string, ctx: tf.Tensor4D | undefined): tf.Tensor {
  if (ctx === undefined) throw new Error(`oracle: ${name} needs the image context (ctx)`);
  checkImage(cfg, 'ctx', ctx, cfg.ctxChannels);
  return denseP(params, name, patchify(ctx, cfg.patch));
}

export interface EncodedTensors {
  /** [B, L, Dc] standardised vectors before quantisation (what the EMA update sums). */
  readonly preQuant: tf.Tensor3D;
  /** [B, L, Dc] codeword values with the straight-through gradient to `preQuant`. */
  readonly quantised: tf.Tensor3D;
  /** [B, L] int32 code. */
  readonly codes: tf.Tensor2D;
  /** [B, L, Dc] the selected codewords (constants), for the commitment term. */
  readonly selected: tf.Tensor3D;
}

/** The encoder as tensors (differentiable; usable under a gradient tape). The dictionary is only read. */
export function oracleEncodeTensors(
  params: Params,
  state: OracleState,
  cfg: OracleConfig,
  labels: OracleLabels,
  ctx?: tf.Tensor4D,
): EncodedTensors {
  return tf.tidy(() => {
    let x: tf.Tensor | null = null;
    for (const o of cfg.outputs) {
      const y = labels[o.name];
      if (y === undefined) throw new Error(`oracle: labels lack the output key '${o.name}'`);
      checkImage(cfg, `labels '${o.name}'`, y, o.channels);
      const e = denseP(params, `embedding_${o.name}`, patchify(y, cfg.patch));
      x = x === null ? e : tf.add(x, e);
    }
    if (cfg.withEncoderCtx) x = tf.add(x!, ctxTokens(params, cfg, 'ctx_enc_embedding', ctx));
    x = tf.add(x!, param(params, 'pos_embedding_encoder'));
    x = transformerStack(params, 'encoder', cfg.encDepth, cfg.heads, x as tf.Tensor3D);
    x = bottleneckDown(params, cfg, x as tf.Tensor3D);
    const preQuant = standardize(denseP(params, 'encoder_head', x)) as tf.Tensor3D;
    const q = quantize(preQuant, codewordsTensor(state));
    return {
      preQuant,
      quantised: q.quantised as tf.Tensor3D,
      codes: q.codes as tf.Tensor2D,
      selected: q.selected as tf.Tensor3D,
    };
  });
}

export interface Encoded {
  /** [B·L] row-major code. */
  readonly codes: Int32Array;
  /** [B, L, Dc] (the caller disposes). */
  readonly preQuant: tf.Tensor3D;
  /** [B, L, Dc] (the caller disposes). */
  readonly quantised: tf.Tensor3D;
}

/**
 * Encodes a batch with the dictionary frozen (stage II targets are `codes + 1`): deterministic, no state change.
 * Reads the codes back with `await` (the only read that works on every backend).
 */
export async function oracleEncode(
  params: Params,
  state: OracleState,
  cfg: OracleConfig,
  labels: OracleLabels,
  ctx?: tf.Tensor4D,
): Promise<Encoded> {
  const enc = oracleEncodeTensors(params, state, cfg, labels, ctx);
  try {
    const codes = Int32Array.from(await readTensor(enc.codes));
    return { codes, preQuant: enc.preQuant, quantised: enc.quantised };
  } finally {
    tf.dispose([enc.codes, enc.selected]);
  }
}

/**
 * The code-dropout keep mask [B·L] (1 keep, 0 drop), big_vision's `code_dropout='random'`: importance
 * i ↦ 1 − (i+1)/(L+1) (linspace(1, 0, L+2)[1:−1]), a threshold U(0,1) per example, keep where importance > threshold,
 * then each example's mask permuted independently. So each example keeps ⌈(1 − thr)(L+1)⌉ − 1 tokens (a uniformly
 * random share). Draws: the B thresholds first, then a Fisher–Yates shuffle per example.
 */
export function codeDropoutMask(batch: number, codeLen: number, rng: Rng): Float32Array {
  const thr = Array.from({ length: batch }, () => rng.next());
  const mask = new Float32Array(batch * codeLen);
  for (let b = 0; b < batch; b++) {
    const row: number[] = [];
    for (let i = 0; i < codeLen; i++) row.push(1 - (i + 1) / (codeLen + 1) > thr[b] ? 1 : 0);
    rng.shuffle(row);
    mask.set(row, b * codeLen);
  }
  return mask;
}

/** What to decode: a code (int32 [B, L] tensor or row-major Int32Array [B·L]) or codeword-space vectors [B, L, Dc]. */
export type CodeInput = Int32Array | tf.Tensor2D | { readonly vectors: tf.Tensor3D };

export interface DecodeOptions {
  /** Training mode: applies code dropout (needs `rng`). Default false. */
  readonly train?: boolean;
  readonly rng?: Rng;
}

/** The code's codeword vectors [B, L, Dc]. */
function codeVectors(state: OracleState, cfg: OracleConfig, code: CodeInput): tf.Tensor3D {
  const { codeLen: l, codewordDim: d } = cfg;
  if (code instanceof Int32Array) {
    if (code.length % l !== 0)
      throw new Error(`oracle: ${code.length} code values are not a whole number of codes of length ${l}`);
    const e = codewords(state);
    const v = new Float32Array(code.length * d);
    code.forEach((c, n) => {
      if (!(c >= 0 && c < cfg.dictSize))
        throw new RangeError(`oracle: code ${c} at ${n} is outside [0, ${cfg.dictSize})`);
      v.set(e.subarray(c * d, (c + 1) * d), n * d);
    });
    return tf.tensor3d(v, [code.length / l, l, d]);
  }
  if (code instanceof tf.Tensor) {
    if (code.shape[1] !== l) throw new Error(`oracle: codes are [${code.shape.join(', ')}], expected [B, ${l}]`);
    return tf.tidy(
      () =>
        tf.reshape(selectCodewords(codewordsTensor(state), tf.reshape(code, [-1]) as tf.Tensor1D), [
          code.shape[0],
          l,
          d,
        ]) as tf.Tensor3D,
    );
  }
  const v = code.vectors;
  if (v.shape[1] !== l || v.shape[2] !== d)
    throw new Error(`oracle: code vectors are [${v.shape.join(', ')}], expected [B, ${l}, ${d}]`);
  return v;
}

/** The decoder: a code (see `CodeInput`) and the image context → per output key [B, H, W, C_k] (logits or values). */
export function oracleDecode(
  params: Params,
  state: OracleState,
  cfg: OracleConfig,
  code: CodeInput,
  ctx: tf.Tensor4D | undefined,
  opts: DecodeOptions = {},
): Record<string, tf.Tensor4D> {
  return tf.tidy(() => {
    let x: tf.Tensor = codeVectors(state, cfg, code);
    const b = x.shape[0];
    if (opts.train === true && cfg.codeDropout === 'random') {
      if (opts.rng === undefined) throw new Error('oracle: code dropout in training needs an rng');
      x = tf.mul(x, tf.tensor3d(codeDropoutMask(b, cfg.codeLen, opts.rng), [b, cfg.codeLen, 1]));
    }
    x = bottleneckUp(params, cfg, denseP(params, 'decoder_stem', x) as tf.Tensor3D);
    if (cfg.withDecoderCtx) {
      if (ctx !== undefined && ctx.shape[0] !== b)
        throw new Error(`oracle: ${b} codes but ${ctx.shape[0]} context images`);
      x = tf.add(x, ctxTokens(params, cfg, 'ctx_dec_embedding', ctx));
    }
    x = tf.add(x, param(params, 'pos_embedding_decoder'));
    x = transformerStack(params, 'decoder', cfg.decDepth, cfg.heads, x as tf.Tensor3D);
    const [gh, gw] = oracleGrid(cfg);
    const out: Record<string, tf.Tensor4D> = {};
    for (const o of cfg.outputs) {
      const y = dense(x, param(params, `head_${o.name}/kernel`), param(params, `head_${o.name}/bias`)) as tf.Tensor3D;
      out[o.name] = unpatchify(y, gh, gw, cfg.patch);
    }
    return out;
  });
}

export interface OracleBatch {
  readonly labels: OracleLabels;
  /** [B, H, W, Cc] image context in [−1, 1] (needed unless both ctx options are off). */
  readonly ctx?: tf.Tensor4D;
  /** Optional per-pixel loss weights [B, H, W] per key (e.g. thing pixels ×5); a key without weights weighs 1. */
  readonly weights?: Readonly<Record<string, tf.Tensor3D>>;
}

/**
 * The reconstruction loss: per key the mean over pixels of w·ℓ, ℓ = −Σ_c y_c·log softmax(out)_c (`xent`) or
 * mean_c (out − y)² (`mse`), w the key's per-pixel weight (1 without weights); the keys' losses summed, each times
 * its output's `weight` (`perKey` holds them unweighted).
 */
export function reconstructionLoss(
  cfg: OracleConfig,
  outputs: Readonly<Record<string, tf.Tensor4D>>,
  batch: OracleBatch,
): { total: tf.Scalar; perKey: Record<string, tf.Scalar> } {
  const perKey: Record<string, tf.Scalar> = {};
  let total: tf.Scalar | null = null;
  for (const o of cfg.outputs) {
    const out = outputs[o.name];
    const y = batch.labels[o.name];
    const perPixel =
      o.loss === 'xent'
        ? tf.neg(pickOneHot(tf.logSoftmax(out), y)) // [B, H, W]
        : tf.mean(tf.squaredDifference(out, y), -1);
    const w = batch.weights?.[o.name];
    const l = tf.mean(w === undefined ? perPixel : tf.mul(perPixel, w)) as tf.Scalar;
    perKey[o.name] = l;
    const weighted = o.weight === 1 ? l : (tf.mul(l, o.weight) as tf.Scalar);
    total = total === null ? weighted : (tf.add(total, weighted) as tf.Scalar);
  }
  return { total: total!, perKey };
}

export interface ForwardOptions {
  /** Training mode: code dropout (needs `rng`). */
  readonly train?: boolean;
  readonly rng?: Rng;
}

export interface OracleLossResult {
  /** rec + commitment·mean((x − sg(x_q))²). */
  readonly loss: tf.Scalar;
  /** `rec`, `rec_<key>` per key, `commitment` (unweighted, always computed). */
  readonly terms: Record<string, tf.Scalar>;
  readonly encoded: EncodedTensors;
  readonly outputs: Record<string, tf.Tensor4D>;
}

/** Encode, decode (from the straight-through quantised vectors) and the loss, in one differentiable pass. */
export function oracleLoss(
  params: Params,
  state: OracleState,
  cfg: OracleConfig,
  batch: OracleBatch,
  opts: ForwardOptions = {},
): OracleLossResult {
  // tf.tidy keeps every tensor of the returned (nested) object; its type wants an index signature, hence the casts.
  return tf.tidy(() => {
    const encoded = oracleEncodeTensors(params, state, cfg, batch.labels, batch.ctx);
    const outputs = oracleDecode(params, state, cfg, { vectors: encoded.quantised }, batch.ctx, opts);
    const rec = reconstructionLoss(cfg, outputs, batch);
    const commitment = tf.mean(tf.squaredDifference(encoded.preQuant, encoded.selected)) as tf.Scalar;
    const loss = cfg.commitment > 0 ? (tf.add(rec.total, tf.mul(commitment, cfg.commitment)) as tf.Scalar) : rec.total;
    const terms: Record<string, tf.Scalar> = { rec: rec.total, commitment };
    for (const [k, v] of Object.entries(rec.perKey)) terms[`rec_${k}`] = v;
    const result: OracleLossResult = { loss, terms, encoded, outputs };
    return result as unknown as tf.TensorContainer;
  }) as unknown as OracleLossResult;
}

export interface OracleTrainOptions {
  /** Draws code dropout, then the dictionary splits. */
  readonly rng: Rng;
  /** Update the dictionary by EMA after the step (default true; big_vision's `freeze_dict` false). */
  readonly updateDict?: boolean;
}

export interface OracleStepResult {
  /**
   * False when the loss or a gradient was NaN or ±∞: then neither the parameters nor the dictionary were updated
   * (`state` is the input state).
   */
  readonly finite: boolean;
  readonly loss: number;
  readonly terms: Record<string, number>;
  /** The dictionary state after the step (the input state when `updateDict` is false). */
  readonly state: OracleState;
  /** [B·L] the step's code (assigned with the dictionary before the update). */
  readonly codes: Int32Array;
  /** Dead codewords replaced this step. */
  readonly splits: number;
  /** Usage of this batch's code histogram. */
  readonly batchHealth: CodebookHealth;
}

/**
 * One training step: gradients of `oracleLoss` (train mode) with respect to `params`, `optimizer.apply`, then the
 * dictionary's EMA update from the step's codes and pre-quantisation vectors, outside the tape (no gradient reaches
 * the dictionary). `params` is updated in place; the new dictionary state is returned. A non-finite loss or
 * gradient updates nothing (`finite` false).
 */
export async function oracleTrainStep(
  params: Params,
  state: OracleState,
  cfg: OracleConfig,
  optimizer: Optimizer,
  batch: OracleBatch,
  opts: OracleTrainOptions,
): Promise<OracleStepResult> {
  const names = [...params.keys()];
  const vars = names.map((n) => params.get(n)!);
  const kept: { codes?: tf.Tensor; preQuant?: tf.Tensor; terms: Record<string, tf.Scalar> } = { terms: {} };
  const { value, grads } = tf.variableGrads(() => {
    const r = oracleLoss(params, state, cfg, batch, { train: true, rng: opts.rng });
    kept.codes = tf.keep(r.encoded.codes);
    kept.preQuant = tf.keep(r.encoded.preQuant);
    for (const [k, v] of Object.entries(r.terms)) kept.terms[k] = tf.keep(v);
    return r.loss;
  }, vars);
  try {
    const named = new Map<string, tf.Tensor>();
    names.forEach((n, i) => {
      const g = grads[vars[i].name];
      if (g !== undefined) named.set(n, g);
    });
    const loss = (await readTensor(value))[0];
    const sumSq = tf.tidy(() => addMany([tf.scalar(0), ...[...named.values()].map((g) => tf.sum(tf.square(g)))]));
    const gradSq = (await readTensor(sumSq).finally(() => sumSq.dispose()))[0];
    const finite = Number.isFinite(loss) && Number.isFinite(gradSq);
    if (finite) optimizer.apply(params, named);
    const codes = Int32Array.from(await readTensor(kept.codes!));
    const terms: Record<string, number> = {};
    for (const [k, v] of Object.entries(kept.terms)) terms[k] = (await readTensor(v))[0];
    let next = state;
    let splits = 0;
    if (finite && opts.updateDict !== false) {
      const pre = await readTensor(kept.preQuant!);
      const r = emaUpdate(state, codes, pre, { momentum: cfg.momentum, minCount: cfg.minCount, rng: opts.rng });
      next = r.state;
      splits = r.splits;
    }
    const batchHealth = codebookHealth(codeHistogram(codes, cfg.dictSize));
    return { finite, loss, terms, state: next, codes, splits, batchHealth };
  } finally {
    tf.dispose([value, ...Object.values(grads), kept.codes!, kept.preQuant!, ...Object.values(kept.terms)]);
  }
}
