/**
 * The bench's PyTorch reference (tools/bench/torch_bench.py): the same model, the same step and the same timing in
 * a child process, run after our bench when PyTorch is importable, and our times as ratios to it. The interpreter
 * is `$REWARD_TUNE_PYTHON` (default `python3`); with a pyenv python3 first on PATH, Debian's python3-torch needs
 * REWARD_TUNE_PYTHON=/usr/bin/python3. The reference runs on CUDA when our backend is webgpu and CUDA is available.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { z } from 'zod';
import type { BackendChoice } from './backend';
import { BENCH_CONFIGS, runBench, type BenchOptions, type BenchResult } from './bench';
import { validate } from './input';

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

export const referenceOptions = (
  backend: string,
  threads = 1,
  env: NodeJS.ProcessEnv = process.env,
): ReferenceOptions => ({
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
  const r = spawnSync(opts.python, referenceArgs(configName, params, opts, steps), {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
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
