/**
 * The Transformer building blocks shared by the encoder, the decoder and the KV-cached sampler: dense layers that
 * run as 2-D matMuls, layer norm, tanh-GELU, multi-head attention, 2-D sin-cos position embeddings, and the
 * parameter initialisers that fill a `Params` map deterministically from an `Rng`.
 *
 * Dimension legend: B batch (rows), L query length, S key length, D width, H heads, Dh = D/H head width.
 */
import * as tf from '@tensorflow/tfjs-core';
import { customOp, matMul, matMulT, sumRows } from '../backend';
import type { Params } from './policy';
import type { Rng } from '../rng';
import {
  fusedGelu,
  fusedGeluGrad,
  fusedLayerNorm,
  fusedLayerNormDyXhat,
  fusedLayerNormGradX,
  fusedScaledSoftmax,
  fusedSoftmaxGrad,
  fusedWebgpu,
  GELU_A,
  GELU_C,
  LN_EPS,
} from '../backend/webgpu-kernels';
import { fusedWasm, wasmFused } from '../backend/wasm-fused';

/** Large negative finite logit for masked positions/tokens: exp() underflows to exactly 0, 0·NEG stays finite. */
export const NEG = -1e9;

/** Looks a parameter up by name; a missing one is a programmer error. */
export function param(params: Params, name: string): tf.Variable {
  const p = params.get(name);
  if (p === undefined) throw new Error(`missing parameter '${name}'`);
  return p;
}

/**
 * x [N, Din] @ kernel [Din, Dout] + bias [Dout] as one custom-gradient op: dx = dy·Wᵀ, dW = xᵀ·dy, db = 1ᵀ·dy.
 * Computing db as a matMul (not the broadcast-add's column sum) and avoiding flagged matMuls is what keeps the
 * wasm step fast; on GPUs it is simply fewer kernels.
 */
const denseBiasOp = customOp(
  (x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor) => ({
    // On webgpu the bias add rides in the matMul kernel (one kernel fewer); on wasm it is wasm-fused.ts's row add
    // (tfjs's fused matMul there would bypass the native GEMM).
    value: fusedWebgpu()
      ? tf.fused.matMul({ a: x as tf.Tensor2D, b: kernel as tf.Tensor2D, bias })
      : fusedWasm()
        ? wasmFused.addRow(tf.matMul(x, kernel), bias)
        : tf.add(tf.matMul(x, kernel), bias),
    saved: [x, kernel],
  }),
  (dy, [x, kernel]) => [matMulT(dy, kernel, false, true), matMulT(x, dy, true, false), sumRows(dy as tf.Tensor2D)],
);

/**
 * The identity whose gradient is zero (tfjs has no tf.stopGradient): what flows back through it stops here. The
 * forward is a copy, so that the custom op's own output is not an input tensor.
 */
export const stopGradient: (x: tf.Tensor) => tf.Tensor = customOp(
  (x: tf.Tensor) => ({ value: tf.clone(x), saved: [] }),
  (dy) => [tf.zerosLike(dy)],
);

/**
 * sum(x ⊙ oneHot, −1): the entries of x [..., V] that a one-hot [..., V] selects, with the gradient dy ⊗ oneHot.
 * tf.sum's own gradient multiplies by ones(x.shape) made on the CPU: for [B, L, V] log-probs that is millions of
 * values filled in JS and uploaded every training step (on webgpu, ~17 ms of a bench-small step).
 */
export function pickOneHot(x: tf.Tensor, oneHot: tf.Tensor): tf.Tensor {
  // oneHot is a constant of this call, not an input: no gradient (a zero tensor as large as x) is made for it.
  return customOp(
    (x: tf.Tensor) => ({ value: tf.sum(tf.mul(x, oneHot), -1), saved: [oneHot] }),
    (dy, [oh]) => [tf.mul(tf.expandDims(dy, -1), oh)],
  )(x);
}

/** x [..., Din] @ kernel [Din, Dout] + bias [Dout] → [..., Dout], always as one 2-D matMul (fast on wasm). */
export function dense(x: tf.Tensor, kernel: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const din = x.shape[x.rank - 1];
  const dout = kernel.shape[1]!;
  const x2 = (x.rank === 2 ? x : tf.reshape(x, [-1, din])) as tf.Tensor2D;
  const y = bias === undefined ? matMul(x2, kernel) : denseBiasOp(x2, kernel, bias);
  return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), dout]);
}

