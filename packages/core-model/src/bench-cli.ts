/**
 * `bench`: times one training step and KV-cached greedy sampling of a bench model (bench.ts) on the chosen backend;
 * then, when PyTorch is importable, runs the PyTorch reference of the same model and step (bench-reference.ts) in
 * the same invocation and reports our times as ratios to it.
 *
 *   core-model bench --config bench-tiny --backend wasm --threads 2 --json
 *   → {"backend":"wasm","threads":2,"backend_detail":…,"params":1947564,"train_step_ms":…,"sample_ms":…,
 *      "tokens_per_s":…,"train_step_cpu_ms":…,"sample_cpu_ms":…,
 *      "reference":{"torch_version":…,"threads":2,"device":"cpu","params":1947564,"train_step_ms":…,…},
 *      "ratio":{"train_step":ours/ref,"sample":ours/ref,"train_step_cpu":…,"sample_cpu":…}}
 *
 * Wall and CPU time: `*_ms` is wall time, `*_cpu_ms` the process's CPU time over the same step or decode (all its
 * threads: with n threads it can reach n × the wall time), on both sides.
 *
 * Threads: `threads` is how many threads ran our matrix products (on wasm the native GEMM's, else the wasm build's;
 * 1 on cpu; absent on tensorflow and webgpu, whose pools the bench does not set). `--threads n` pairs n threads on
 * both sides: on wasm it sets the native GEMM's (REWARD_TUNE_NATIVE_MATMUL=n, before the backend starts) and
 * PyTorch's (`--reference-threads n`); on any other backend it is refused. `--reference-threads n` alone (default 1)
 * sets torch's only. With `--data-parallel`, our n threads are n data-parallel ranks instead (each a thread with a
 * one-thread GEMM and 1/n of the batch; `data_parallel` in the result), against PyTorch's n threads as before.
 * `--no-reference` skips the reference.
 * `--profile` adds one training step run under tf.profile: kernels per step and where their time goes.
 * `--steps n` times n training steps on both sides instead of the config's count (a GPU step is short and its time
 * varies from one step to the next: the median of more steps is steadier).
 *
 * `--config bench-oracle-mu|bench-oracle-tiny` times UViM's stage I instead (bench-oracle.ts: a training step, and
 * the frozen encoder and decoder per image); it has no PyTorch reference, no `--profile` and no `--threads`.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BACKEND_CHOICES, type BackendChoice } from './backend';
import { BENCH_CONFIGS } from './bench';
import { ORACLE_BENCH_CONFIGS, runOracleBench } from './bench-oracle';
import { referenceOptions, runBenchWithReference, type BenchReport } from './bench-reference';
import { UsageError, type CommandHandler } from './command-line';

/**
 * The library a data-parallel rank's worker thread loads: dist/index.cjs, beside this file's bundle (dist/cli.cjs).
 */
const BENCH_LIBRARY = path.join(__dirname, 'index.cjs');

/** The environment variable the wasm backend reads, when it starts, for the native GEMM's threads. */
const NATIVE_THREADS_ENV = 'REWARD_TUNE_NATIVE_MATMUL';

/** The native GEMM's threads in each data-parallel rank: a rank is one of the n threads. */
const RANK_GEMM_THREADS = 1;

function positiveInt(flag: string, raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1) throw new UsageError(`${flag}: expected a positive integer, got '${raw}'`);
  return n;
}

/** Threads on each side: `ours` only when `--threads` asks for them (otherwise the backend's own default). */
export interface BenchThreads {
  readonly ours?: number;
  readonly reference: number;
  /** With `--data-parallel`: our threads as that many data-parallel ranks, each with a one-thread GEMM. */
  readonly ranks?: number;
}

/**
 * `--threads` and `--reference-threads` → the threads of each side. `--threads n` sets both, and needs
 * `--backend wasm`; an explicit `--reference-threads` or `REWARD_TUNE_NATIVE_MATMUL` that says otherwise, or the
 * threaded wasm build (which does not use the native GEMM), is a UsageError.
 */
