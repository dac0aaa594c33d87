// The bench command's input boundary and its model table (the run itself is a benchmark, not a test).
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend';
import { BENCH_CONFIGS, benchCommand, runBench } from './bench-cli';
import { UsageError } from './command-line';
import { initParams } from './model/encoder-decoder';
import { countParams } from './ops';

describe('bench', () => {
  it('bench-tiny is runtime.md §1 reference model: 1,947,564 parameters', async () => {
    await initBackend('wasm', { quiet: true });
    const params = initParams(BENCH_CONFIGS['bench-tiny'].model, 0);
    expect(countParams(params)).toBe(1947564);
    tf.dispose([...params.values()]);
  });

  it('rejects unknown configs, backends and flags with a UsageError naming the flag', async () => {
    await expect(benchCommand(['--config', 'bench-huge'])).rejects.toThrow(UsageError);
    await expect(benchCommand(['--config', 'bench-huge'])).rejects.toThrow(/^--config: unknown 'bench-huge'/);
    await expect(benchCommand(['--backend', 'cuda'])).rejects.toThrow(/^--backend: unknown 'cuda'/);
    await expect(benchCommand(['--frobnicate'])).rejects.toThrow(UsageError);
  });

  it('runs end to end on bench-mu and reports every field', async () => {
    const r = await runBench('bench-mu', 'wasm');
    expect(r.backend).toBe('wasm');
    // mu sizes with learned encoder positions: 9212 (see encoder-decoder.spec) + 4 patches × 16 = 9276.
    expect(r.params).toBe(9276);
    for (const k of ['train_step_ms', 'sample_ms', 'tokens_per_s', 'train_step_cpu_ms', 'sample_cpu_ms'] as const) {
      expect(Number.isFinite(r[k])).toBe(true);
      expect(r[k]).toBeGreaterThanOrEqual(0);
    }
  });
});
