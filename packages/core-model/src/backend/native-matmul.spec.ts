// The native BatchMatMul for wasm (onnxruntime's GEMM through its C API and koffi, over views of the wasm heap)
// against a naive product computed here: plain, flagged, batched (rank 3 and 4), broadcast batches, the model matMul's
// gradients, and the cases it leaves to wasm's kernel. Skipped, loudly, where onnxruntime-node or koffi is not
// installed (both optional dependencies).
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, matMul } from './index';
import { UsageError } from '../command-line';
import {
  fusedMatMulModel,
  loadNativeMatMul,
  nativeMatMulActive,
  nativeMatMulCount,
  nativeMatMulThreads,
  NATIVE_MATMUL_MIN_WORK,
  type NativeMatMul,
} from './native-matmul';
import { Rng } from '../rng';

const available = typeof loadNativeMatMul() !== 'string';
if (!available) console.warn(`native-matmul.spec: skipped, ${loadNativeMatMul() as string}`);
const describeNative = available ? describe : describe.skip;

// CI (CI=true, as .ci/run sets) on the project's platform must test the path users get, not skip it silently.
(process.env.CI === 'true' && process.platform === 'linux' && process.arch === 'x64' ? it : it.skip)(
  'onnxruntime-node and koffi are installed in CI on linux-x64',
  () => expect(loadNativeMatMul()).not.toEqual(expect.any(String)),
);

const rng = Rng.fromSeed(11);
const random = (shape: number[]) =>
  tf.tensor(
    Float32Array.from({ length: shape.reduce((x, y) => x * y, 1) }, () => rng.normal()),
    shape,
  );
const maxDiff = (x: ArrayLike<number>, y: ArrayLike<number>) =>
  Array.from(x).reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);

/** Element (i, j) of op(x) for a row-major [batch..., r, c] array at flat batch index t. */
function at(x: Float32Array, shape: number[], t: number, i: number, j: number, trans: boolean): number {
  const [r, c] = shape.slice(-2);
  const batch = shape.slice(0, -2).reduce((p, q) => p * q, 1);
  const tb = batch === 1 ? 0 : t;
  return trans ? x[(tb * r + j) * c + i] : x[(tb * r + i) * c + j];
}

/** op(a) @ op(b) with one of the batches broadcast when it is 1 (the only broadcast the cases below use). */
function naive(a: Float32Array, sa: number[], b: Float32Array, sb: number[], ta: boolean, tb: boolean): Float32Array {
  const m = ta ? sa[sa.length - 1] : sa[sa.length - 2],
    k = ta ? sa[sa.length - 2] : sa[sa.length - 1];
  const n = tb ? sb[sb.length - 2] : sb[sb.length - 1];
  const batch = Math.max(
    sa.slice(0, -2).reduce((p, q) => p * q, 1),
    sb.slice(0, -2).reduce((p, q) => p * q, 1),
  );
  const out = new Float32Array(batch * m * n);
  for (let t = 0; t < batch; t++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += at(a, sa, t, i, q, ta) * at(b, sb, t, q, j, tb);
        out[(t * m + i) * n + j] = s;
      }
  return out;
}

describe('REWARD_TUNE_NATIVE_MATMUL', () => {
  it('is a thread count: 1 by default, 0 turns it off, anything else is a usage error', () => {
    expect(nativeMatMulThreads({})).toBe(1);
    expect(nativeMatMulThreads({ REWARD_TUNE_NATIVE_MATMUL: '2' })).toBe(2);
    expect(nativeMatMulThreads({ REWARD_TUNE_NATIVE_MATMUL: '0' })).toBe(0);
    for (const bad of ['yes', '-1', '1.5'])
      expect(() => nativeMatMulThreads({ REWARD_TUNE_NATIVE_MATMUL: bad })).toThrow(UsageError);
  });

  (available ? it : it.skip)(
    'a second copy of the module loads too (koffi keeps one registry of names a process)',
    () => {
      // Jest's sandboxes and two bundles in one process each bind the C API again. (The second copy of tfjs-core
      // that comes with it warns that its platform is set already: silenced here.)
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      try {
        jest.isolateModules(() => {
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const again = require('./native-matmul') as typeof import('./native-matmul');
          expect(again.loadNativeMatMul(1)).not.toEqual(expect.any(String));
        });
      } finally {
        warn.mockRestore();
      }
    },
  );

  (available ? it : it.skip)('with 2 threads computes what 1 thread computes', () => {
    const [one, two] = [1, 2].map((t) => loadNativeMatMul(t) as NativeMatMul);
    expect(two.detail).toMatch(/, 2 threads$/);
    const a = Float32Array.from({ length: 96 * 80 }, () => rng.normal()),
      b = Float32Array.from({ length: 80 * 64 }, () => rng.normal());
    const [y1, y2] = [new Float32Array(96 * 64), new Float32Array(96 * 64)];
    one.run(a, [96, 80], b, [80, 64], false, false, y1, [96, 64]);
    two.run(a, [96, 80], b, [80, 64], false, false, y2, [96, 64]);
    expect(maxDiff(y2, y1)).toBeLessThan(1e-4);
    expect(maxDiff(y1, naive(a, [96, 80], b, [80, 64], false, false))).toBeLessThan(1e-4);
  });

  it('the hand-written ONNX model starts with the IR version field and names its operator', () => {
    const m = fusedMatMulModel(true, false);
    expect([m[0], m[1]]).toEqual([0x08, 8]); // field 1 (ir_version), varint 8
    expect(Buffer.from(m).includes(Buffer.from('FusedMatMul'))).toBe(true);
    expect(Buffer.from(m).includes(Buffer.from('com.microsoft'))).toBe(true);
  });
});

