// wasm's BatchMatMul, replaced for batched products by slice-by-slice calls of the batch-1 path (wasm-kernels.ts),
// against a naive product computed here; shapes below the size threshold, with flags or with broadcasting take the
// original.
// This is the path without onnxruntime-node (native-matmul.spec.ts tests the native one), so it is turned off here.
process.env.REWARD_TUNE_NATIVE_MATMUL = '0';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, matMul, SLICED_MATMUL_MIN_WORK, slicedMatMulCount } from './index';
import { Rng } from '../rng';

/** Row-major a [..., M, K] @ b [..., K, N] with b's batch broadcast when it is 1. */
function naive(
  a: Float32Array,
  b: Float32Array,
  batch: number,
  m: number,
  k: number,
  n: number,
  bBatch = batch,
): Float32Array {
  const out = new Float32Array(batch * m * n);
  for (let t = 0; t < batch; t++) {
    const tb = bBatch === 1 ? 0 : t;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += a[(t * m + i) * k + q] * b[(tb * k + q) * n + j];
        out[(t * m + i) * n + j] = s;
      }
    }
  }
  return out;
}

const rng = Rng.fromSeed(5);
const random = (shape: number[]) =>
  tf.tensor(
    Float32Array.from({ length: shape.reduce((x, y) => x * y, 1) }, () => rng.normal()),
    shape,
  );
const maxDiff = (x: ArrayLike<number>, y: ArrayLike<number>) =>
  Array.from(x).reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);

describe('wasm BatchMatMul, slice by slice', () => {
  beforeAll(async () => {
    await initBackend('wasm', { quiet: true });
  });

  it.each([
    ['rank 3, sliced', [6, 16, 32], [6, 32, 20], 1],
    ['rank 4 (attention), sliced', [2, 3, 16, 32], [2, 3, 32, 24], 1],
    ['below the work threshold, original kernel', [5, 2, 3], [5, 3, 4], 0],
    ['2-D, original kernel', [16, 32], [32, 20], 0],
  ])('%s: equals the naive product', async (_name, sa, sb, sliced) => {
    const a = random(sa),
      b = random(sb);
    const [m, k] = sa.slice(-2),
      n = sb[sb.length - 1];
    const batch = sa.slice(0, -2).reduce((x, y) => x * y, 1);
    const before = tf.memory().numTensors;
    const calls = slicedMatMulCount();
    const y = tf.matMul(a, b);
    expect(slicedMatMulCount() - calls).toBe(sliced);
    expect(y.shape).toEqual([...sa.slice(0, -2), m, n]);
    expect(
      maxDiff(
        await y.data(),
        naive((await a.data()) as Float32Array, (await b.data()) as Float32Array, batch, m, k, n),
      ),
    ).toBeLessThan(1e-4);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
  });

  it('the threshold separates the two paths as documented', () => {
    expect(16 * 32 * 20).toBeGreaterThanOrEqual(SLICED_MATMUL_MIN_WORK);
    expect(2 * 3 * 4).toBeLessThan(SLICED_MATMUL_MIN_WORK);
  });

  it('transpose flags and a broadcast batch go to the original kernel and stay correct', async () => {
    const a = random([4, 16, 32]),
      bt = random([4, 20, 32]),
      b1 = random([1, 32, 20]);
    const [av, btv, b1v] = (await Promise.all([a.data(), bt.data(), b1.data()])) as Float32Array[];
    // b from bᵀ [4, 20, 32] → [4, 32, 20] for the reference.
    const bv = new Float32Array(4 * 32 * 20);
    for (let t = 0; t < 4; t++)
      for (let i = 0; i < 20; i++) for (let q = 0; q < 32; q++) bv[(t * 32 + q) * 20 + i] = btv[(t * 20 + i) * 32 + q];
    const calls = slicedMatMulCount();
    const flagged = tf.matMul(a, bt, false, true);
    expect(maxDiff(await flagged.data(), naive(av, bv, 4, 16, 32, 20))).toBeLessThan(1e-4);
    const broadcast = tf.matMul(a, b1);
    expect(maxDiff(await broadcast.data(), naive(av, b1v, 4, 16, 32, 20, 1))).toBeLessThan(1e-4);
    expect(slicedMatMulCount()).toBe(calls);
    tf.dispose([a, bt, b1, flagged, broadcast]);
  });

  it('gradients of the model matMul (rank 4) equal dy·bᵀ and aᵀ·dy', async () => {
    const a = random([2, 2, 16, 32]),
      b = random([2, 2, 32, 24]),
      dy = random([2, 2, 16, 24]);
    const calls = slicedMatMulCount();
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => matMul(x, y))([a, b], dy);
    expect(slicedMatMulCount() - calls).toBe(3); // forward, dA, dB
    const [av, bv, dyv] = (await Promise.all([a.data(), b.data(), dy.data()])) as Float32Array[];
    const tr = (x: Float32Array, batch: number, r: number, c: number) => {
      const o = new Float32Array(x.length);
      for (let t = 0; t < batch; t++)
        for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) o[(t * c + j) * r + i] = x[(t * r + i) * c + j];
      return o;
    };
    expect(maxDiff(await ga.data(), naive(dyv, tr(bv, 4, 32, 24), 4, 16, 24, 32))).toBeLessThan(1e-3);
    expect(maxDiff(await gb.data(), naive(tr(av, 4, 16, 32), dyv, 4, 32, 16, 24))).toBeLessThan(1e-3);
    tf.dispose([a, b, dy, ga, gb]);
  });
});