export function benchThreads(
  flags: { readonly threads?: string; readonly referenceThreads?: string; readonly dataParallel?: boolean },
  backend: BackendChoice,
  env: NodeJS.ProcessEnv = process.env,
): BenchThreads {
  const reference =
    flags.referenceThreads === undefined ? undefined : positiveInt('--reference-threads', flags.referenceThreads);
  if (flags.threads === undefined) {
    if (flags.dataParallel) throw new UsageError('--data-parallel: needs --threads n (the ranks, one thread each)');
    return { reference: reference ?? 1 };
  }
  const n = positiveInt('--threads', flags.threads);
  const gemmThreads = flags.dataParallel ? RANK_GEMM_THREADS : n;
  if (backend !== 'wasm') {
    throw new UsageError(
      `--threads: only with --backend wasm, where it sets the native GEMM's threads (the bench does not set ` +
        `${backend}'s); --reference-threads n sets PyTorch's alone`,
    );
  }
  if (reference !== undefined && reference !== n) {
    throw new UsageError(`--threads ${n} and --reference-threads ${reference} disagree: --threads sets both sides`);
  }
  const native = env[NATIVE_THREADS_ENV];
  if (native !== undefined && native !== '' && Number(native) !== gemmThreads) {
    const sets = flags.dataParallel ? `--data-parallel sets it to ${RANK_GEMM_THREADS}` : '--threads sets it';
    throw new UsageError(`--threads ${n} and ${NATIVE_THREADS_ENV}=${native} disagree: ${sets}`);
  }
  const wasmThreads = env.REWARD_TUNE_WASM_THREADS;
  if (wasmThreads !== undefined && Number(wasmThreads) > 1) {
    throw new UsageError(
      `--threads: the threaded wasm build (REWARD_TUNE_WASM_THREADS=${wasmThreads}) does not use the native GEMM`,
    );
  }
  return flags.dataParallel ? { ours: n, reference: n, ranks: n } : { ours: n, reference: n };
}

/**
 * The threads that ran our matrix products, from the backend's start-up line (which names what was timed): on wasm
 * the native GEMM's when it is in use, else the wasm build's; 1 on cpu; undefined elsewhere.
 */
