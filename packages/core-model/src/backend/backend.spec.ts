// Backend selection and the wasm workarounds: wasm initialises, `auto` falls back to it here, an explicit
// unavailable choice fails with one clear line, the flag-free matMul equals tf.matMul (values and gradients), and a
// key-value cache position is written in place on wasm only where nothing else shares the buffer.
import * as tf from '@tensorflow/tfjs-core';
import {
  addMany,
  classifyAdapter,
  flagFreeMatMul,
  initBackend,
  matMul,
  readTensor,
  writePosition,
  BackendUnavailableError,
} from './index';

const rand = (shape: number[], seed: number): tf.Tensor => tf.randomNormal(shape, 0, 1, 'float32', seed);

async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.max(tf.abs(tf.sub(a, b)));
  const v = (await readTensor(d))[0];
  d.dispose();
  return v;
}

describe('backend', () => {
  it('initialises wasm explicitly', async () => {
    const info = await initBackend('wasm', { quiet: true });
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('auto falls back to wasm quickly where there is no hardware GPU and no tfjs-node', async () => {
    const t0 = Date.now();
    const info = await initBackend('auto', { quiet: true });
    // This machine has neither tfjs-node nor a hardware WebGPU adapter; a GPU machine would pick them instead.
    expect(['wasm', 'webgpu', 'tensorflow']).toContain(info.name);
    if (info.name === 'wasm') expect(info.detail).toMatch(/skipped: .*tfjs-node-gpu/);
    // With Mesa lavapipe installed, auto must have seen the adapter and passed over it as software.
    if (/llvmpipe|lavapipe/.test(info.detail)) expect(info.detail).toMatch(/is a software fallback/);
    expect(Date.now() - t0).toBeLessThan(15000);
  });

  it('an unavailable explicit choice is a one-line BackendUnavailableError', async () => {
    await expect(initBackend('tensorflow', { quiet: true })).rejects.toThrow(BackendUnavailableError);
    await expect(initBackend('tensorflow', { quiet: true })).rejects.toThrow(
      /^backend 'tensorflow' unavailable: [^\n]*$/,
    );
    await initBackend('wasm', { quiet: true });
  });

  it('webgpu, asked for explicitly, either works or says why in one line', async () => {
    try {
      const info = await initBackend('webgpu', { quiet: true });
      expect(info.name).toBe('webgpu');
    } catch (e) {
      // Without Vulkan, or with Debian 12's own Mesa 22, there is no adapter: the message must say so.
      expect(e).toBeInstanceOf(BackendUnavailableError);
      expect(String((e as Error).message)).toMatch(/^backend 'webgpu' unavailable: [^\n]*(adapter|webgpu|Dawn)/);
    }
    await initBackend('wasm', { quiet: true });
  });

  it('classifies adapters as Dawn 0.6 reports them: lavapipe is software, a GPU is not', () => {
    // The info fields below are what npm webgpu 0.6.2 printed for Mesa 25 lavapipe on this machine.
    const lavapipe = {
      info: {
        vendor: 'mesa',
        architecture: 'software',
        device: 'llvmpipe-llvm-15-0-6-256-bits-',
        description: 'llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1',
        isFallbackAdapter: true,
      },
    };
    expect(classifyAdapter(lavapipe)).toEqual({
      description: 'mesa software llvmpipe-llvm-15-0-6-256-bits- llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1',
      software: true,
    });
    // Each signal alone suffices: the flag on info (current spec), on the adapter (older drafts), or the name.
    expect(classifyAdapter({ info: { vendor: 'x', isFallbackAdapter: true } }).software).toBe(true);
    expect(classifyAdapter({ isFallbackAdapter: true, info: { vendor: 'x' } }).software).toBe(true);
    expect(classifyAdapter({ info: { vendor: 'google', architecture: 'swiftshader' } }).software).toBe(true);
    const gpu = {
      info: { vendor: 'nvidia', architecture: 'hopper', device: 'nvidia-h100-80gb-hbm3', isFallbackAdapter: false },
    };
    expect(classifyAdapter(gpu)).toEqual({ description: 'nvidia hopper nvidia-h100-80gb-hbm3', software: false });
    expect(classifyAdapter({}).description).toBe('unknown');
  });

  it('the UnsortedSegmentSum kernel makes gather differentiable on wasm', async () => {
    await initBackend('wasm', { quiet: true });
    const table = tf.tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const ids = tf.tensor1d([2, 0, 2], 'int32');
    const g = tf.grad((t: tf.Tensor) =>
      tf.sum(
        tf.mul(
          tf.gather(t, ids),
          tf.tensor2d([
            [1, 10],
            [100, 1000],
            [2, 20],
          ]),
        ),
      ),
    )(table);
    // Row 0 gets the weights of occurrence 1, row 2 the sum of occurrences 0 and 2, row 1 nothing.
    expect(Array.from(await readTensor(g))).toEqual([100, 1000, 0, 0, 3, 30]);
  });

  it('wasm Identity shares the buffer and survives disposal of its source', async () => {
    await initBackend('wasm', { quiet: true });
    const x = tf.tensor1d([1, 2, 3]);
    const before = tf.memory().numBytes;
    const y = tf.clone(x);
    x.dispose();
    expect(Array.from(await readTensor(y))).toEqual([1, 2, 3]);
    const heap = (tf.backend() as unknown as { dataIdMap: { get(id: object): { refCount: number } } }).dataIdMap;
    expect(heap.get(y.dataId).refCount).toBe(1);
    y.dispose();
    expect(tf.memory().numBytes).toBeLessThanOrEqual(before);
    // A saved-for-backward clone must not alias a variable's later value.
    const v = tf.variable(tf.tensor1d([5, 6]));
    const snap = tf.clone(v);
    v.assign(tf.tensor1d([7, 8]));
    expect(Array.from(await readTensor(snap))).toEqual([5, 6]);
  });

  it.each([
    [
      [7, 5],
      [5, 3],
    ],
    [
      [2, 7, 5],
      [2, 5, 3],
    ],
    [
      [2, 3, 4, 5],
      [2, 3, 5, 6],
    ],
  ])('flag-free matMul %j @ %j equals tf.matMul in value and gradient (wasm)', async (sa, sb) => {
    await initBackend('wasm', { quiet: true });
    const a = rand(sa, 1);
    const b = rand(sb, 2);
    const w = rand([...sa.slice(0, -1), sb[sb.length - 1]], 3);
    const loss = (f: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(f(x, y), w));
    expect(await maxAbsDiff(flagFreeMatMul(a, b), tf.matMul(a, b))).toBeLessThan(1e-5);
    expect(await maxAbsDiff(matMul(a, b), tf.matMul(a, b))).toBeLessThan(1e-5);
    const [ga, gb] = tf.grads(loss(flagFreeMatMul))([a, b]);
    const [ra, rb] = tf.grads(loss((x, y) => tf.matMul(x, y)))([a, b]);
    expect(await maxAbsDiff(ga, ra)).toBeLessThan(1e-4);
    expect(await maxAbsDiff(gb, rb)).toBeLessThan(1e-4);
  });

  it('addMany sums any number of same-shape tensors (addN in groups of at most 7 inputs)', async () => {
    await initBackend('cpu', { quiet: true });
    for (const n of [1, 2, 7, 8, 50]) {
      const ts = Array.from({ length: n }, (_, i) => tf.tensor1d([i, 2 * i]));
      const sum = addMany(ts);
      expect(Array.from(await readTensor(sum))).toEqual([(n * (n - 1)) / 2, n * (n - 1)]);
      tf.dispose([...ts, sum]);
    }
    expect(() => addMany([])).toThrow(RangeError);
  });

  /** cache [2, 3, 4, 5] with random values except zeros at position t of `axis`, an update, and the expected result. */
  function cacheCase(axis: 2 | 3, t: number) {
    const shape = [2, 3, 4, 5];
    const values = Float32Array.from({ length: 120 }, (_, i) => Math.sin(i + 1));
    const upd = Float32Array.from({ length: axis === 2 ? 30 : 24 }, (_, i) => 10 + i);
    const want = Float32Array.from(values);
    for (let bh = 0; bh < 6; bh++)
      for (let x = 0; x < 4; x++)
        for (let y = 0; y < 5; y++) {
          const i = (bh * 4 + x) * 5 + y;
          if ((axis === 2 ? x : y) !== t) continue;
          values[i] = 0;
          want[i] = axis === 2 ? upd[bh * 5 + y] : upd[bh * 4 + x];
        }
    const mask = Array.from({ length: axis === 2 ? 4 : 5 }, (_, j) => (j === t ? 1 : 0));
    return {
      cache: tf.tensor4d(values, [2, 3, 4, 5]),
      update: tf.tensor4d(upd, axis === 2 ? [2, 3, 1, 5] : [2, 3, 4, 1]),
      mask: tf.tensor4d(mask, axis === 2 ? [1, 1, 4, 1] : [1, 1, 1, 5]),
      want: Array.from(want),
      shape,
    };
  }

  it.each([
    ['wasm', 2, 1],
    ['wasm', 3, 4],
    ['cpu', 2, 0],
    ['cpu', 3, 2],
  ] as const)('writePosition on %s, axis %i, position %i: the cache with that position set', async (be, axis, t) => {
    await initBackend(be, { quiet: true });
    const { cache, update, mask, want } = cacheCase(axis, t);
    const out = writePosition(cache, update, t, axis, mask);
    // On wasm the sole owner's buffer is written in place and shared by the result; elsewhere a new tensor.
    expect(out.dataId === cache.dataId).toBe(be === 'wasm');
    cache.dispose();
    expect(Array.from(await readTensor(out))).toEqual(want);
    tf.dispose([out, update, mask]);
  });

  it('writePosition leaves a buffer that another tensor shares untouched (wasm)', async () => {
    await initBackend('wasm', { quiet: true });
    const { cache, update, mask, want } = cacheCase(3, 1);
    const alias = tf.reshape(cache, [6, 20]);
    const before = Array.from(await readTensor(alias));
    const out = writePosition(cache, update, 1, 3, mask);
    expect(out.dataId === cache.dataId).toBe(false);
    expect(Array.from(await readTensor(alias))).toEqual(before);
    expect(Array.from(await readTensor(out))).toEqual(want);
    expect(() => writePosition(cache, update, 5, 3, mask)).toThrow(/position 5 of axis 3/);
    expect(() => writePosition(cache, update, 1, 2, mask)).toThrow(RangeError);
    tf.dispose([cache, alias, out, update, mask]);
  });
});
