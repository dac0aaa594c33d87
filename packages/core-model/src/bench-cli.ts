/**
 * `bench`: times one training step (teacher-forced cross-entropy + Adam: the project's AdamW with no weight decay, whose
 * update is torch.optim.Adam's, as the reference uses) and KV-cached greedy sampling of the
 * reference models of shared/spec/runtime.md §1, on the chosen backend, with random inputs; then, when PyTorch is
 * importable, runs the PyTorch reference of the same model and step (tools/bench/torch_bench.py) in the same
 * invocation and reports our times as ratios to it.
 *
 *   core-model bench --config bench-tiny --backend wasm --json
 *   → {"backend":"wasm","backend_detail":…,"params":1947564,"train_step_ms":…,"sample_ms":…,"tokens_per_s":…,
 *      "train_step_cpu_ms":…,"sample_cpu_ms":…,
 *      "reference":{"torch_version":…,"threads":1,"device":"cpu","params":1947564,"train_step_ms":…,…},
 *      "ratio":{"train_step":ours/ref,"sample":ours/ref,"train_step_cpu":…,"sample_cpu":…}}
 *
 * The interpreter is `$REWARD_TUNE_PYTHON` (default `python3`); with a pyenv python3 first on PATH, Debian's
 * python3-torch needs REWARD_TUNE_PYTHON=/usr/bin/python3. `--no-reference` skips it; `--reference-threads n`
 * (default 1) sets torch's threads. The reference runs on CUDA when our backend is webgpu and CUDA is available.
 * `--profile` adds one training step run under tf.profile: kernels per step and where their time goes.
 * `--steps n` times n training steps on both sides instead of the config's count (a GPU step is short and its time
 * varies from one step to the next: the median of more steps is steadier).
 *
 * Dimension legend: B batch, L length, V vocabulary, Hi×Wi×C image.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as E from 'fp-ts/Either';
import { z } from 'zod';
import { BACKEND_CHOICES, initBackend, readTensor, webgpuPatchStats, type BackendChoice, type WebgpuPatchStats } from './backend';
import { UsageError, type CommandHandler } from './command-line';
import { validate } from './input';
import { EncoderDecoder, modelConfig, type EncoderDecoderConfig } from './model/encoder-decoder';
import { AdamW } from './optim/adamw';
import { Rng } from './rng';

export interface BenchConfig {
  readonly model: EncoderDecoderConfig;
  readonly batch: number;
  /**
   * Rows per forward/backward pass; gradients of batch/microBatch passes are averaged into one Adam update. tfjs
   * keeps every forward and backward tensor of a pass alive until the pass ends, and wasm's heap stops at 4 GiB.
   */
  readonly microBatch: number;
  /** Timed training steps after one warm-up step (the median is reported). */
  readonly steps: number;
}

/** Encoder and decoder share width, heads and MLP size; encoder positions are learned, as in runtime.md's runs. */
function benchModel(o: {
  image: number; patch: number; width: number; depth: number; heads: number; mlp: number; vocab: number; length: number;
}): EncoderDecoderConfig {
  const base = modelConfig({
    variant: 'mu', imageSize: [o.image, o.image], vocabSize: o.vocab, length: o.length, encoderPosemb: 'learned',
  });
  const sizes = { width: o.width, depth: o.depth, heads: o.heads, mlp: o.mlp };
  return {
    encoder: { ...base.encoder, ...sizes, patch: o.patch },
    decoder: { ...base.decoder, ...sizes, encoderWidth: o.width },
  };
}

