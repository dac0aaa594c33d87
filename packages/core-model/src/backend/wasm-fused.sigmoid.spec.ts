// wasm-fused.ts's xnnSigmoid, compiled by wasm-simd.ts on a memory of the test's own, against tfjs's wasm Sigmoid
// (XNNPACK's kernel) on a million values across the ranges and the special cases: the same bits (NaN for NaN).
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './index';
import { xnnSigmoid } from './wasm-fused';
import { input } from './wasm-expr';
import { instantiateSimd } from './wasm-simd';

const WebAssembly = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => object } })
  .WebAssembly;

describe('xnnSigmoid', () => {
  beforeAll(async () => {
    await initBackend('wasm', { quiet: true });
  });

  it("gives tfjs's wasm Sigmoid's bits, special cases included", async () => {
    const special = [0, -0, 1e-45, -1e-45, 1e-30, -1e-30, 16.6, -16.6, 87.33, 87.34, -87.34, 88, -88, 104, -104];
    const n = (1 << 20) + 3; // a remainder too
    const values = new Float32Array(n);
    let seed = 4321;
    const uniform = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5;
    for (let i = 0; i < n; i++) values[i] = uniform() * [2, 20, 200, 60, 2e-3][i % 5];
    values.set([...special, Infinity, -Infinity, NaN], 0);
    const memory = new WebAssembly.Memory({ initial: Math.ceil((8 * n) / 65536) + 1 }) as { buffer: ArrayBuffer };
    const fns = instantiateSimd(memory, [{ name: 'sig', inputs: ['full'], expr: xnnSigmoid(input(0)) }])!;
    new Float32Array(memory.buffer, 0, n).set(values);
    fns.sig(4 * n, 1, 4 * n, 0);
    const ours = new Float32Array(memory.buffer, 4 * n, n);
    const x = tf.tensor1d(values);
    const theirs = await tf.sigmoid(x).data();
    const [a, b] = [new Uint32Array(ours.slice().buffer), new Uint32Array(new Float32Array(theirs).buffer)];
    let differ = 0;
    for (let i = 0; i < n; i++) if (a[i] !== b[i] && !(Number.isNaN(ours[i]) && Number.isNaN(theirs[i]))) differ++;
    expect(differ).toBe(0);
    expect(Array.from(ours.slice(special.length, special.length + 3))).toEqual([1, 0, NaN]);
    x.dispose();
  });
});