/** `dense` with the `<prefix>/kernel` and `<prefix>/bias` parameters. */
export function denseP(params: Params, prefix: string, x: tf.Tensor): tf.Tensor {
  return dense(x, param(params, `${prefix}/kernel`), params.get(`${prefix}/bias`));
}

/**
 * Layer norm of x [N, D] with scale and bias [D] as one custom-gradient op. With x̂ = (x − μ)/σ and g = dy·scale:
 * dx = (g − mean(g) − x̂·mean(g·x̂)) / σ, dscale = 1ᵀ(dy·x̂), dbias = 1ᵀdy (means over the D axis).
 */
const layerNormOp = customOp(
  (x: tf.Tensor, scale: tf.Tensor, bias: tf.Tensor) => {
    const xc = tf.sub(x, tf.mean(x, -1, true));
    const invStd = tf.rsqrt(tf.add(tf.mean(tf.mul(xc, xc), -1, true), LN_EPS)); // [N, 1]
    const xhat = tf.mul(xc, invStd);
    return { value: tf.add(tf.mul(xhat, scale), bias), saved: [xhat, invStd, scale] };
  },
  (dy, [xhat, invStd, scale]) => {
    const g = tf.mul(dy, scale);
    const dx = tf.mul(
      tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(xhat, tf.mean(tf.mul(g, xhat), -1, true))),
      invStd,
    );
    return [dx, sumRows(tf.mul(dy, xhat) as tf.Tensor2D), sumRows(dy as tf.Tensor2D)];
  },
);

/** The same layer norm from webgpu-kernels.ts's fused kernels: one forward, four backward (two are column sums). */
const fusedLayerNormOp = customOp(
  (x: tf.Tensor, scale: tf.Tensor, bias: tf.Tensor) => ({ value: fusedLayerNorm(x, scale, bias), saved: [x, scale] }),
  (dy, [x, scale]) => [
    fusedLayerNormGradX(dy, x, scale),
    sumRows(fusedLayerNormDyXhat(dy, x) as tf.Tensor2D),
    sumRows(dy as tf.Tensor2D),
  ],
);

/**
 * The same layer norm with wasm-fused.ts's kernels: the composed op's values bit for bit, x̂ recomputed from x, μ and
 * 1/σ (saved instead of x̂) in the passes that need it.
 */
const wasmLayerNormOp = customOp(
  (x: tf.Tensor, scale: tf.Tensor, bias: tf.Tensor) => {
    const m = wasmFused.rowMean(x);
    const invStd = tf.rsqrt(tf.add(wasmFused.lnVariance(x, m), LN_EPS));
    return { value: wasmFused.lnForward(x, m, invStd, scale, bias), saved: [x, m, invStd, scale] };
  },
  (dy, [x, m, invStd, scale]) => {
    const mgx = wasmFused.lnMeanGXhat(dy, scale, x, m, invStd);
    const dx = wasmFused.lnGradX(dy, scale, wasmFused.lnMeanG(dy, scale), x, m, invStd, mgx);
    return [dx, sumRows(wasmFused.lnXhatTimes(dy, x, m, invStd) as tf.Tensor2D), sumRows(dy as tf.Tensor2D)];
  },
);

/** Layer norm over the last axis with `<prefix>/scale` and `<prefix>/bias` (flax's epsilon 1e-6). */
export function layerNorm(params: Params, prefix: string, x: tf.Tensor): tf.Tensor {
  const d = x.shape[x.rank - 1];
  const x2 = (x.rank === 2 ? x : tf.reshape(x, [-1, d])) as tf.Tensor2D;
  const op = fusedWebgpu() ? fusedLayerNormOp : fusedWasm() ? wasmLayerNormOp : layerNormOp;
  const y = op(x2, param(params, `${prefix}/scale`), param(params, `${prefix}/bias`));
  return x.rank === 2 ? y : tf.reshape(y, x.shape);
}

/**
 * GELU, tanh approximation (flax's nn.gelu default): 0.5·x·(1 + tanh(z)), z = √(2/π)·(x + 0.044715·x³), computed
 * as the identical x·σ(2z) because wasm's sigmoid is ~10× faster than its tanh (and x·x·x ~7× faster than pow).
 * A custom op that saves only x: d/dx = s + x·s·(1 − s)·2√(2/π)·(1 + 3·0.044715·x²), s = σ(2z).
 */