describeNative('native BatchMatMul on wasm (onnxruntime-node)', () => {
  let detail = '';
  beforeAll(async () => {
    detail = (await initBackend('wasm', { quiet: true })).detail;
  });

  it('is active and named in the backend line', () => {
    expect(nativeMatMulActive()).toBe(true);
    expect(detail).toMatch(/matMul: native, onnxruntime-node \d+\.\d+\.\d+, 1 thread/);
  });

  it.each([
    ['2-D', [48, 40], [40, 36], false, false],
    ['2-D, aᵀ', [40, 48], [40, 36], true, false],
    ['2-D, bᵀ', [48, 40], [36, 40], false, true],
    ['2-D, aᵀ and bᵀ', [40, 48], [36, 40], true, true],
    ['rank 3', [6, 16, 32], [6, 32, 20], false, false],
    ['rank 4 (attention scores), bᵀ', [2, 3, 16, 32], [2, 3, 24, 32], false, true],
    ['rank 4, aᵀ', [2, 3, 32, 16], [2, 3, 32, 24], true, false],
    ['rank 3, b broadcast', [4, 16, 32], [1, 32, 20], false, false],
    ['rank 3, a broadcast, bᵀ', [1, 16, 32], [4, 20, 32], false, true],
  ])('%s equals the naive product', async (_name, sa, sb, ta, tb) => {
    const a = random(sa),
      b = random(sb);
    const before = tf.memory().numTensors,
      calls = nativeMatMulCount();
    const y = tf.matMul(a, b, ta, tb);
    expect(nativeMatMulCount() - calls).toBe(1);
    const want = naive((await a.data()) as Float32Array, sa, (await b.data()) as Float32Array, sb, ta, tb);
    expect(y.size).toBe(want.length);
    expect(maxDiff(await y.data(), want)).toBeLessThan(1e-4);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
  });

  it('a product with weights side by side gives each block the separate product bit for bit', async () => {
    // What fusing a layer's query, key and value projections into one product would rely on: MLAS's arithmetic for an
    // output element does not depend on how many columns the product has (or where the element sits among them).
    for (const [m, k, n] of [
      [64, 96, 96],
      [7, 96, 40],
      [300, 64, 33],
    ]) {
      const x = random([m, k]);
      const ws = [random([k, n]), random([k, n]), random([k, n])];
      const calls = nativeMatMulCount();
      const side = tf.matMul(x, tf.concat(ws, 1));
      const apart = ws.map((w) => tf.matMul(x, w));
      expect(nativeMatMulCount() - calls).toBe(4);
      const joined = tf.concat(apart, 1);
      const bits = async (t: tf.Tensor) => Array.from(new Uint32Array(new Float32Array(await t.data()).buffer));
      expect(await bits(side)).toEqual(await bits(joined));
      tf.dispose([x, ...ws, side, ...apart, joined]);
    }
  });

  it('small and empty products stay on wasm and stay correct', async () => {
    const calls = nativeMatMulCount();
    const a = random([3, 4]),
      b = random([4, 5]);
    expect(3 * 4 * 5).toBeLessThan(NATIVE_MATMUL_MIN_WORK);
    const y = tf.matMul(a, b);
    expect(
      maxDiff(
        await y.data(),
        naive((await a.data()) as Float32Array, [3, 4], (await b.data()) as Float32Array, [4, 5], false, false),
      ),
    ).toBeLessThan(1e-5);
    const ye = tf.matMul(tf.zeros([0, 64]), tf.zeros([64, 64]));
    expect(ye.shape).toEqual([0, 64]);
    expect(nativeMatMulCount()).toBe(calls);
  });

  it('writes the product into memory the wasm heap still owns after it grows', async () => {
    // Allocations between products may grow (and so replace) the wasm memory; the kernel takes its views afresh.
    const a = random([64, 64]),
      b = random([64, 64]);
    const want = naive(
      (await a.data()) as Float32Array,
      [64, 64],
      (await b.data()) as Float32Array,
      [64, 64],
      false,
      false,
    );
    const big = tf.zeros([64, 1024, 1024]); // 256 MiB
    const y = tf.matMul(a, b);
    expect(maxDiff(await y.data(), want)).toBeLessThan(1e-4);
    tf.dispose([a, b, big, y]);
  });

  it('gradients of the model matMul (rank 4) equal dy·bᵀ and aᵀ·dy, through flagged native products', async () => {
    const sa = [2, 2, 16, 32],
      sb = [2, 2, 32, 24],
      sy = [2, 2, 16, 24];
    const a = random(sa),
      b = random(sb),
      dy = random(sy);
    const calls = nativeMatMulCount();
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => matMul(x, y))([a, b], dy);
    expect(nativeMatMulCount() - calls).toBe(3); // forward, dA, dB: no explicit transposes
    const [av, bv, dyv] = (await Promise.all([a.data(), b.data(), dy.data()])) as Float32Array[];
    expect(maxDiff(await ga.data(), naive(dyv, sy, bv, sb, false, true))).toBeLessThan(1e-3);
    expect(maxDiff(await gb.data(), naive(av, sa, dyv, sy, true, false))).toBeLessThan(1e-3);
    tf.dispose([a, b, dy, ga, gb]);
  });
});
