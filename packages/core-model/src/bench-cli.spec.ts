// The bench command's input boundary and its model table (the run itself is a benchmark, not a test).
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend';
import { BENCH_CONFIGS, benchCommand } from './bench-cli';
import { UsageError } from './cli';
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
});