const geluOp = customOp(
  (x: tf.Tensor) => {
    const z2 = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), GELU_A)), GELU_C);
    return { value: tf.mul(x, tf.sigmoid(z2)), saved: [x] };
  },
  (dy, [x]) => {
    const x2 = tf.mul(x, x);
    const s = tf.sigmoid(tf.mul(tf.add(x, tf.mul(tf.mul(x2, x), GELU_A)), GELU_C));
    const dz2 = tf.mul(tf.add(tf.mul(x2, 3 * GELU_A), 1), GELU_C);
    return [tf.mul(dy, tf.add(s, tf.mul(tf.mul(x, tf.mul(s, tf.sub(1, s))), dz2)))];
  },
);

/** The same GELU from webgpu-kernels.ts's fused kernels: one kernel each way. */
const fusedGeluOp = customOp(
  (x: tf.Tensor) => ({ value: fusedGelu(x), saved: [x] }),
  (dy, [x]) => [fusedGeluGrad(dy, x)],
);

/**
 * The same GELU with wasm-fused.ts's kernels: one forward (x·s and s, with tfjs's sigmoid written out), one backward,
 * the composed ops' values bit for bit. It saves s as well as x: recomputing s in the backward pass (what the composed
 * op does to save memory) was a sigmoid and a pass over x again, ~8 ms of a bench-tiny step, for one more
 * activation-sized tensor kept per MLP until its gradient.
 */
const wasmGeluOp = customOp(
  (x: tf.Tensor) => {
    const [y, s] = wasmFused.gelu(x);
    return { value: y, saved: [x, s] };
  },
  (dy, [x, s]) => [wasmFused.geluGradPost(dy, x, s)],
);

export function geluTanh(x: tf.Tensor): tf.Tensor {
  return fusedWebgpu() ? fusedGeluOp(x) : fusedWasm() ? wasmGeluOp(x) : geluOp(x);
}

/** Pre-LN MLP block body: Dense_0 → GELU → Dense_1. */
export function mlpBlock(params: Params, prefix: string, x: tf.Tensor): tf.Tensor {
  return denseP(params, `${prefix}/Dense_1`, geluTanh(denseP(params, `${prefix}/Dense_0`, x)));
}

/** [B, L, D] → [B, H, L, Dh]. */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor4D {
  const [b, l, d] = x.shape;
  return tf.transpose(tf.reshape(x, [b, l, heads, d / heads]), [0, 2, 1, 3]);
}

/**
 * splitHeads(denseP(params, prefix, x), heads): on wasm with the fused kernels, the projection's bias add and the
 * head split are one copy (wasm-fused.ts's RtSplitHeadsBias), with the gradient the composed ops would give: the
 * transpose back, then the dense layer's dx = dy·Wᵀ, dW = xᵀ·dy, db = 1ᵀ·dy.
 */
export function denseHeads(params: Params, prefix: string, x: tf.Tensor, heads: number): tf.Tensor4D {
  const bias = params.get(`${prefix}/bias`);
  const [b, l, din] = x.shape;
  if (!fusedWasm() || bias === undefined || x.rank !== 3 || (bias.size / heads) % 4 !== 0) {
    return splitHeads(denseP(params, prefix, x), heads);
  }
  const d = bias.size;
  const op = customOp(
    (x2: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor) => ({
      value: wasmFused.splitHeadsBias(tf.matMul(x2, kernel), bias, b, l, heads) as tf.Tensor,
      saved: [x2, kernel],
    }),
    (dy, [x2, kernel]) => {
      const dmm = tf.reshape(tf.transpose(dy, [0, 2, 1, 3]), [b * l, d]);
      return [matMulT(dmm, kernel, false, true), matMulT(x2, dmm, true, false), sumRows(dmm as tf.Tensor2D)];
    },
  );
  return op(tf.reshape(x, [b * l, din]), param(params, `${prefix}/kernel`), bias) as tf.Tensor4D;
}

/** [B, H, L, Dh] → [B, L, D]. */
export function mergeHeads(x: tf.Tensor): tf.Tensor3D {
  const [b, h, l, dh] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b, l, h * dh]);
}

