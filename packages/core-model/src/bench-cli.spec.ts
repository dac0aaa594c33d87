// The bench command's input boundary, its model table, the PyTorch-reference plumbing (argument building, output
// validation, the merge and the ratios) through fake interpreters, and the thread pairing (`--threads`: the flags,
// the native GEMM's threads set before the backend starts, what the report says); the timings are not tested.
import * as tf from '@tensorflow/tfjs-core';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { initBackend, type BackendInfo } from './backend';
import { BENCH_CONFIGS, runBench, type BenchResult } from './bench';
import { ORACLE_BENCH_CONFIGS, runOracleBench } from './bench-oracle';
import { benchCommand, benchThreads, oursThreads } from './bench-cli';
import {
  TORCH_BENCH_SCRIPT,
  referenceArgs,
  referenceOptions,
  runBenchWithReference,
  runReference,
  torchAvailable,
  withReference,
} from './bench-reference';
import { UsageError } from './command-line';
import { spawnSync } from 'node:child_process';
import { EncoderDecoder, initParams, type EncoderDecoderConfig } from './model/encoder-decoder';
import { countParams } from './model/ops';

// initBackend as usual, but a test can replace one call (to see the environment it starts in, or what it reports).
jest.mock('./backend', () => {
  const actual = jest.requireActual<typeof import('./backend')>('./backend');
  return { ...actual, initBackend: jest.fn(actual.initBackend) };
});
const initBackendMock = initBackend as jest.MockedFunction<typeof initBackend>;
const realInitBackend = jest.requireActual<typeof import('./backend')>('./backend').initBackend;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'bench-ref-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fake `python` (a node script): `-c ...` exits `importStatus`; otherwise runs `body` with argv `a`. */
const fakePython = (name: string, importStatus: number, body: string): string => {
  const file = path.join(dir, name);
  writeFileSync(
    file,
    `#!${process.execPath}\nconst a = process.argv.slice(2);\nif (a[0] === '-c') process.exit(${importStatus});\n${body}\n`,
  );
  chmodSync(file, 0o755);
  return file;
};
// Echoes what it was given, as torch_bench.py's JSON line would carry it, after a line of noise.
const ECHO = `const arg = (f) => a[a.indexOf(f) + 1];
const spec = JSON.parse(arg('--spec'));
console.log('some warning');
console.log(JSON.stringify({ torch_version: 'fake', threads: Number(arg('--threads')), device: arg('--device'),
  params: spec.params, train_step_ms: 4, sample_ms: 8, train_step_cpu_ms: 5, sample_cpu_ms: 10, batch: spec.batch }));`;