export function oursThreads(backend: string, detail: string): number | undefined {
  if (backend === 'cpu') return 1;
  if (backend !== 'wasm') return undefined;
  const m =
    /matMul: native, [^,;]*, (\d+) threads?/.exec(detail) ?? /^tfjs-backend-wasm \(SIMD, (\d+) threads?/.exec(detail);
  return m === null ? undefined : Number(m[1]);
}

/** Sets one environment variable for the length of `f`, then puts back what was there. */
async function withEnv<T>(name: string, value: string | undefined, f: () => Promise<T>): Promise<T> {
  if (value === undefined) return f();
  const before = process.env[name];
  process.env[name] = value;
  try {
    return await f();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/** The human-readable report: wall time with CPU time beside it, and each side's threads. */
function reportLines(config: string, r: BenchReport & { readonly threads?: number }): string {
  const prof = r.profile;
  const ref = r.reference;
  const ranks = r.data_parallel === undefined ? '' : ` as ${r.data_parallel} data-parallel ranks`;
  const ours = r.threads === undefined ? '' : `, ${plural(r.threads, 'thread')}${ranks}`;
  const pairing = r.threads === undefined || ref === undefined ? '' : ` (${r.threads} / ${ref.threads} threads)`;
  return (
    `${config} on ${r.backend}${ours}: ${r.params} params, train step ${r.train_step_ms} ms ` +
    `(CPU ${r.train_step_cpu_ms} ms), greedy sampling ${r.sample_ms} ms (CPU ${r.sample_cpu_ms} ms, ` +
    `${r.tokens_per_s} tokens/s)\n` +
    (ref === undefined || r.ratio === undefined
      ? ''
      : `PyTorch ${ref.torch_version} (${ref.device}, ${plural(ref.threads, 'thread')}` +
        `${ref.blas ? `, ${ref.blas}` : ''}): train step ${ref.train_step_ms} ms (CPU ${ref.train_step_cpu_ms} ms), ` +
        `naive greedy sampling ${ref.sample_ms} ms (CPU ${ref.sample_cpu_ms} ms)\n` +
        `ratio ours/PyTorch${pairing}: train step ${r.ratio.train_step}× ` +
        `(CPU ${r.ratio.train_step_cpu}×), sampling ${r.ratio.sample}× (CPU ${r.ratio.sample_cpu}×)\n`) +
    (prof === undefined
      ? ''
      : `profiled step: ${prof.kernels} kernels, ${prof.kernel_ms} ms in kernels of ${prof.wall_ms} ms; most time: ` +
        `${prof.top
          .slice(0, 5)
          .map((k) => `${k.name} ×${k.count} ${k.ms} ms`)
          .join(', ')}\n`)
  );
}

/**
 * The `bench` command: `--config <bench-mu|bench-tiny|bench-small|bench-base|bench-oracle-mu|bench-oracle-tiny>
 * --backend <b> [--json] [--profile] [--no-reference] [--threads n [--data-parallel]] [--reference-threads n]
 * [--steps n]`.
 */
export const benchCommand: CommandHandler = async (args) => {
  let values: {
    config?: string;
    backend?: string;
    json?: boolean;
    profile?: boolean;
    'no-reference'?: boolean;
    threads?: string;
    'reference-threads'?: string;
    'data-parallel'?: boolean;
    steps?: string;
  };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        config: { type: 'string', default: 'bench-tiny' },
        backend: { type: 'string', default: 'auto' },
        json: { type: 'boolean' },
        profile: { type: 'boolean' },
        'no-reference': { type: 'boolean' },
        threads: { type: 'string' },
        'reference-threads': { type: 'string' },
        'data-parallel': { type: 'boolean' },
        steps: { type: 'string' },
      },
      strict: true,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]);
  }
  const backend = values.backend as BackendChoice;
  if (!BACKEND_CHOICES.includes(backend)) {
    throw new UsageError(`--backend: unknown '${values.backend}' (expected ${BACKEND_CHOICES.join('|')})`);
  }
  const threads = benchThreads(
    { threads: values.threads, referenceThreads: values['reference-threads'], dataParallel: values['data-parallel'] },
    backend,
  );
  const steps = values.steps === undefined ? undefined : positiveInt('--steps', values.steps);
  const config = values.config!;
  if (config in ORACLE_BENCH_CONFIGS) {
    if (values.profile) throw new UsageError(`--profile: not available for ${config}`);
    if (threads.ours !== undefined) {
      throw new UsageError(
        `--threads: not available for ${config} (no PyTorch reference to pair with; ${NATIVE_THREADS_ENV}=n sets ours)`,
      );
    }
    const o = await runOracleBench(config, backend, { steps });
    process.stdout.write(
      values.json
        ? `${JSON.stringify(o)}\n`
        : `${config} on ${o.backend}: ${o.params} params, batch ${o.batch}: train step ${o.train_step_ms} ms ` +
            `(CPU ${o.train_step_cpu_ms} ms), frozen encode ${o.encode_ms_per_image} ms/image, ` +
            `decode ${o.decode_ms_per_image} ms/image\n`,
    );
    return 0;
  }
  if (!(config in BENCH_CONFIGS)) {
    const known = [...Object.keys(BENCH_CONFIGS), ...Object.keys(ORACLE_BENCH_CONFIGS)];
    throw new UsageError(`--config: unknown '${config}' (expected ${known.join('|')})`);
  }
  const wantReference = !values['no-reference'];
  // The wasm backend reads the native GEMM's threads when it starts, inside runBench (and in each data-parallel
  // rank's worker thread, which starts with a copy of this environment): set them before.
  const gemmThreads = threads.ranks === undefined ? threads.ours : RANK_GEMM_THREADS;
  const dataParallel = threads.ranks === undefined ? undefined : { ranks: threads.ranks, library: BENCH_LIBRARY };
  const r = await withEnv(NATIVE_THREADS_ENV, gemmThreads === undefined ? undefined : String(gemmThreads), () =>
    runBenchWithReference(config, backend, wantReference ? { threads: threads.reference } : null, {
      profile: values.profile,
      steps,
      dataParallel,
    }),
  );
  const perRank = oursThreads(r.backend, r.backend_detail);
  const ours = perRank === undefined ? undefined : perRank * (r.data_parallel ?? 1);
  if (threads.ours !== undefined && ours !== threads.ours) {
    // E.g. onnxruntime-node missing: wasm's own single-threaded matMuls ran, and the pairing would be false.
    const matMul = /matMul: .*(?=\) from )/.exec(r.backend_detail)?.[0] ?? r.backend_detail;
    throw Object.assign(
      new Error(`--threads ${threads.ours}: our matMuls ran on ${ours ?? '?'} thread(s) (${matMul}); no pairing`),
      { exitCode: 1 },
    );
  }
  if (wantReference && r.reference === undefined) {
    const python = referenceOptions(r.backend).python;
    process.stderr.write(
      `[core-model] bench: no PyTorch reference: '${python} -c "import torch"' failed ` +
        `(REWARD_TUNE_PYTHON names the interpreter; --no-reference skips the reference)\n`,
    );
  }
  // `threads` next to `backend`: which side ran on how many threads is part of what was measured.
  const { backend: ran, ...rest } = r;
  const report = { backend: ran, ...(ours === undefined ? {} : { threads: ours }), ...rest };
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : reportLines(config, report));
  return 0;
};
