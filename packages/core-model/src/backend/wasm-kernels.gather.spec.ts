// wasm's GatherV2, replaced along the first axis by whole-row copies (wasm-kernels.ts), against the cpu backend's
// kernel; the cases it leaves to wasm's own kernel must agree too, and so must the gradient.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './index';

const iota = (shape: number[]) => Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i * 0.5 - 3);

type Case = { x: number[]; xShape: number[]; dtype: 'float32' | 'int32'; idx: number[]; idxShape: number[] };

/** The gather on the cpu backend: values and shape. */
async function onCpu(c: Case, axis: number, batchDims = 0): Promise<{ values: number[]; shape: number[] }> {
  await initBackend('cpu', { quiet: true });
  const y = tf.tidy(() =>
    tf.gather(tf.tensor(c.x, c.xShape, c.dtype), tf.tensor(c.idx, c.idxShape, 'int32'), axis, batchDims),
  );
  const r = { values: Array.from(await y.data()), shape: y.shape };
  y.dispose();
  await initBackend('wasm', { quiet: true });
  return r;
}

describe('wasm GatherV2', () => {
  beforeAll(async () => {
    await initBackend('wasm', { quiet: true });
  });

  const cases: [string, Case, number, number][] = [
    [
      'rows repeated (REINFORCE rows)',
      { x: iota([3, 2, 4]), xShape: [3, 2, 4], dtype: 'float32', idx: [0, 0, 1, 1, 2, 2], idxShape: [6] },
      0,
      0,
    ],
    [
      'an embedding lookup, 2-D indices',
      { x: iota([5, 3]), xShape: [5, 3], dtype: 'float32', idx: [4, 0, 2, 2, 1, 3], idxShape: [2, 3] },
      0,
      0,
    ],
    [
      'int32 values, negative axis of a vector',
      { x: [7, -1, 3, 9], xShape: [4], dtype: 'int32', idx: [3, 3, 0], idxShape: [3] },
      -1,
      0,
    ],
    ['no indices', { x: iota([3, 2]), xShape: [3, 2], dtype: 'float32', idx: [], idxShape: [0] }, 0, 0],
    [
      'axis 1 (original kernel)',
      { x: iota([2, 4, 3]), xShape: [2, 4, 3], dtype: 'float32', idx: [3, 0, 0], idxShape: [3] },
      1,
      0,
    ],
    [
      'batchDims 1 (original kernel)',
      { x: iota([2, 4, 3]), xShape: [2, 4, 3], dtype: 'float32', idx: [1, 3, 0, 2], idxShape: [2, 2] },
      1,
      1,
    ],
  ];
  it.each(cases)('%s', async (_name, c, axis, batchDims) => {
    const want = await onCpu(c, axis, batchDims);
    const x = tf.tensor(c.x, c.xShape, c.dtype);
    const idx = tf.tensor(c.idx, c.idxShape, 'int32');
    const before = tf.memory().numTensors;
    const y = tf.gather(x, idx, axis, batchDims);
    expect(y.dtype).toBe(c.dtype);
    expect(y.shape).toEqual(want.shape);
    expect(Array.from(await y.data())).toEqual(want.values);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, idx]);
  });

  it('refuses an index out of range, as before', () => {
    const x = tf.tensor(iota([3, 2]), [3, 2]);
    const idx = tf.tensor1d([0, 3], 'int32');
    expect(() => tf.gather(x, idx)).toThrow(/index value 3/);
    tf.dispose([x, idx]);
  });

  it('copies the right rows after the heap grows', async () => {
    const values = iota([64, 64]);
    const x = tf.tensor(values, [64, 64]);
    const idx = tf.tensor1d([63, 5, 5], 'int32');
    const big = tf.zeros([64, 1024, 1024]); // 256 MiB: the output's allocation may grow the heap
    const y = tf.gather(x, idx);
    expect(Array.from(await y.data())).toEqual([63, 5, 5].flatMap((r) => values.slice(r * 64, (r + 1) * 64)));
    tf.dispose([x, idx, big, y]);
  });

  it('keeps the gradient: repeated rows sum', async () => {
    const x = tf.tensor(iota([3, 2]), [3, 2]);
    const idx = tf.tensor1d([2, 0, 2, 2], 'int32');
    const w = tf.tensor(iota([4, 2]), [4, 2]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.gather(v, idx), w)))(x);
    const wv = iota([4, 2]);
    // Row 0 gets w's row 1; row 2 gets rows 0, 2 and 3; row 1 nothing.
    const want = [wv[2], wv[3], 0, 0, wv[0] + wv[4] + wv[6], wv[1] + wv[5] + wv[7]];
    expect(Array.from(await g.data())).toEqual(want);
    tf.dispose([x, idx, w, g]);
  });
});
