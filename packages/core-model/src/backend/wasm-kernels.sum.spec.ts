// wasm's Sum over leading axes for float32, replaced by wasm-functions.ts's SUM_LEADING (wasm-kernels.ts): the same
// bits as tfjs's own kernel (its transpose, then each output's values added in order) on shapes whose columns take
// each of the function's loops, with keepDims, and the replacement seen to run; other sums and the fused kernels off
// leave tfjs's kernel.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setWasmFused } from './index';
import { leadingSumCount } from './wasm-kernels';

const bits = async (t: tf.Tensor): Promise<Uint32Array> => new Uint32Array(new Float32Array(await t.data()).buffer);

describe('wasm Sum over leading axes', () => {
  beforeAll(async () => {
    await initBackend('wasm', { quiet: true });
  });

  const cases: [number[], number | number[], boolean][] = [
    [[32, 64, 128], 0, false], // a position embedding's gradient: whole groups of four vectors
    [[7, 27], 0, false], // columns: one group of four vectors, two vectors, three values
    [[3, 5, 9], [0, 1], true], // two leading axes, kept as 1s
    [[300, 3], [0], false], // values only, many rows
  ];
  it.each(cases)("gives tfjs's own kernel's bits on %j summed over %j (keepDims %s)", async (shape, axis, keepDims) => {
    let seed = 31 + shape.length;
    const uniform = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5;
    const size = shape.reduce((a, b) => a * b, 1);
    const x = tf.tensor(
      Float32Array.from({ length: size }, (_, i) => uniform() * 10 ** ((i % 7) - 3)),
      shape,
    );
    const before = leadingSumCount();
    const ours = tf.sum(x, axis, keepDims);
    expect(leadingSumCount()).toBe(before + 1);
    setWasmFused(false);
    let theirs: tf.Tensor;
    try {
      theirs = tf.sum(x, axis, keepDims);
      expect(leadingSumCount()).toBe(before + 1);
    } finally {
      setWasmFused(true);
    }
    expect(ours.shape).toEqual(theirs.shape);
    expect(Array.from(await bits(ours))).toEqual(Array.from(await bits(theirs)));
    tf.dispose([x, ours, theirs]);
  });

  it('leaves sums over trailing or all axes, leading axes given out of order, and int32 sums to tfjs', () => {
    const before = leadingSumCount();
    const x = tf.ones([2, 3, 4]);
    // [1, 0]: tfjs sums axis 1's values in the outer order, not the layout's
    tf.dispose([tf.sum(x, 2), tf.sum(x), tf.sum(x, [1, 0]), tf.sum(tf.ones([4, 6], 'int32'), 0)]);
    expect(leadingSumCount()).toBe(before);
    x.dispose();
  });
});