/** Attention's elementwise pieces: the scores c·s + bias, r = rowsum(dP ⊙ p), and dS = p ⊙ (dP − r). */
interface AttentionPieces {
  scores(s: tf.Tensor, c: number, bias: tf.Tensor): tf.Tensor;
  r(dP: tf.Tensor, p: tf.Tensor): tf.Tensor;
  dS(p: tf.Tensor, dP: tf.Tensor, r: tf.Tensor): tf.Tensor;
}

/**
 * Scaled dot-product attention as one custom-gradient op (fewer kernels than the composed ops, and only
 * backend-preferred matMuls). With S = c·QKᵀ + bias, P = softmax(S), O = PV, c = 1/√Dh:
 * dV = PᵀdO, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = c·dS·K, dK = c·dSᵀ·Q; the bias is a constant.
 */
const attentionWith = (pieces: AttentionPieces) =>
  customOp(
    (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, bias: tf.Tensor) => {
      const c = 1 / Math.sqrt(q.shape[3]!);
      const p = tf.softmax(pieces.scores(matMulT(q, k, false, true), c, bias)); // [B, H, L, S]
      return { value: tf.matMul(p, v), saved: [q, k, v, p, bias] };
    },
    (dO, [q, k, v, p, bias]) => {
      const c = 1 / Math.sqrt(q.shape[3]!);
      const dP = matMulT(dO, v, false, true);
      const dS = pieces.dS(p, dP, pieces.r(dP, p));
      return [
        tf.mul(tf.matMul(dS, k), c),
        tf.mul(matMulT(dS, q, true, false), c),
        matMulT(p, dO, true, false),
        tf.zerosLike(bias),
      ];
    },
  );

/** Attention from composed tfjs ops. */
const attentionOp = attentionWith({
  scores: (s, c, bias) => tf.add(tf.mul(s, c), bias),
  r: (dP, p) => tf.sum(tf.mul(dP, p), -1, true),
  dS: (p, dP, r) => tf.mul(p, tf.sub(dP, r)),
});

/**
 * The same attention with wasm-fused.ts's kernels (scale and bias in one pass, r in one, dS in one): the composed
 * op's values bit for bit. The bias is one value or one [L, S] mask under every batch row and head.
 */
const wasmAttentionOp = attentionWith({
  scores: (s, c, bias) => wasmFused.scores(s, tf.scalar(c), bias),
  r: wasmFused.softmaxGradR,
  dS: wasmFused.softmaxGradDs,
});

/**
 * Scaled dot-product attention: q [B, H, L, Dh], k and v [B, H, S, Dh], optional additive `bias` broadcastable to
 * [B, H, L, S] (0 where allowed, NEG where masked) → [B, H, L, Dh].
 */
