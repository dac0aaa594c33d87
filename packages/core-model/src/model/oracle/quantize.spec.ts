// Quantisation: standardisation, the nearest codeword, and the straight-through gradient (values from the codeword,
// the gradient passed unchanged to the pre-quantisation vector).
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, registerGradients } from '../../backend';
import { quantize, standardize } from './quantize';

beforeAll(async () => {
  await initBackend('wasm', { quiet: true });
  registerGradients();
});

/** K unit codewords of width D from a fixed pattern. */
function unitCodewords(k: number, d: number): Float32Array {
  const e = new Float32Array(k * d);
  for (let i = 0; i < k; i++) {
    let n = 0;
    for (let j = 0; j < d; j++) {
      const v = Math.sin(1.7 * i + 0.9 * j + 0.3) + 0.1 * j;
      e[i * d + j] = v;
      n += v * v;
    }
    for (let j = 0; j < d; j++) e[i * d + j] /= Math.sqrt(n);
  }
  return e;
}

describe('standardize', () => {
  it('zero mean and unit variance per vector (ε = 1e-5)', async () => {
    const x = tf.tensor2d([
      [1, 2, 3, 6],
      [-2, 0, 4, 10],
    ]);
    const y = (await standardize(x).data()) as Float32Array;
    for (let r = 0; r < 2; r++) {
      const row = [...y.subarray(r * 4, r * 4 + 4)];
      const mean = row.reduce((a, b) => a + b) / 4;
      const v = row.reduce((a, b) => a + (b - mean) ** 2, 0) / 4;
      expect(mean).toBeCloseTo(0, 6);
      expect(v).toBeCloseTo(1, 4);
    }
    // Row 0: mean 3, variance 3.5 → (1 − 3)/√(3.5 + 1e-5).
    expect(y[0]).toBeCloseTo(-2 / Math.sqrt(3.5 + 1e-5), 6);
  });
});

describe('quantize', () => {
  const K = 6;
  const D = 4;

  it('forward values are the nearest codewords', async () => {
    const e = unitCodewords(K, D);
    const xv = Float32Array.from({ length: 2 * 3 * D }, (_, i) => Math.cos(0.7 * i) * 1.5);
    const x = tf.tensor3d(xv, [2, 3, D]);
    const q = quantize(x, tf.tensor2d(e, [K, D]));
    expect(q.codes.shape).toEqual([2, 3]);
    expect(q.codes.dtype).toBe('int32');
    const codes = await q.codes.data();
    const values = await q.quantised.data();
    for (let n = 0; n < 6; n++) {
      let best = 0;
      let bestDist = Infinity;
      for (let k = 0; k < K; k++) {
        let dist = 0;
        for (let j = 0; j < D; j++) dist += (xv[n * D + j] - e[k * D + j]) ** 2;
        if (dist < bestDist) [best, bestDist] = [k, dist];
      }
      expect(codes[n]).toBe(best);
      for (let j = 0; j < D; j++) expect(values[n * D + j]).toBe(e[best * D + j]); // exactly the codeword
    }
  });

  it('straight-through: d loss/d x equals d loss/d quantised', async () => {
    const e = tf.tensor2d(unitCodewords(K, D), [K, D]);
    const x = tf.tensor3d(
      Float32Array.from({ length: 2 * 3 * D }, (_, i) => Math.sin(1.3 * i)),
      [2, 3, D],
    );
    const w = tf.tensor3d(
      Float32Array.from({ length: 2 * 3 * D }, (_, i) => 0.5 - ((i * 7) % 5) / 4),
      [2, 3, D],
    );
    // A non-linear loss of the quantised output, so that its gradient depends on the (codeword) values.
    const lossOf = (q: tf.Tensor) => tf.sum(tf.mul(tf.square(tf.add(q, w)), w)) as tf.Scalar;
    const gx = tf.grad((xx: tf.Tensor) => lossOf(quantize(xx, e).quantised))(x);
    const q = quantize(x, e).quantised;
    const gq = tf.grad((qq: tf.Tensor) => lossOf(qq))(q);
    const [a, b] = [await gx.data(), await gq.data()];
    expect(a.length).toBe(24);
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 6);
    // The gradient is 2(q + w)·w at the codeword values, not at x: check one entry by hand.
    const [qv, wv] = [await q.data(), await w.data()];
    expect(a[5]).toBeCloseTo(2 * (qv[5] + wv[5]) * wv[5], 5);
  });

  it('refuses codewords of another width', () => {
    expect(() => quantize(tf.zeros([2, 3]), tf.zeros([4, 2]) as tf.Tensor2D)).toThrow(
      /vectors of width 3, codewords of width 2/,
    );
  });
});