export const BENCH_CONFIGS: Readonly<Record<string, BenchConfig>> = {
  // The smallest, for the command's own test (two micro-batches, so that gradient accumulation runs too).
  'bench-mu': {
    model: benchModel({ image: 16, patch: 8, width: 16, depth: 1, heads: 2, mlp: 32, vocab: 12, length: 6 }),
    batch: 4,
    microBatch: 2,
    steps: 1,
  },
  // runtime.md §1: 1,947,564 parameters.
  'bench-tiny': {
    model: benchModel({ image: 32, patch: 4, width: 128, depth: 4, heads: 4, mlp: 512, vocab: 300, length: 32 }),
    batch: 32,
    microBatch: 32,
    steps: 3,
  },
  'bench-small': {
    model: benchModel({ image: 64, patch: 8, width: 256, depth: 6, heads: 8, mlp: 1024, vocab: 1100, length: 96 }),
    batch: 32,
    // One pass over 32 rows peaks at ~2.9 GB of wasm heap (4.5 GB before the copy-free Identity): it fits in 4 GiB.
    microBatch: 32,
    steps: 2,
  },
};

/** Options of one bench run. */
export interface BenchOptions {
  readonly profile?: boolean;
  /** Timed training steps (both sides); default the config's `steps`. */
  readonly steps?: number;
}

export interface BenchResult {
  readonly backend: string;
  /** The backend's start-up line (package, threads, which matMul kernels, adapter): what exactly was timed. */
  readonly backend_detail: string;
  readonly params: number;
  readonly train_step_ms: number;
  readonly sample_ms: number;
  readonly tokens_per_s: number;
  /** Process CPU time of the same step and sampling: on a shared machine, closer to what an idle one would take. */
  readonly train_step_cpu_ms: number;
  readonly sample_cpu_ms: number;
  /** With `--profile`: one more training step run under tf.profile (see StepProfile). */
  readonly profile?: StepProfile;
  /** On webgpu: how often the patches of webgpu-internals.ts took their fast paths over the whole bench. */
  readonly webgpu_patches?: WebgpuPatchStats;
}

/**
 * Where one training step's time goes, by kernel: how many kernels ran and the time the backend's timer gives
 * them (on WebGPU, GPU timestamps when the adapter has 'timestamp-query', else per-kernel wall time). The step's
 * wall time minus `kernel_ms` is per-op overhead (dispatch, bookkeeping, readbacks), which is what separates a
 * tfjs GPU step from an eager PyTorch one. Profiling times each kernel on its own, so `wall_ms` here is slower
 * than `train_step_ms`.
 */
export interface StepProfile {
  readonly wall_ms: number;
  readonly kernels: number;
  readonly kernel_ms: number;
  /** The kernels that took the most time in total, most first (at most 15). */
  readonly top: readonly { readonly name: string; readonly count: number; readonly ms: number }[];
}

