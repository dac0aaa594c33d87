/**
 * `bench`: times one training step and KV-cached greedy sampling of a bench model (bench.ts) on the chosen backend;
 * then, when PyTorch is importable, runs the PyTorch reference of the same model and step (bench-reference.ts) in
 * the same invocation and reports our times as ratios to it.
 *
 *   core-model bench --config bench-tiny --backend wasm --json
 *   → {"backend":"wasm","backend_detail":…,"params":1947564,"train_step_ms":…,"sample_ms":…,"tokens_per_s":…,
 *      "train_step_cpu_ms":…,"sample_cpu_ms":…,
 *      "reference":{"torch_version":…,"threads":1,"device":"cpu","params":1947564,"train_step_ms":…,…},
 *      "ratio":{"train_step":ours/ref,"sample":ours/ref,"train_step_cpu":…,"sample_cpu":…}}
 *
 * `--no-reference` skips the reference; `--reference-threads n` (default 1) sets torch's threads.
 * `--profile` adds one training step run under tf.profile: kernels per step and where their time goes.
 * `--steps n` times n training steps on both sides instead of the config's count (a GPU step is short and its time
 * varies from one step to the next: the median of more steps is steadier).
 *
 * `--config bench-oracle-mu|bench-oracle-tiny` times UViM's stage I instead (bench-oracle.ts: a training step, and
 * the frozen encoder and decoder per image); it has no PyTorch reference and no `--profile`.
 */
import { parseArgs } from 'node:util';
import { BACKEND_CHOICES, type BackendChoice } from './backend';
import { BENCH_CONFIGS } from './bench';
import { ORACLE_BENCH_CONFIGS, runOracleBench } from './bench-oracle';
import { runBenchWithReference } from './bench-reference';
import { UsageError, type CommandHandler } from './command-line';

/**
 * The `bench` command: `--config <bench-mu|bench-tiny|bench-small|bench-oracle-mu|bench-oracle-tiny> --backend <b>
 * [--json] [--profile] [--no-reference] [--reference-threads n] [--steps n]`.
 */
export const benchCommand: CommandHandler = async (args) => {
  let values: {
    config?: string;
    backend?: string;
    json?: boolean;
    profile?: boolean;
    'no-reference'?: boolean;
    'reference-threads'?: string;
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
  const config = values.config!;
  if (config in ORACLE_BENCH_CONFIGS) {
    if (values.profile) throw new UsageError(`--profile: not available for ${config}`);
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
              `${prof.top
                .slice(0, 5)
                .map((k) => `${k.name} ×${k.count} ${k.ms} ms`)
                .join(', ')}\n`),
  );
  return 0;
};
