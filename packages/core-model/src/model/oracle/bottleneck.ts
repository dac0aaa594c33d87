/**
 * The oracle's bottleneck: the P-token grid of the encoder down to the L-token code, and the code back up to P tokens
 * in the decoder. Two kinds, as big_vision's UViM model:
 *   - 'resize': jax.image.resize(method='linear') of the square token grid, with jax's default antialias. Per axis a
 *     fixed matrix: output i samples the input at s_i = (i + 0.5)·(n_in/n_out) − 0.5 (half-pixel centres), with the
 *     triangle kernel max(0, 1 − |x|) stretched by k = max(n_in/n_out, 1) (only when shrinking), so input j gets
 *     weight tri((j − s_i)/k), and each output's weights are divided by their sum (which renormalises at the edges).
 *     8 → 4 gives [1/8, 3/8, 3/8, 1/8] inside and [3/7, 3/7, 1/7] at the edges; 4 → 8 is bilinear with half-pixel
 *     centres and edge clamping. The 2-D matrix is the Kronecker product of the row and column matrices.
 *   - 'learned': `bottleneck_downsample` [P, L] and `bottleneck_upsample` [L, P] (Xavier-uniform), applied as
 *     einsum('btc,tn->bnc') and einsum('bnc,nt->btc').
 * Either way the token mixing is one 2-D matMul over [tokens, B·D].
 */
import * as tf from '@tensorflow/tfjs-core';
import { matMul } from '../../backend';
import { param } from '../ops';
import type { Params } from '../policy';
import { codeSide, oracleGrid, type OracleConfig } from './config';

/** Per-axis weights [nOut, nIn] (row i: the weights of output i), as jax's antialiased linear resize (float64). */
export function linearResizeWeights(nIn: number, nOut: number): Float64Array {
  const inv = nIn / nOut;
  const kernelScale = Math.max(inv, 1);
  const w = new Float64Array(nOut * nIn);
  for (let i = 0; i < nOut; i++) {
    const s = (i + 0.5) * inv - 0.5;
    if (s < -0.5 || s > nIn - 0.5) continue; // outside the input: jax zeroes it (never for a plain resize)
    let total = 0;
    for (let j = 0; j < nIn; j++) {
      const v = Math.max(0, 1 - Math.abs(s - j) / kernelScale);
      w[i * nIn + j] = v;
      total += v;
    }
    for (let j = 0; j < nIn; j++) w[i * nIn + j] = total > 0 ? w[i * nIn + j] / total : 0;
  }
  return w;
}

const gridMatrices = new Map<string, Float32Array>();

/**
 * The 2-D resize of a row-major [inH, inW] token grid to [outH, outW] as one matrix [outH·outW, inH·inW]:
 * M[(oy, ox), (iy, ix)] = Wy[oy, iy]·Wx[ox, ix]. Cached per size.
 */
export function gridResizeMatrix(inH: number, inW: number, outH: number, outW: number): Float32Array {
  const key = `${inH}x${inW}>${outH}x${outW}`;
  let m = gridMatrices.get(key);
  if (m === undefined) {
    const wy = linearResizeWeights(inH, outH);
    const wx = linearResizeWeights(inW, outW);
    m = new Float32Array(outH * outW * inH * inW);
    const cols = inH * inW;
    for (let oy = 0; oy < outH; oy++)
      for (let ox = 0; ox < outW; ox++)
        for (let iy = 0; iy < inH; iy++)
          for (let ix = 0; ix < inW; ix++)
            m[(oy * outW + ox) * cols + iy * inW + ix] = wy[oy * inH + iy] * wx[ox * inW + ix];
    gridMatrices.set(key, m);
  }
  return m;
}

/** Token mixing y[b, o, :] = Σ_i M[o, i]·x[b, i, :]: M [Lout, Lin], x [B, Lin, D] → [B, Lout, D] (differentiable). */
export function mixTokens(m: tf.Tensor2D, x: tf.Tensor3D): tf.Tensor3D {
  const [b, lin, d] = x.shape;
  const lout = m.shape[0];
  const xt = tf.reshape(tf.transpose(x, [1, 0, 2]), [lin, b * d]);
  return tf.transpose(tf.reshape(matMul(m, xt), [lout, b, d]), [1, 0, 2]) as tf.Tensor3D;
}

/** Encoder side: tokens [B, P, D] → [B, L, D]. */
export function bottleneckDown(params: Params, cfg: OracleConfig, x: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    if (cfg.bottleneck === 'learned')
      return mixTokens(tf.transpose(param(params, 'bottleneck_downsample')) as tf.Tensor2D, x);
    const [gh, gw] = oracleGrid(cfg);
    const s = codeSide(cfg);
    return mixTokens(tf.tensor2d(gridResizeMatrix(gh, gw, s, s), [s * s, gh * gw]), x);
  });
}

/** Decoder side: code tokens [B, L, D] → [B, P, D]. */
export function bottleneckUp(params: Params, cfg: OracleConfig, x: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    if (cfg.bottleneck === 'learned')
      return mixTokens(tf.transpose(param(params, 'bottleneck_upsample')) as tf.Tensor2D, x);
    const [gh, gw] = oracleGrid(cfg);
    const s = codeSide(cfg);
    return mixTokens(tf.tensor2d(gridResizeMatrix(s, s, gh, gw), [gh * gw, s * s]), x);
  });
}

/**
 * Where each code token lands in the image, per axis: [S, s] weights (S image side in pixels, s code side), row y
 * holding how much of pixel row (or column) y each code row (column) i makes up as the decoder's upsampling mixes
 * them: the 'resize' bottleneck's s → grid resize, each grid cell then spread over its patch's pixels. Each row
 * sums to 1, so a quantity over the pixels splits over the code tokens without loss: token (i, j) of the row-major
 * code gets Σ_y Σ_x w[y, i]·w[x, j]·v[y, x]. Undefined for the 'learned' bottleneck, which has no fixed layout.
 */
export function codeAxisWeights(cfg: OracleConfig): Float64Array | undefined {
  if (cfg.bottleneck === 'learned') return undefined;
  const [g] = oracleGrid(cfg);
  const s = codeSide(cfg);
  const up = linearResizeWeights(s, g); // [g, s]
  const w = new Float64Array(cfg.imageSize * s);
  for (let y = 0; y < cfg.imageSize; y++) {
    const cell = Math.floor(y / cfg.patch);
    for (let i = 0; i < s; i++) w[y * s + i] = up[cell * s + i];
  }
  return w;
}