/** Runs `step` once under tf.profile and sums kernel counts and times by kernel name. */
async function profileStep(step: () => Promise<void>): Promise<StepProfile> {
  const t0 = performance.now();
  const info = await tf.profile(step);
  const wallMs = performance.now() - t0;
  const byName = new Map<string, { count: number; ms: number }>();
  let total = 0;
  // A custom-gradient op is profiled as 'unnamed scope' around the kernels it runs, which are profiled too:
  // counting both would count their time twice.
  const kernels = info.kernels.filter((k) => k.name !== 'unnamed scope');
  for (const k of kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0; // {error} when the backend cannot time
    total += ms;
    const e = byName.get(k.name) ?? { count: 0, ms: 0 };
    byName.set(k.name, { count: e.count + 1, ms: e.ms + ms });
  }
  const round2 = (x: number): number => Math.round(x * 100) / 100;
  const top = [...byName.entries()]
    .sort((a, b) => b[1].ms - a[1].ms || b[1].count - a[1].count)
    .slice(0, 15)
    .map(([name, e]) => ({ name, count: e.count, ms: round2(e.ms) }));
  return { wall_ms: Math.round(wallMs), kernels: kernels.length, kernel_ms: round2(total), top };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function runBench(
  configName: string,
  backend: BackendChoice,
  opts: BenchOptions = {},
): Promise<BenchResult> {
  const bench = BENCH_CONFIGS[configName];
  if (bench === undefined) {
    throw new UsageError(`--config: unknown '${configName}' (expected ${Object.keys(BENCH_CONFIGS).join('|')})`);
  }
  const info = await initBackend(backend);
  const { encoder, decoder } = bench.model;
  const model = EncoderDecoder.create(bench.model, 0);
  const rng = Rng.fromSeed(1);
  const b = bench.batch;
  const [h, w] = encoder.imageSize;
  const images = tf.randomUniform([b, h, w, encoder.channels], -1, 1, 'float32', rng.seed()) as tf.Tensor4D;
  const targets = tf.randomUniform([b, decoder.length], 0, decoder.vocabSize, 'int32', rng.seed()) as tf.Tensor2D;
  // The optimizer training runs use (fused elementwise update, chain.ts), not tfjs's Adam: 1,800 kernels a step more.
  const optimizer = new AdamW(model.params, { lr: 1e-3, wd: 0 });
  const vars = [...model.params.values()];
  const paramName = new Map([...model.params].map(([name, v]) => [v.name, name]));
  const mb = bench.microBatch;
  if (b % mb !== 0) throw new Error(`batch ${b} is not a multiple of microBatch ${mb}`);
  const trainStep = async (): Promise<void> => {
    let sum: tf.NamedTensorMap | null = null;
    for (let i = 0; i < b; i += mb) {
      const { value, grads } = tf.variableGrads(() =>
        tf.tidy(() => {
          const img = b === mb ? images : (tf.slice(images, [i, 0, 0, 0], [mb, h, w, encoder.channels]) as tf.Tensor4D);
          const tok = b === mb ? targets : (tf.slice(targets, [i, 0], [mb, decoder.length]) as tf.Tensor2D);
          return tf.neg(tf.mean(model.tokenLogProbs(img, tok))) as tf.Scalar;
        }),
        vars,
      );
      value.dispose();
      if (sum === null) sum = grads;
      else {
        const prev: tf.NamedTensorMap = sum;
        sum = Object.fromEntries(Object.keys(grads).map((k) => [k, tf.add(prev[k], grads[k])]));
        tf.dispose([...Object.values(prev), ...Object.values(grads)]);
      }
    }
    const n = b / mb;
    const mean = n === 1 ? sum! : Object.fromEntries(Object.entries(sum!).map(([k, g]) => [k, tf.div(g, n)]));
    optimizer.apply(model.params, new Map(Object.entries(mean).map(([k, g]) => [paramName.get(k) as string, g])));
    await readTensor(vars[vars.length - 1]); // waits for the update on asynchronous backends
    tf.dispose([...Object.values(sum!), ...(n === 1 ? [] : Object.values(mean))]);
  };

  const cpuMs = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const times: number[] = [];
  const cpuTimes: number[] = [];
  const steps = opts.steps ?? bench.steps;
  for (let i = 0; i <= steps; i++) {
    const t0 = performance.now();
    const c0 = cpuMs();
    await trainStep();
    if (i > 0) {
      times.push(performance.now() - t0);
      cpuTimes.push(cpuMs() - c0);
    }
  }

  const profile = opts.profile ? await profileStep(trainStep) : undefined;

  await model.sample(images, { numSamples: 1, greedy: true }); // warm-up (shader compilation on webgpu)
  const s0 = performance.now();
  const sc0 = cpuMs();
  await model.sample(images, { numSamples: 1, greedy: true });
  const sampleMs = performance.now() - s0;
  const sampleCpuMs = cpuMs() - sc0;

  const patches = webgpuPatchStats(); // undefined unless the backend is a patched webgpu one
  const result: BenchResult = {
    backend: info.name,
    backend_detail: info.detail,
    params: model.numParams,
    train_step_ms: Math.round(median(times)),
    sample_ms: Math.round(sampleMs),
    tokens_per_s: Math.round((b * decoder.length) / (sampleMs / 1000)),
    train_step_cpu_ms: Math.round(median(cpuTimes)),
    sample_cpu_ms: Math.round(sampleCpuMs),
    ...(profile === undefined ? {} : { profile }),
    ...(patches === undefined ? {} : { webgpu_patches: { ...patches } }),
  };
  tf.dispose([images, targets]);
  optimizer.dispose();
  model.dispose();
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// The PyTorch reference (tools/bench/torch_bench.py): same model, same step, same timing, in a child process.

/** The script, from src/ (Jest) or dist/ (the bundled CLI): both sit two levels below the workspace root. */
export const TORCH_BENCH_SCRIPT = path.resolve(__dirname, '..', '..', '..', 'tools', 'bench', 'torch_bench.py');

export interface ReferenceOptions {
  /** The interpreter: `$REWARD_TUNE_PYTHON`, default `python3`. */
  readonly python: string;
  readonly script: string;
  readonly threads: number;
  /** 'auto' lets the script take CUDA when it is there. */
  readonly device: 'cpu' | 'cuda' | 'auto';
}

export const referenceOptions = (backend: string, threads = 1, env: NodeJS.ProcessEnv = process.env): ReferenceOptions => ({
  python: env.REWARD_TUNE_PYTHON || 'python3',
  script: TORCH_BENCH_SCRIPT,
  threads,
  // GPU against GPU, CPU against CPU.
  device: backend === 'webgpu' ? 'auto' : 'cpu',
});

const referenceSchema = z.object({
  torch_version: z.string(),
  threads: z.number().int(),
  device: z.string(),
  params: z.number().int(),
  train_step_ms: z.number().nonnegative(),
  sample_ms: z.number().nonnegative(),
  train_step_cpu_ms: z.number().nonnegative(),
  sample_cpu_ms: z.number().nonnegative(),
  /** The BLAS library file the reference process mapped (null where unknown): its speed depends on it. */
  blas: z.string().nullable().optional(),
});
export type ReferenceResult = z.output<typeof referenceSchema>;

export interface BenchRatio {
  /** Ours / reference, wall time. */
  readonly train_step: number;
  readonly sample: number;
  /** Ours / reference, process CPU time (less sensitive to other load on a shared machine). */
  readonly train_step_cpu: number;
  readonly sample_cpu: number;
}

export type BenchReport = BenchResult & { readonly reference?: ReferenceResult; readonly ratio?: BenchRatio };

/** The script's arguments: the model and step exactly as this bench runs them, and the count it must reproduce. */
export function referenceArgs(configName: string, params: number, opts: ReferenceOptions, steps?: number): string[] {
  const bench = BENCH_CONFIGS[configName];
  if (bench === undefined) throw new Error(`unknown bench config '${configName}'`);
  const spec = { model: bench.model, batch: bench.batch, steps: steps ?? bench.steps, params };
  return [opts.script, '--spec', JSON.stringify(spec), '--threads', String(opts.threads), '--device', opts.device];
}

/** Whether `python -c "import torch"` succeeds. */
export function torchAvailable(python: string): boolean {
  return spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

const lastLine = (s: string): string => s.trim().split('\n').pop() ?? '';

/** Runs the reference and validates its one JSON line; a failure is a `Left` naming the script and the field. */
export function runReference(
  configName: string,
  params: number,
  opts: ReferenceOptions,
  steps?: number,
): E.Either<string, ReferenceResult> {
  const where = path.basename(opts.script);
  const r = spawnSync(opts.python, referenceArgs(configName, params, opts, steps), { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.error !== undefined) return E.left(`${where}: ${opts.python}: ${r.error.message}`);
  if (r.status !== 0) return E.left(`${where}: exit ${r.status ?? r.signal}: ${lastLine(r.stderr)}`);
  let value: unknown;
  try {
    value = JSON.parse(lastLine(r.stdout));
  } catch {
    return E.left(`${where}: output is not JSON: '${lastLine(r.stdout).slice(0, 200)}'`);
  }
  return validate(referenceSchema, value, `${where} output`);
}

const ratio = (ours: number, ref: number): number => Math.round((ours / ref) * 100) / 100;

/** Adds the reference and our/its time ratios (two decimals) to our result. */
export function withReference(ours: BenchResult, ref: ReferenceResult): BenchReport {
  return {
    ...ours,
    reference: ref,
    ratio: {
      train_step: ratio(ours.train_step_ms, ref.train_step_ms),
      sample: ratio(ours.sample_ms, ref.sample_ms),
      train_step_cpu: ratio(ours.train_step_cpu_ms, ref.train_step_cpu_ms),
      sample_cpu: ratio(ours.sample_cpu_ms, ref.sample_cpu_ms),
    },
  };
}

/**
 * Our bench, then (unless `reference` is null or torch is missing) the reference, on the device that matches the
 * backend that actually ran ('auto' may have picked webgpu); a failing reference is an error.
 */
export async function runBenchWithReference(
  configName: string,
  backend: BackendChoice,
  reference: { readonly threads: number; readonly env?: NodeJS.ProcessEnv } | null,
  benchOpts: BenchOptions = {},
): Promise<BenchReport> {
  const ours = await runBench(configName, backend, benchOpts);
  if (reference === null) return ours;
  const opts = referenceOptions(ours.backend, reference.threads, reference.env);
  if (!torchAvailable(opts.python)) return ours;
  const ref = runReference(configName, ours.params, opts, benchOpts.steps);
  if (E.isLeft(ref)) throw Object.assign(new Error(ref.left), { exitCode: 1 });
  return withReference(ours, ref.right);
}

/**
 * The `bench` command: `--config <bench-mu|bench-tiny|bench-small> --backend <b> [--json] [--profile] [--no-reference]
 * [--reference-threads n] [--steps n]`.
 */
export const benchCommand: CommandHandler = async (args) => {
  let values: {
    config?: string; backend?: string; json?: boolean; profile?: boolean; 'no-reference'?: boolean; 'reference-threads'?: string;
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
        'reference-threads': { type: 'string', default: '1' },
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
  const threads = Number(values['reference-threads']);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new UsageError(`--reference-threads: expected a positive integer, got '${values['reference-threads']}'`);
  }
  const steps = values.steps === undefined ? undefined : Number(values.steps);
  if (steps !== undefined && (!Number.isInteger(steps) || steps < 1)) {
    throw new UsageError(`--steps: expected a positive integer, got '${values.steps}'`);
  }
  const r = await runBenchWithReference(values.config!, backend, values['no-reference'] ? null : { threads }, {
    profile: values.profile,
    steps,
  });
  const prof = r.profile;
  const ref = r.reference;
  process.stdout.write(
    values.json
      ? `${JSON.stringify(r)}\n`
      : `${values.config} on ${r.backend}: ${r.params} params, train step ${r.train_step_ms} ms, ` +
          `greedy sampling ${r.sample_ms} ms (${r.tokens_per_s} tokens/s); CPU time ${r.train_step_cpu_ms} / ${r.sample_cpu_ms} ms\n` +
          (ref === undefined || r.ratio === undefined
            ? ''
            : `PyTorch ${ref.torch_version} (${ref.device}, ${ref.threads} thread${ref.threads === 1 ? '' : 's'}` +
              `${ref.blas ? `, ${ref.blas}` : ''}): ` +
              `train step ${ref.train_step_ms} ms, naive greedy sampling ${ref.sample_ms} ms; CPU time ` +
              `${ref.train_step_cpu_ms} / ${ref.sample_cpu_ms} ms\nratio ours/PyTorch: train step ${r.ratio.train_step}× ` +
              `(CPU ${r.ratio.train_step_cpu}×), sampling ${r.ratio.sample}× (CPU ${r.ratio.sample_cpu}×)\n`) +
          (prof === undefined
            ? ''
            : `profiled step: ${prof.kernels} kernels, ${prof.kernel_ms} ms in kernels of ${prof.wall_ms} ms; most time: ` +
              `${prof.top.slice(0, 5).map((k) => `${k.name} ×${k.count} ${k.ms} ms`).join(', ')}\n`),
  );
  return 0;
};