export function attend(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  if (!fusedWebgpu()) {
    const b = bias ?? tf.zeros([1, 1, 1, 1]);
    // The wasm kernels take one bias value or one [L, S] mask for every batch row and head; other masks compose.
    const [l, s] = [q.shape[2]!, k.shape[2]!];
    const oneMask = b.rank >= 2 && b.shape[b.rank - 2] === l && b.shape[b.rank - 1] === s && b.size === l * s;
    return fusedWasm() && (b.size === 1 || oneMask) ? wasmAttentionOp(q, k, v, b) : attentionOp(q, k, v, b);
  }
  // webgpu-kernels.ts: scale, mask and softmax as one kernel, dS with c folded in as one; the bias is a constant of
  // this call (no zero gradient is made for it).
  const c = 1 / Math.sqrt(q.shape[3]!);
  return customOp(
    (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => {
      const p = fusedScaledSoftmax(matMulT(q, k, false, true), c, bias);
      return { value: tf.matMul(p, v), saved: [q, k, v, p] };
    },
    (dO, [q, k, v, p]) => {
      const dS = fusedSoftmaxGrad(p, matMulT(dO, v, false, true), c);
      return [tf.matMul(dS, k), matMulT(dS, q, true, false), matMulT(p, dO, true, false)];
    },
  )(q, k, v);
}

/**
 * Multi-head attention with `<prefix>/{query,key,value,out}/{kernel,bias}`: queries from xq [B, L, Dq], keys and
 * values from xkv [B, S, Dkv] → [B, L, D]. Kernels are 2-D ([Din, D]) so every projection is one 2-D matMul.
 */
export function multiHeadAttention(
  params: Params,
  prefix: string,
  heads: number,
  xq: tf.Tensor,
  xkv: tf.Tensor,
  bias?: tf.Tensor,
): tf.Tensor {
  const q = denseHeads(params, `${prefix}/query`, xq, heads);
  const k = denseHeads(params, `${prefix}/key`, xkv, heads);
  const v = denseHeads(params, `${prefix}/value`, xkv, heads);
  return denseP(params, `${prefix}/out`, mergeHeads(attend(q, k, v, bias)));
}

/** Additive causal mask [1, 1, L, L]: 0 where key position ≤ query position, NEG after. */
export function causalBias(length: number): tf.Tensor4D {
  const m = new Float32Array(length * length);
  for (let i = 0; i < length; i++) for (let j = i + 1; j < length; j++) m[i * length + j] = NEG;
  return tf.tensor4d(m, [1, 1, length, length]);
}

/**
 * 2-D sin-cos position embeddings [h·w, D] (row-major over the patch grid), as big_vision's `posemb_sincos_2d`:
 * D/4 frequencies ω_i = 1/temperature^(i/(D/4−1)); features [sin(y·ω), cos(y·ω), sin(x·ω), cos(x·ω)].
 */
export function sincos2d(h: number, w: number, width: number, temperature = 10000): Float32Array {
  if (width % 4 !== 0) throw new Error(`sincos2d needs a width divisible by 4, got ${width}`);
  const q = width / 4;
  const omega = Array.from({ length: q }, (_, i) => 1 / Math.pow(temperature, q === 1 ? 0 : i / (q - 1)));
  const out = new Float32Array(h * w * width);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * width;
      for (let i = 0; i < q; i++) {
        out[o + i] = Math.sin(y * omega[i]);
        out[o + q + i] = Math.cos(y * omega[i]);
        out[o + 2 * q + i] = Math.sin(x * omega[i]);
        out[o + 3 * q + i] = Math.cos(x * omega[i]);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Initialisers (big_vision's defaults): dense kernels Xavier-uniform, biases 0, layer-norm scale 1.

/** Collects named parameters in creation order, drawing every random value from one `Rng`. */
export class ParamInit {
  readonly params: Params = new Map();
  constructor(private readonly rng: Rng) {}

  private add(name: string, shape: number[], values: Float32Array): void {
    if (this.params.has(name)) throw new Error(`duplicate parameter '${name}'`);
    // tfjs variable names are process-global; two models may share our names, so tfjs picks its own.
    const t = tf.tensor(values, shape, 'float32');
    this.params.set(name, tf.variable(t, true));
    t.dispose(); // the variable holds its own reference to the data
  }

  normal(name: string, shape: number[], std: number): void {
    const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < v.length; i++) v[i] = this.rng.normal() * std;
    this.add(name, shape, v);
  }

  xavierUniform(name: string, shape: [number, number]): void {
    const limit = Math.sqrt(6 / (shape[0] + shape[1]));
    const v = new Float32Array(shape[0] * shape[1]);
    for (let i = 0; i < v.length; i++) v[i] = (2 * this.rng.next() - 1) * limit;
    this.add(name, shape, v);
  }

  constant(name: string, shape: number[], value: number): void {
    this.add(name, shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value));
  }

  dense(prefix: string, din: number, dout: number, kernel: 'xavier' | 'zeros' = 'xavier'): void {
    if (kernel === 'xavier') this.xavierUniform(`${prefix}/kernel`, [din, dout]);
    else this.constant(`${prefix}/kernel`, [din, dout], 0);
    this.constant(`${prefix}/bias`, [dout], 0);
  }

  layerNorm(prefix: string, d: number): void {
    this.constant(`${prefix}/scale`, [d], 1);
    this.constant(`${prefix}/bias`, [d], 0);
  }

  attention(prefix: string, dq: number, dkv: number, d: number): void {
    this.dense(`${prefix}/query`, dq, d);
    this.dense(`${prefix}/key`, dkv, d);
    this.dense(`${prefix}/value`, dkv, d);
    this.dense(`${prefix}/out`, d, d);
  }

  mlp(prefix: string, d: number, hidden: number): void {
    this.dense(`${prefix}/Dense_0`, d, hidden);
    this.dense(`${prefix}/Dense_1`, hidden, d);
  }
}

/** Total number of scalar parameters. */
export function countParams(params: Params): number {
  let n = 0;
  for (const v of params.values()) n += v.size;
  return n;
}
