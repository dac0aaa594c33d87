// wasm's Transpose, replaced for perm [0, 2, 1, 3] (and [1, 0, 2]) on rows of whole vectors by wasm-functions.ts's copy
// (wasm-kernels.ts), against transposes done here by index arithmetic; the cases it leaves to tfjs's kernel must agree
// too, and the copy must be seen to run where it claims to.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './index';
import { iota, readStrided } from '../testing/strided';
import { swapTransposeCount } from './wasm-kernels';

/** Row-major values of `values` (shape `shape`) transposed by `perm`. */
const permuted = (values: number[], shape: number[], perm: number[]): number[] =>
  readStrided(
    values,
    shape,
    perm,
    shape.map(() => 0),
    shape,
  );

describe('wasm Transpose', () => {
  beforeAll(async () => {
    await initBackend('wasm', { quiet: true });
  });

  it.each([
    ['attention head split, rows of 8', [2, 5, 3, 8], [0, 2, 1, 3]],
    ['rows of 4, one head', [3, 2, 1, 4], [0, 2, 1, 3]],
    ['rank 3, [1, 0, 2]', [4, 3, 12], [1, 0, 2]],
    ['empty', [2, 0, 3, 4], [0, 2, 1, 3]],
    ['rows of 6 (tfjs kernel)', [2, 3, 4, 6], [0, 2, 1, 3]],
    ['another perm (tfjs kernel)', [2, 3, 4, 8], [0, 1, 3, 2]],
  ])('%s', async (_name, shape, perm) => {
    for (const dtype of ['float32', 'int32'] as const) {
      const values = dtype === 'int32' ? iota(shape).map((v) => Math.round(v * 2)) : iota(shape);
      const x = tf.tensor(values, shape, dtype);
      const before = tf.memory().numTensors;
      const y = tf.transpose(x, perm);
      expect(y.dtype).toBe(dtype);
      expect(y.shape).toEqual(perm.map((p) => shape[p]));
      expect(Array.from(await y.data())).toEqual(permuted(values, shape, perm));
      y.dispose();
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    }
  });

  it('copies with the SIMD module exactly where it claims to', () => {
    const ran = (shape: number[], perm: number[]) => {
      const before = swapTransposeCount();
      tf.tidy(() => tf.transpose(tf.zeros(shape), perm));
      return swapTransposeCount() > before;
    };
    expect(ran([32, 64, 4, 32], [0, 2, 1, 3])).toBe(true);
    expect(ran([64, 32, 8], [1, 0, 2])).toBe(true);
    expect(ran([32, 64, 4, 30], [0, 2, 1, 3])).toBe(false);
    expect(ran([32, 64, 4, 32], [0, 1, 3, 2])).toBe(false);
  });
});
