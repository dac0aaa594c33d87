// The bottleneck resize against weights worked out by hand from jax's definition of an antialiased linear resize
// (triangle kernel stretched by the scale factor when shrinking, half-pixel centres, weights renormalised per output).
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../backend';
import {
  bottleneckDown,
  bottleneckUp,
  codeAxisWeights,
  gridResizeMatrix,
  linearResizeWeights,
  mixTokens,
} from './bottleneck';
import { ORACLE_PRESETS, oracleConfig } from './config';
import { initOracle } from './oracle';

beforeAll(async () => {
  await initBackend('wasm', { quiet: true });
});

function rows(w: Float64Array | Float32Array, nIn: number): number[][] {
  return Array.from({ length: w.length / nIn }, (_, i) => Array.from(w.subarray(i * nIn, (i + 1) * nIn)));
}

function expectClose(actual: number[][], expected: number[][]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(expected[i][j], 12)));
}

describe('bottleneck resize weights', () => {
  it('8 → 4: [1/8, 3/8, 3/8, 1/8] inside, [3/7, 3/7, 1/7] at the edges', () => {
    // Output i samples the input at s = 2i + 0.5; the kernel is tri(|j − s|/2):
    // at distances 0.5, 1.5, 2.5 → 3/4, 1/4, 0.
    // Interior outputs see 1/4, 3/4, 3/4, 1/4 (sum 2); edge outputs lose the j = −1 tap: 3/4, 3/4, 1/4 (sum 7/4).
    expectClose(rows(linearResizeWeights(8, 4), 8), [
      [3 / 7, 3 / 7, 1 / 7, 0, 0, 0, 0, 0],
      [0, 1 / 8, 3 / 8, 3 / 8, 1 / 8, 0, 0, 0],
      [0, 0, 0, 1 / 8, 3 / 8, 3 / 8, 1 / 8, 0],
      [0, 0, 0, 0, 0, 1 / 7, 3 / 7, 3 / 7],
    ]);
  });

  it('4 → 8: bilinear with half-pixel centres, clamped at the edges', () => {
    // Output i samples s = i/2 − 0.25; kernel tri(|j − s|) (not stretched when enlarging).
    expectClose(rows(linearResizeWeights(4, 8), 4), [
      [1, 0, 0, 0],
      [3 / 4, 1 / 4, 0, 0],
      [1 / 4, 3 / 4, 0, 0],
      [0, 3 / 4, 1 / 4, 0],
      [0, 1 / 4, 3 / 4, 0],
      [0, 0, 3 / 4, 1 / 4],
      [0, 0, 1 / 4, 3 / 4],
      [0, 0, 0, 1],
    ]);
  });

  it('the same size is the identity', () => {
    expectClose(rows(linearResizeWeights(3, 3), 3), [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
  });

  it('the 2-D matrix is the product of the axes, and 4×4 → 8×8 matches tf.image.resizeBilinear(halfPixelCenters)', async () => {
    const m = gridResizeMatrix(8, 8, 4, 4);
    // Output (1, 0) from input (2, 1): row weight 3/8 (output 1 ← input 2), column weight 3/7 (output 0 ← input 1).
    expect(m[(1 * 4 + 0) * 64 + 2 * 8 + 1]).toBeCloseTo((3 / 8) * (3 / 7), 7);
    const grid = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    const up = mixTokens(
      tf.tensor2d(gridResizeMatrix(4, 4, 8, 8), [64, 16]),
      tf.reshape(grid, [2, 16, 3]) as tf.Tensor3D,
    );
    const ref = tf.image.resizeBilinear(grid, [8, 8], false, true);
    const a = await up.data();
    const b = await ref.data();
    expect(a.length).toBe(b.length);
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 5);
    tf.dispose([grid, up, ref]);
  });
});

describe('bottleneck in the model', () => {
  const outputs = [{ name: 'rgb', channels: 3, loss: 'mse' as const }];

  it("'resize' maps the 4×4 grid to the 2×2 code and back; 'learned' uses its own matrices", async () => {
    const cfg = oracleConfig({ ...ORACLE_PRESETS.mu, outputs });
    const { params } = initOracle(cfg, 0);
    const x = tf.randomNormal([3, 16, 5], 0, 1, 'float32', 1) as tf.Tensor3D;
    const down = bottleneckDown(params, cfg, x);
    expect(down.shape).toEqual([3, 4, 5]);
    // 4 → 2 per axis: output 0 samples s = 0.5 with tri(|j − s|/2): 3/4, 3/4, 1/4, 0 → /(7/4) = [3/7, 3/7, 1/7, 0].
    // Code token 0 (top-left) is the grid's top-left 3×3 corner with the product of those weights.
    const xv = await x.data();
    const w = [3 / 7, 3 / 7, 1 / 7, 0];
    let expected = 0;
    for (let iy = 0; iy < 4; iy++) for (let ix = 0; ix < 4; ix++) expected += w[iy] * w[ix] * xv[(iy * 4 + ix) * 5];
    expect((await down.data())[0]).toBeCloseTo(expected, 5);
    expect(bottleneckUp(params, cfg, down).shape).toEqual([3, 16, 5]);
    tf.dispose([...params.values(), x, down]);

    const learned = oracleConfig({ ...ORACLE_PRESETS.mu, outputs, bottleneck: 'learned', codeLen: 3 });
    const p2 = initOracle(learned, 0).params;
    expect(p2.get('bottleneck_downsample')!.shape).toEqual([16, 3]);
    expect(p2.get('bottleneck_upsample')!.shape).toEqual([3, 16]);
    const y = tf.randomNormal([2, 16, 5], 0, 1, 'float32', 2) as tf.Tensor3D;
    const d2 = bottleneckDown(p2, learned, y);
    // einsum('btc,tn->bnc'): d2[b, n, c] = Σ_t y[b, t, c]·W[t, n].
    const [yv, wv, a] = [await y.data(), await p2.get('bottleneck_downsample')!.data(), await d2.data()];
    for (let b = 0; b < 2; b++)
      for (let n = 0; n < 3; n++)
        for (let c = 0; c < 5; c++) {
          let ref = 0;
          for (let t = 0; t < 16; t++) ref += yv[(b * 16 + t) * 5 + c] * wv[t * 3 + n];
          expect(a[(b * 3 + n) * 5 + c]).toBeCloseTo(ref, 5);
        }
    expect(bottleneckUp(p2, learned, d2).shape).toEqual([2, 16, 5]);
    tf.dispose([...p2.values(), y, d2]);
  });
});

describe('codeAxisWeights: where each code token lands in the image', () => {
  const outputs = [{ name: 'rgb', channels: 3, loss: 'mse' as const }];

  it("is the decoder's upsampling of each code token, per pixel, and splits the pixels without loss", async () => {
    const cfg = oracleConfig({ ...ORACLE_PRESETS.tiny, outputs }); // 64 px, 8 px patches, 4×4 code
    const w = codeAxisWeights(cfg)!;
    const [S, s, g] = [cfg.imageSize, 4, 8];
    expect(w).toHaveLength(S * s);
    for (let y = 0; y < S; y++) expect(w.subarray(y * s, (y + 1) * s).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    // The model's own upsampling of the identity code (token t one-hot in channel t): grid cell (cy, cx) holds
    // token (i, j) with weight w[y, i]·w[x, j] for any pixel (y, x) of that cell.
    const { params } = initOracle(cfg, 0);
    const up = bottleneckUp(params, cfg, tf.reshape(tf.eye(s * s), [1, s * s, s * s]));
    const u = await up.data();
    for (let cy = 0; cy < g; cy++)
      for (let cx = 0; cx < g; cx++)
        for (let t = 0; t < s * s; t++) {
          const [y, x] = [cy * cfg.patch + 3, cx * cfg.patch + 5];
          const want = w[y * s + Math.floor(t / s)] * w[x * s + (t % s)];
          expect(u[(cy * g + cx) * s * s + t]).toBeCloseTo(want, 6);
        }
    tf.dispose([...params.values(), up]);
    expect(codeAxisWeights(oracleConfig({ ...ORACLE_PRESETS.mu, outputs, bottleneck: 'learned', codeLen: 3 }))).toBe(
      undefined,
    );
  });
});