describe('bench', () => {
  it('bench-tiny is the 1,947,564-parameter reference model', async () => {
    await initBackend('wasm', { quiet: true });
    const params = initParams(BENCH_CONFIGS['bench-tiny'].model, 0);
    expect(countParams(params)).toBe(1947564);
    tf.dispose([...params.values()]);
  });

  it("bench-base is the paper's detection model: ViT-B/16 at 224², a 6-layer decoder of width 512", () => {
    // 114,013,500 parameters (the bench prints the count; initialising them here would take most of a minute).
    const { encoder, decoder } = BENCH_CONFIGS['bench-base'].model;
    expect(encoder).toMatchObject({ imageSize: [224, 224], patch: 16, width: 768, depth: 12, heads: 12, mlp: 3072 });
    expect(decoder).toMatchObject({ width: 512, depth: 6, heads: 16, mlp: 2048, encoderWidth: 768, length: 600 });
    expect(decoder.vocabSize).toBe(1084);
  });

  it('refuses bench-base on wasm in one line, before building the model', async () => {
    await expect(runBench('bench-base', 'wasm')).rejects.toThrow(UsageError);
    await expect(runBench('bench-base', 'wasm')).rejects.toThrow(/^--config bench-base: does not fit wasm \(the 4 GiB/);
  });

  it('rejects unknown configs, backends and flags with a UsageError naming the flag', async () => {
    await expect(benchCommand(['--config', 'bench-huge'])).rejects.toThrow(UsageError);
    await expect(benchCommand(['--config', 'bench-huge'])).rejects.toThrow(/^--config: unknown 'bench-huge'/);
    await expect(benchCommand(['--backend', 'cuda'])).rejects.toThrow(/^--backend: unknown 'cuda'/);
    await expect(benchCommand(['--frobnicate'])).rejects.toThrow(UsageError);
    await expect(benchCommand(['--config', 'bench-huge'])).rejects.toThrow(/\|bench-oracle-tiny\)$/);
    await expect(benchCommand(['--config', 'bench-oracle-mu', '--profile'])).rejects.toThrow(
      /^--profile: not available for bench-oracle-mu$/,
    );
  });

  it('bench-oracle-mu times stage I end to end and reports every field', async () => {
    const r = await runOracleBench('bench-oracle-mu', 'wasm');
    expect(r).toMatchObject({ config: 'bench-oracle-mu', backend: 'wasm', batch: 4 });
    expect(r.params).toBeGreaterThan(10000);
    for (const k of ['train_step_ms', 'train_step_cpu_ms', 'encode_ms_per_image', 'decode_ms_per_image'] as const) {
      expect(Number.isFinite(r[k])).toBe(true);
      expect(r[k]).toBeGreaterThanOrEqual(0);
    }
    // The tiny bench is the CPU demo's oracle: 64², patch 8, code 16 of 256, with panoptic's two output keys.
    expect(ORACLE_BENCH_CONFIGS['bench-oracle-tiny']).toMatchObject({ preset: 'tiny', batch: 32 });
    expect(ORACLE_BENCH_CONFIGS['bench-oracle-tiny'].outputs.map((o) => o.channels)).toEqual([7, 16]);
  });

  it('runs end to end on bench-mu and reports every field', async () => {
    const r = await runBench('bench-mu', 'wasm');
    expect(r.backend).toBe('wasm');
    expect(r.backend_detail).toMatch(/^tfjs-backend-wasm \(SIMD, 1 thread; matMul: /);
    // mu sizes with learned encoder positions: 9212 (see encoder-decoder.spec) + 4 patches × 16 = 9276.
    expect(r.params).toBe(9276);
    for (const k of ['train_step_ms', 'sample_ms', 'tokens_per_s', 'train_step_cpu_ms', 'sample_cpu_ms'] as const) {
      expect(Number.isFinite(r[k])).toBe(true);
      expect(r[k]).toBeGreaterThanOrEqual(0);
    }
    expect(r.profile).toBeUndefined();
  });

  it('--profile counts the kernels of one training step and sums their times by name', async () => {
    const r = await runBench('bench-mu', 'cpu', { profile: true });
    const p = r.profile!;
    // Two micro-batches of forward + backward + one Adam update: hundreds of kernels, MatMul among the busiest.
    expect(p.kernels).toBeGreaterThan(200);
    expect(p.top.length).toBeLessThanOrEqual(15);
    expect(p.top.map((k) => k.name)).toContain('BatchMatMul');
    const counted = p.top.reduce((n, k) => n + k.count, 0);
    expect(counted).toBeLessThanOrEqual(p.kernels);
    for (let i = 1; i < p.top.length; i++) expect(p.top[i].ms).toBeLessThanOrEqual(p.top[i - 1].ms);
    expect(p.kernel_ms).toBeGreaterThanOrEqual(p.top[0].ms);
  });
});

describe('PyTorch reference plumbing', () => {
  const ours: BenchResult = {
    backend: 'wasm',
    backend_detail: 'tfjs-backend-wasm (fixture)',
    params: 1947564,
    train_step_ms: 2140,
    sample_ms: 600,
    tokens_per_s: 1707,
    train_step_cpu_ms: 2000,
    sample_cpu_ms: 590,
  };

  it('passes the exact model, batch, steps and expected parameter count to the script', () => {
    const opts = { python: 'py', script: '/x/torch_bench.py', threads: 2, device: 'cpu' as const };
    const args = referenceArgs('bench-tiny', 1947564, opts);
    expect(args[0]).toBe('/x/torch_bench.py');
    expect(args.slice(2)).toEqual([args[2], '--threads', '2', '--device', 'cpu']);
    expect(args[1]).toBe('--spec');
    const spec = JSON.parse(args[2]);
    expect(spec).toEqual({ model: BENCH_CONFIGS['bench-tiny'].model, batch: 32, steps: 3, params: 1947564 });
    expect(spec.model.encoder).toMatchObject({
      imageSize: [32, 32],
      patch: 4,
      width: 128,
      depth: 4,
      posemb: 'learned',
    });
    expect(spec.model.decoder).toMatchObject({ vocabSize: 300, length: 32, width: 128, depth: 4, heads: 4, mlp: 512 });
    // --steps n: the reference times the same number of steps as ours.
    expect(JSON.parse(referenceArgs('bench-tiny', 1947564, opts, 10)[2]).steps).toBe(10);
  });

  it('takes the interpreter from REWARD_TUNE_PYTHON (default python3) and matches GPU to GPU', () => {
    expect(referenceOptions('wasm', 1, {})).toMatchObject({ python: 'python3', threads: 1, device: 'cpu' });
    expect(referenceOptions('wasm', 3, { REWARD_TUNE_PYTHON: '/usr/bin/python3' })).toMatchObject({
      python: '/usr/bin/python3',
      threads: 3,
    });
    expect(referenceOptions('webgpu', 1, {}).device).toBe('auto');
    expect(referenceOptions('wasm', 1, {}).script).toBe(TORCH_BENCH_SCRIPT);
    expect(TORCH_BENCH_SCRIPT).toMatch(/tools\/bench\/torch_bench\.py$/);
  });

  it('ratios are ours / reference to two decimals, for wall and CPU time', () => {
    const ref = {
      torch_version: 'x',
      threads: 1,
      device: 'cpu',
      params: 1947564,
      train_step_ms: 270,
      sample_ms: 800,
      train_step_cpu_ms: 250,
      sample_cpu_ms: 790,
    };
    const r = withReference(ours, ref);
    // 2140/270 = 7.926 → 7.93; 600/800 = 0.75; 2000/250 = 8; 590/790 = 0.7468 → 0.75.
    expect(r.ratio).toEqual({ train_step: 7.93, sample: 0.75, train_step_cpu: 8, sample_cpu: 0.75 });
    expect(r.reference).toBe(ref);
    expect(r.train_step_ms).toBe(2140);
  });

  it('reads the last output line and validates it; failures are one line naming the script and the field', () => {
    const base = { script: '/x/torch_bench.py', threads: 1, device: 'cpu' as const };
    const good = runReference('bench-tiny', 1947564, { ...base, python: fakePython('good', 0, ECHO) });
    expect(E.isRight(good) && good.right).toEqual({
      torch_version: 'fake',
      threads: 1,
      device: 'cpu',
      params: 1947564,
      train_step_ms: 4,
      sample_ms: 8,
      train_step_cpu_ms: 5,
      sample_cpu_ms: 10,
    });
    const bad = runReference('bench-tiny', 1, {
      ...base,
      python: fakePython(
        'bad',
        0,
        `console.log(JSON.stringify({ torch_version: 'x', threads: 1, device: 'cpu', params: 1, train_step_ms: 'fast', sample_ms: 1, train_step_cpu_ms: 1, sample_cpu_ms: 1 }));`,
      ),
    });
    expect(bad).toEqual(E.left(expect.stringMatching(/^torch_bench\.py output: train_step_ms: /)));
    const fail = runReference('bench-tiny', 1, {
      ...base,
      python: fakePython(
        'fail',
        0,
        `console.error('Traceback ...'); console.error('AssertionError: parameter count 5 != 1'); process.exit(1);`,
      ),
    });
    expect(fail).toEqual(E.left('torch_bench.py: exit 1: AssertionError: parameter count 5 != 1'));
    const notJson = runReference('bench-tiny', 1, {
      ...base,
      python: fakePython('nojson', 0, `console.log('hello');`),
    });
    expect(notJson).toEqual(E.left("torch_bench.py: output is not JSON: 'hello'"));
    const missing = runReference('bench-tiny', 1, { ...base, python: path.join(dir, 'no-such-python') });
    expect(E.isLeft(missing) && missing.left).toMatch(/^torch_bench\.py: .*no-such-python: .*ENOENT/);
  });

  it('merges the reference into the bench result when torch imports, and leaves it out when it does not', async () => {
    const withTorch = await runBenchWithReference('bench-mu', 'wasm', {
      threads: 2,
      env: { REWARD_TUNE_PYTHON: fakePython('echo', 0, ECHO) },
    });
    expect(withTorch.reference).toMatchObject({ torch_version: 'fake', threads: 2, device: 'cpu', params: 9276 });
    // Ratios are reported with two decimals.
    const twoDecimals = (x: number): number => Math.round(x * 100) / 100;
    expect(withTorch.ratio!.train_step).toBe(twoDecimals(withTorch.train_step_ms / 4));
    expect(withTorch.ratio!.sample).toBe(twoDecimals(withTorch.sample_ms / 8));
    expect(torchAvailable(fakePython('notorch', 1, 'process.exit(9);'))).toBe(false);
    const noTorch = await runBenchWithReference('bench-mu', 'wasm', {
      threads: 1,
      env: { REWARD_TUNE_PYTHON: path.join(dir, 'notorch') },
    });
    expect(noTorch.reference).toBeUndefined();
    expect(noTorch.ratio).toBeUndefined();
    const skipped = await runBenchWithReference('bench-mu', 'wasm', null);
    expect(skipped.reference).toBeUndefined();
  });

  it('rejects a bad --reference-threads or --steps', async () => {
    await expect(benchCommand(['--reference-threads', '0'])).rejects.toThrow(
      /^--reference-threads: expected a positive integer, got '0'/,
    );
    await expect(benchCommand(['--steps', '2.5'])).rejects.toThrow(/^--steps: expected a positive integer, got '2.5'/);
  });

  // The real script, where torch is installed: it must rebuild the TypeScript model's exact parameter count.
  const python = process.env.REWARD_TUNE_PYTHON || 'python3';
  const itTorch = torchAvailable(python) ? it : it.skip;
  itTorch("torch_bench.py reproduces bench-mu's parameter count and reports every field", () => {
    const r = runReference('bench-mu', 9276, { python, script: TORCH_BENCH_SCRIPT, threads: 1, device: 'cpu' });
    expect(r).toEqual(E.right(expect.objectContaining({ params: 9276, threads: 1, device: 'cpu' })));
    // On Linux the library that served the matMuls is named (its speed decides the reference's speed).
    if (process.platform === 'linux') expect(E.isRight(r) && r.right.blas).toMatch(/blas/);
    const wrong = runReference('bench-mu', 9275, { python, script: TORCH_BENCH_SCRIPT, threads: 1, device: 'cpu' });
    expect(wrong).toEqual(E.left(expect.stringMatching(/parameter count 9276 != 9275/)));
  });

  // The reference must be the same function, not just the same size: with the TypeScript model's own weights
  // (and a non-zero logits layer, which is zero-initialised) both compute the same loss and greedy tokens.
  const mu = BENCH_CONFIGS['bench-mu'].model;
  const sincos: EncoderDecoderConfig = { ...mu, encoder: { ...mu.encoder, posemb: 'sincos2d' } };
  itTorch.each([
    ['learned', mu],
    ['sin-cos', sincos],
  ])(
    'torch_bench.py --check: same loss and greedy tokens as the TypeScript model (%s encoder positions)',
    async (_, cfg) => {
      await initBackend('wasm', { quiet: true });
      const model = EncoderDecoder.create(cfg, 0);
      const head = model.params.get('decoder/head/kernel')!;
      head.assign(tf.randomNormal(head.shape, 0, 1, 'float32', 3));
      const [h, w] = cfg.encoder.imageSize;
      const images = tf.randomUniform([4, h, w, 3], -1, 1, 'float32', 1) as tf.Tensor4D; // [B, Hi, Wi, C]
      const targets = tf.randomUniform([4, cfg.decoder.length], 0, cfg.decoder.vocabSize, 'int32', 2) as tf.Tensor2D; // [B, L]
      const lossT = tf.tidy(() => tf.neg(tf.mean(model.tokenLogProbs(images, targets))));
      const loss = (await lossT.data())[0];
      const greedy = await model.sample(images, { numSamples: 1, greedy: true });
      const asJson = async (t: tf.Tensor) => ({ shape: t.shape, data: Array.from(await t.data()) });
      const params: Record<string, unknown> = {};
      for (const [k, v] of model.params) params[k] = await asJson(v);
      const file = path.join(dir, `check-${cfg.encoder.posemb}.json`);
      writeFileSync(
        file,
        JSON.stringify({ model: cfg, params, images: await asJson(images), targets: await asJson(targets) }),
      );
      tf.dispose([images, targets, lossT]);
      model.dispose();

      const r = spawnSync(python, [TORCH_BENCH_SCRIPT, '--check', file], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      const ref = JSON.parse(r.stdout) as { loss: number; tokens: number[][] };
      expect(Math.abs(ref.loss - loss)).toBeLessThan(1e-5);
      expect(ref.loss).toBeGreaterThan(0.5); // a non-trivial loss (zero logits would give ln 12 ≈ 2.48 exactly)
      expect(Math.abs(ref.loss - Math.log(12))).toBeGreaterThan(1e-3);
      expect(ref.tokens.flat()).toEqual(Array.from(greedy.tokens));
    },
  );
});

describe('bench --threads', () => {
  /** Sets (or, with undefined, removes) environment variables for the length of `f`, then puts them back. */
  const withEnv = async (vars: Record<string, string | undefined>, f: () => Promise<void>): Promise<void> => {
    const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
    const set = (vs: Record<string, string | undefined>): void => {
      for (const [k, v] of Object.entries(vs)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    };
    set(vars);
    try {
      await f();
    } finally {
      set(before);
    }
  };
  const NO_THREAD_ENV = { REWARD_TUNE_NATIVE_MATMUL: undefined, REWARD_TUNE_WASM_THREADS: undefined };

  it('--threads n sets both sides; --reference-threads alone sets PyTorch’s (default 1)', () => {
    expect(benchThreads({ threads: '2' }, 'wasm', {})).toEqual({ ours: 2, reference: 2 });
    expect(benchThreads({ threads: '3', referenceThreads: '3' }, 'wasm', {})).toEqual({ ours: 3, reference: 3 });
    expect(benchThreads({ referenceThreads: '4' }, 'webgpu', {})).toEqual({ reference: 4 });
    expect(benchThreads({}, 'auto', {})).toEqual({ reference: 1 });
    // An environment that says the same is no conflict.
    const same = { REWARD_TUNE_NATIVE_MATMUL: '2', REWARD_TUNE_WASM_THREADS: '1' };
    expect(benchThreads({ threads: '2' }, 'wasm', same)).toEqual({ ours: 2, reference: 2 });
  });

  it('refuses bad counts, a disagreeing --reference-threads or environment, and other backends, in one line', () => {
    const refused = (f: () => unknown, message: RegExp): void => {
      expect(f).toThrow(UsageError);
      expect(f).toThrow(message);
      try {
        f();
      } catch (e) {
        expect((e as Error).message).not.toContain('\n');
      }
    };
    for (const bad of ['0', '-1', '2.5', 'two', '', '1e1']) {
      refused(
        () => benchThreads({ threads: bad }, 'wasm', {}),
        new RegExp(`^--threads: expected a positive integer, got '${bad.replace('.', '\\.')}'$`),
      );
      refused(
        () => benchThreads({ referenceThreads: bad }, 'wasm', {}),
        /^--reference-threads: expected a positive integer/,
      );
    }
    refused(
      () => benchThreads({ threads: '2', referenceThreads: '1' }, 'wasm', {}),
      /^--threads 2 and --reference-threads 1 disagree: --threads sets both sides$/,
    );
    refused(
      () => benchThreads({ threads: '2' }, 'wasm', { REWARD_TUNE_NATIVE_MATMUL: '0' }),
      /^--threads 2 and REWARD_TUNE_NATIVE_MATMUL=0 disagree/,
    );
    refused(
      () => benchThreads({ threads: '2' }, 'wasm', { REWARD_TUNE_WASM_THREADS: '2' }),
      /^--threads: the threaded wasm build \(REWARD_TUNE_WASM_THREADS=2\) does not use the native GEMM$/,
    );
    for (const backend of ['auto', 'webgpu', 'tensorflow', 'cpu'] as const) {
      refused(
        () => benchThreads({ threads: '2' }, backend, {}),
        new RegExp(
          `^--threads: only with --backend wasm, where it sets the native GEMM's threads ` +
            `\\(the bench does not set ${backend}'s\\)`,
        ),
      );
    }
  });

  it('the command refuses them before any work, and --threads on an oracle config', async () => {
    const starts = initBackendMock.mock.calls.length;
    await withEnv(NO_THREAD_ENV, async () => {
      await expect(benchCommand(['--backend', 'wasm', '--threads', '2', '--reference-threads', '1'])).rejects.toThrow(
        /^--threads 2 and --reference-threads 1 disagree/,
      );
      await expect(benchCommand(['--backend', 'wasm', '--threads', '0'])).rejects.toThrow(
        /^--threads: expected a positive integer, got '0'$/,
      );
      await expect(benchCommand(['--threads', '2'])).rejects.toThrow(/^--threads: only with --backend wasm/);
      await expect(
        benchCommand(['--config', 'bench-oracle-mu', '--backend', 'wasm', '--threads', '2']),
      ).rejects.toThrow(/^--threads: not available for bench-oracle-mu \(no PyTorch reference to pair with; /);
    });
    expect(initBackendMock.mock.calls.length).toBe(starts);
  });

  it('our threads come from the backend start-up line: the native GEMM’s, else the wasm build’s', async () => {
    const wasm = (threads: string, matMul: string): string =>
      `tfjs-backend-wasm (SIMD, ${threads}; ${matMul}) from /x/`;
    expect(oursThreads('wasm', wasm('1 thread', 'matMul: native, onnxruntime-node 1.30.0, 2 threads'))).toBe(2);
    expect(oursThreads('wasm', wasm('1 thread', 'matMul: native, onnxruntime-node 1.30.0, 1 thread'))).toBe(1);
    const off = "matMul: wasm's (native off (REWARD_TUNE_NATIVE_MATMUL=0))";
    expect(oursThreads('wasm', wasm('1 thread', off))).toBe(1);
    const threaded = "matMul: wasm's (native not used with the threaded wasm build)";
    expect(oursThreads('wasm', wasm('3 threads', threaded))).toBe(3);
    expect(oursThreads('cpu', 'tfjs-backend-cpu (pure JS; for tests only)')).toBe(1);
    expect(oursThreads('webgpu', "WebGPU through Dawn, adapter 'x'")).toBeUndefined();
    expect(oursThreads('tensorflow', '@tensorflow/tfjs-node (libtensorflow)')).toBeUndefined();
    // The real line parses, whichever matMuls this machine has.
    const info = await realInitBackend('wasm', { quiet: true });
    expect(oursThreads(info.name, info.detail)).toEqual(expect.any(Number));
  });

  it('sets REWARD_TUNE_NATIVE_MATMUL=n before the backend starts, and puts the environment back after', async () => {
    const seen: (string | undefined)[] = [];
    const stop = new Error('stopped at the backend start');
    initBackendMock.mockImplementation(async () => {
      seen.push(process.env.REWARD_TUNE_NATIVE_MATMUL);
      throw stop;
    });
    try {
      await withEnv(NO_THREAD_ENV, async () => {
        const args = ['--config', 'bench-mu', '--backend', 'wasm', '--no-reference'];
        await expect(benchCommand([...args, '--threads', '3'])).rejects.toBe(stop);
        expect(process.env.REWARD_TUNE_NATIVE_MATMUL).toBeUndefined();
        await expect(benchCommand(args)).rejects.toBe(stop);
      });
    } finally {
      initBackendMock.mockImplementation(realInitBackend);
    }
    expect(seen).toEqual(['3', undefined]);
  });

  it('reports both sides’ threads (JSON: beside backend), refuses a pairing the backend did not run', async () => {
    // The backend starts for real, but reports the matMuls named here (which this process cannot change once started).
    const startsWith = (matMul: string) => async (): Promise<BackendInfo> => {
      await realInitBackend('wasm', { quiet: true });
      return { name: 'wasm', detail: `tfjs-backend-wasm (SIMD, 1 thread; ${matMul}) from /x/` };
    };
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const written = (spy: typeof out): string => spy.mock.calls.map((c) => String(c[0])).join('');
    const twoDecimals = (x: number): number => Math.round(x * 100) / 100;
    const args = ['--config', 'bench-mu', '--backend', 'wasm', '--threads', '2'];
    try {
      await withEnv({ ...NO_THREAD_ENV, REWARD_TUNE_PYTHON: fakePython('echo-threads', 0, ECHO) }, async () => {
        initBackendMock.mockImplementationOnce(startsWith('matMul: native, onnxruntime-node 1.30.0, 2 threads'));
        await benchCommand([...args, '--json']);
        const json = JSON.parse(written(out));
        expect(Object.keys(json).slice(0, 3)).toEqual(['backend', 'threads', 'backend_detail']);
        expect(json).toMatchObject({ backend: 'wasm', threads: 2, reference: { threads: 2, device: 'cpu' } });
        // Wall and CPU time on both sides, and their ratios (the fake reference: 4 ms wall, 5 ms CPU a step).
        expect(json.ratio.train_step).toBe(twoDecimals(json.train_step_ms / 4));
        expect(json.ratio.train_step_cpu).toBe(twoDecimals(json.train_step_cpu_ms / 5));

        out.mockClear();
        initBackendMock.mockImplementationOnce(startsWith('matMul: native, onnxruntime-node 1.30.0, 2 threads'));
        await benchCommand(args);
        const text = written(out);
        expect(text).toMatch(
          /^bench-mu on wasm, 2 threads: 9276 params, train step \d+ ms \(CPU \d+ ms\), greedy sampling \d+ ms \(CPU \d+ ms, /,
        );
        expect(text).toContain('\nPyTorch fake (cpu, 2 threads): train step 4 ms (CPU 5 ms), ');
        expect(text).toMatch(/\nratio ours\/PyTorch \(2 \/ 2 threads\): train step [\d.]+× \(CPU [\d.]+×\), /);

        // onnxruntime-node missing: wasm's own matMuls ran on one thread, not two.
        out.mockClear();
        initBackendMock.mockImplementationOnce(startsWith("matMul: wasm's (native onnxruntime-node not loadable (x))"));
        await expect(benchCommand([...args, '--no-reference'])).rejects.toThrow(
          "--threads 2: our matMuls ran on 1 thread(s) (matMul: wasm's (native onnxruntime-node not loadable (x))); no pairing",
        );
        expect(written(out)).toBe('');
      });
      // No torch: the bench says so on stderr and reports ours alone.
      await withEnv({ ...NO_THREAD_ENV, REWARD_TUNE_PYTHON: fakePython('no-torch', 1, '') }, async () => {
        out.mockClear();
        initBackendMock.mockImplementationOnce(startsWith('matMul: native, onnxruntime-node 1.30.0, 1 thread'));
        await benchCommand(['--config', 'bench-mu', '--backend', 'wasm', '--threads', '1', '--json']);
        expect(JSON.parse(written(out))).toMatchObject({ backend: 'wasm', threads: 1 });
        expect(JSON.parse(written(out)).reference).toBeUndefined();
        expect(written(err)).toMatch(
          /^\[core-model\] bench: no PyTorch reference: '.*no-torch -c "import torch"' failed/,
        );
      });
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });
});
