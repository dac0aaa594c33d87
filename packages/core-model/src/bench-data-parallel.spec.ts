// `bench --threads n --data-parallel`: the flags, the step and the sampling split over n ranks (worker threads running
// the package's bundled library), a failing rank reported as itself, and what the command passes on and reports.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runBench } from './bench';
import { benchCommand, benchThreads } from './bench-cli';
import { runBenchWithReference } from './bench-reference';
import { UsageError } from './command-line';
import { bundleLibrary } from './testing/bundle-library';

// The command's test replaces the bench behind it, to see what it is given.
jest.mock('./bench-reference', () => {
  const actual = jest.requireActual<typeof import('./bench-reference')>('./bench-reference');
  return { ...actual, runBenchWithReference: jest.fn(actual.runBenchWithReference) };
});
const runMock = runBenchWithReference as jest.MockedFunction<typeof runBenchWithReference>;

let library: string;
beforeAll(() => {
  library = bundleLibrary('bench-data-parallel-spec');
});

describe('bench --data-parallel', () => {
  it('--threads n --data-parallel: n ranks of one GEMM thread each, paired with n PyTorch threads', () => {
    expect(benchThreads({ threads: '2', dataParallel: true }, 'wasm', {})).toEqual({ ours: 2, reference: 2, ranks: 2 });
    expect(benchThreads({ threads: '2', dataParallel: true }, 'wasm', { REWARD_TUNE_NATIVE_MATMUL: '1' })).toEqual({
      ours: 2,
      reference: 2,
      ranks: 2,
    });
    expect(() => benchThreads({ dataParallel: true }, 'wasm', {})).toThrow(
      new UsageError('--data-parallel: needs --threads n (the ranks, one thread each)'),
    );
    expect(() =>
      benchThreads({ threads: '2', dataParallel: true }, 'wasm', { REWARD_TUNE_NATIVE_MATMUL: '2' }),
    ).toThrow(new UsageError('--threads 2 and REWARD_TUNE_NATIVE_MATMUL=2 disagree: --data-parallel sets it to 1'));
  });

  it('runs bench-mu over two ranks (and over four, one row each) and says so', async () => {
    for (const ranks of [2, 4]) {
      const r = await runBench('bench-mu', 'wasm', { dataParallel: { ranks, library } });
      expect(r).toMatchObject({ backend: 'wasm', data_parallel: ranks, params: 9276 });
      expect(r.train_step_ms).toBeGreaterThan(0);
      expect(r.sample_ms).toBeGreaterThan(0);
    }
  });

  it('refuses a batch that does not split evenly between the ranks, and --profile', async () => {
    await expect(runBench('bench-mu', 'wasm', { dataParallel: { ranks: 3, library } })).rejects.toThrow(
      new UsageError("--data-parallel: bench-mu's batch of 4 does not split into 3 ranks"),
    );
    await expect(runBench('bench-tiny', 'wasm', { dataParallel: { ranks: 5, library } })).rejects.toThrow(
      new UsageError("--data-parallel: bench-tiny's batch of 32 does not split into 5 ranks"),
    );
    await expect(runBench('bench-mu', 'wasm', { profile: true, dataParallel: { ranks: 2, library } })).rejects.toThrow(
      new UsageError('--profile: not with --data-parallel (it profiles one thread)'),
    );
  });

  it("reports a failing rank's own error, not the abort it caused in rank 0, and returns promptly", async () => {
    const broken = path.join(path.dirname(library), 'broken.cjs');
    writeFileSync(broken, "exports.benchWorker = async () => { throw new Error('rank 1 broke'); };\n");
    const t0 = Date.now();
    await expect(runBench('bench-mu', 'wasm', { dataParallel: { ranks: 2, library: broken } })).rejects.toThrow(
      'rank 1 broke',
    );
    const missing = path.join(path.dirname(library), 'missing.cjs');
    await expect(runBench('bench-mu', 'wasm', { dataParallel: { ranks: 2, library: missing } })).rejects.toThrow(
      /Cannot find module .*missing\.cjs/,
    );
    expect(Date.now() - t0).toBeLessThan(20_000); // rank 0 left its barrier when the rank failed
  });

  it('the command sets one GEMM thread per rank, passes the ranks on and reports n threads as n ranks', async () => {
    const seen: { env?: string; ranks?: number; library?: string }[] = [];
    runMock.mockImplementation(async (config, backend, ref, o) => {
      seen.push({ env: process.env.REWARD_TUNE_NATIVE_MATMUL, ...o?.dataParallel });
      return {
        backend: 'wasm',
        backend_detail:
          'tfjs-backend-wasm (SIMD, 1 thread; matMul: native, onnxruntime-node 1.30.0, 1 thread) from /x/',
        data_parallel: 2,
        params: 9276,
        train_step_ms: 10,
        sample_ms: 20,
        tokens_per_s: 1200,
        train_step_cpu_ms: 19,
        sample_cpu_ms: 39,
      };
    });
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const before = process.env.REWARD_TUNE_NATIVE_MATMUL;
    delete process.env.REWARD_TUNE_NATIVE_MATMUL;
    try {
      const args = ['--config', 'bench-mu', '--backend', 'wasm', '--threads', '2', '--data-parallel', '--no-reference'];
      await benchCommand([...args, '--json']);
      expect(JSON.parse(String(out.mock.calls[0][0]))).toMatchObject({ backend: 'wasm', threads: 2, data_parallel: 2 });
      await benchCommand(args);
      expect(String(out.mock.calls[1][0])).toMatch(
        /^bench-mu on wasm, 2 threads as 2 data-parallel ranks: 9276 params/,
      );
      expect(seen).toEqual([
        { env: '1', ranks: 2, library: expect.stringMatching(/index\.cjs$/) },
        { env: '1', ranks: 2, library: expect.stringMatching(/index\.cjs$/) },
      ]);
      expect(process.env.REWARD_TUNE_NATIVE_MATMUL).toBeUndefined();
    } finally {
      if (before !== undefined) process.env.REWARD_TUNE_NATIVE_MATMUL = before;
      out.mockRestore();
      runMock.mockReset();
    }
  });
});
