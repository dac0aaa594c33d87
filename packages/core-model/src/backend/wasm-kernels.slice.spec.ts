// wasm's Slice and SplitV, replaced for contiguous pieces by copies from a view of the heap (wasm-kernels.ts), against
// pieces cut here by index arithmetic; non-contiguous pieces go to the original kernels and must agree too.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './index';
import { iota, readStrided } from '../testing/strided';

/** Row-major piece [begin, begin + size) of `values` with shape `shape`. */
const cut = (values: number[], shape: number[], begin: number[], size: number[]): number[] =>
  readStrided(
    values,
    shape,
    shape.map((_, i) => i),
    begin,
    size,
  );

describe('wasm Slice and SplitV', () => {
  beforeAll(async () => {
    await initBackend('wasm', { quiet: true });
  });

  it.each([
    ['contiguous: whole rows', [4, 3, 5], [1, 0, 0], [2, 3, 5]],
    ['contiguous: leading dims of size 1', [4, 3, 5], [2, 1, 0], [1, 2, 5]],
    ['contiguous: part of a vector', [40], [7], [20]],
    ['not contiguous (original kernel)', [4, 3, 5], [0, 1, 1], [4, 2, 3]],
  ])('slice, %s', async (_name, shape, begin, size) => {
    for (const dtype of ['float32', 'int32'] as const) {
      const values = dtype === 'int32' ? iota(shape).map((v) => Math.round(v * 2)) : iota(shape);
      const x = tf.tensor(values, shape, dtype);
      const before = tf.memory().numTensors;
      const y = tf.slice(x, begin, size);
      expect(y.dtype).toBe(dtype);
      expect(y.shape).toEqual(size);
      expect(Array.from(await y.data())).toEqual(cut(values, shape, begin, size));
      y.dispose();
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    }
  });

  it.each([
    ['a vector into uneven pieces', [30], [3, 20, 7], 0],
    ['axis 1 of a [1, n] matrix', [1, 12], [5, 7], 1],
    ['axis 0 of a matrix', [6, 4], [1, 5], 0],
    ['axis 1 of a [3, n] matrix (original kernel)', [3, 8], [3, 5], 1],
  ])('split, %s', async (_name, shape, sizes, axis) => {
    const values = iota(shape);
    const x = tf.tensor(values, shape);
    const pieces = tf.split(x, sizes, axis);
    const begin = shape.map(() => 0);
    for (let i = 0; i < sizes.length; i++) {
      const size = [...shape];
      size[axis] = sizes[i];
      expect(pieces[i].shape).toEqual(size);
      expect(Array.from(await pieces[i].data())).toEqual(cut(values, shape, begin, size));
      begin[axis] += sizes[i];
    }
    tf.dispose([x, ...pieces]);
  });

  it('copies the right piece after the heap grows', async () => {
    const values = iota([64, 64]);
    const x = tf.tensor(values, [64, 64]);
    const big = tf.zeros([64, 1024, 1024]); // 256 MiB: the next allocation may grow the heap
    const y = tf.slice(x, [10, 0], [20, 64]);
    expect(Array.from(await y.data())).toEqual(cut(values, [64, 64], [10, 0], [20, 64]));
    tf.dispose([x, big, y]);
  });
});
