// The threaded wasm build under Node (opt-in through REWARD_TUNE_WASM_THREADS): thread count parsing, and a backend
// that runs XNNPACK on 2 threads, computes what the single-threaded path computes, and leaves the globals as they were.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './index';
import { UsageError } from '../command-line';
import { wasmThreadCount } from './wasm-threads';

describe('wasmThreadCount', () => {
  it('is 1 unless REWARD_TUNE_WASM_THREADS asks for more, capped at 4', () => {
    expect(wasmThreadCount({})).toBe(1);
    expect(wasmThreadCount({ REWARD_TUNE_WASM_THREADS: '' })).toBe(1);
    expect(wasmThreadCount({ REWARD_TUNE_WASM_THREADS: '2' })).toBe(2);
    expect(wasmThreadCount({ REWARD_TUNE_WASM_THREADS: '9' })).toBe(4);
    for (const bad of ['0', '-1', '1.5', 'two']) {
      expect(() => wasmThreadCount({ REWARD_TUNE_WASM_THREADS: bad })).toThrow(
        /REWARD_TUNE_WASM_THREADS must be a positive integer/,
      );
    }
  });
});

it('a bad REWARD_TUNE_WASM_THREADS stops initBackend with one usage line, not a fall-back', async () => {
  const saved = process.env.REWARD_TUNE_WASM_THREADS;
  process.env.REWARD_TUNE_WASM_THREADS = 'lots';
  try {
    await expect(initBackend('auto', { quiet: true })).rejects.toThrow(UsageError);
    await expect(initBackend('wasm', { quiet: true })).rejects.toThrow(
      /REWARD_TUNE_WASM_THREADS must be a positive integer, got 'lots'/,
    );
  } finally {
    if (saved === undefined) delete process.env.REWARD_TUNE_WASM_THREADS;
    else process.env.REWARD_TUNE_WASM_THREADS = saved;
  }
});

describe('the wasm backend on 2 threads', () => {
  const saved = process.env.REWARD_TUNE_WASM_THREADS;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const os = require('node:os') as typeof import('node:os');
  const before = { blob: globalThis.Blob, create: URL.createObjectURL, cpus: os.cpus };
  afterAll(() => {
    if (saved === undefined) delete process.env.REWARD_TUNE_WASM_THREADS;
    else process.env.REWARD_TUNE_WASM_THREADS = saved;
  });

  it('starts XNNPACK with 2 threads, multiplies correctly, and restores the globals it bridged', async () => {
    process.env.REWARD_TUNE_WASM_THREADS = '2';
    const info = await initBackend('wasm', { quiet: true });
    expect(info.name).toBe('wasm');
    expect(info.detail).toMatch(/SIMD, 2 threads/);
    expect(globalThis.Blob).toBe(before.blob);
    expect(URL.createObjectURL).toBe(before.create);
    expect(os.cpus).toBe(before.cpus);
    // Large enough for XNNPACK to split the work between the threads.
    const m = 96,
      k = 128,
      n = 80;
    const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i * 0.37));
    const b = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i * 0.11));
    const got = await tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])).data();
    let worst = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += a[i * k + t] * b[t * n + j];
        worst = Math.max(worst, Math.abs(s - got[i * n + j]));
      }
    }
    expect(worst).toBeLessThan(1e-3);
  });
});
