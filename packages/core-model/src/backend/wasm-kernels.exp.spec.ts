// wasm's Exp for float32, replaced by wasm-functions.ts's EXP_F32 (wasm-kernels.ts): the same bits as tfjs's own kernel
// (musl's expf) on a million values across the ranges and on every special case, with the replacement seen to run;
// the fused kernels off, tfjs's own kernel runs.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setWasmFused } from './index';
import { muslExpCount } from './wasm-kernels';

const bits = async (t: tf.Tensor): Promise<Uint32Array> => new Uint32Array(new Float32Array(await t.data()).buffer);

describe('wasm Exp', () => {
  beforeAll(async () => {
    await initBackend('wasm', { quiet: true });
  });

  it("gives tfjs's own kernel's bits, special cases included", async () => {
    const special = [0, -0, 1e-45, -1e-45, 1e-30, -1e-30, 88, -88, 88.72, 88.7228, 88.73, 89, -103.9, -103.97, -103.98];
    const n = (1 << 20) + 3; // a remainder too
    const values = new Float32Array(n);
    let seed = 12345;
    const uniform = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5;
    for (let i = 0; i < n; i++) values[i] = uniform() * [2, 20, 200, 60, 2e-3][i % 5];
    values.set([...special, -150, Infinity, -Infinity, NaN], 0);
    const x = tf.tensor1d(values);
    const before = muslExpCount();
    const ours = tf.exp(x);
    expect(muslExpCount()).toBe(before + 1);
    setWasmFused(false);
    let theirs: tf.Tensor;
    try {
      theirs = tf.exp(x);
      expect(muslExpCount()).toBe(before + 1);
    } finally {
      setWasmFused(true);
    }
    const [a, b] = [await bits(ours), await bits(theirs)];
    let differ = 0;
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) differ++;
    expect(differ).toBe(0);
    expect(Array.from((await ours.data()).slice(special.length, special.length + 4))).toEqual([0, Infinity, 0, NaN]);
    tf.dispose([x, ours, theirs]);
  });

  it('leaves int32 inputs to tfjs', async () => {
    const before = muslExpCount();
    const y = tf.exp(tf.tensor1d([0, 1, 2], 'int32'));
    expect(muslExpCount()).toBe(before);
    expect(y.dtype).toBe('float32');
    expect(Array.from(await y.data())[0]).toBe(1);
  });
});
