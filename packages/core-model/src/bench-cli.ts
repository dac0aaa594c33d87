/**
 * `bench`: times one training step (teacher-forced cross-entropy + Adam) and KV-cached greedy sampling of the
 * reference models of shared/spec/runtime.md §1, on the chosen backend, with random inputs.
 *
 *   core-model bench --config bench-tiny --backend wasm --json
 *   → {"backend":"wasm","params":1947564,"train_step_ms":…,"sample_ms":…,"tokens_per_s":…,
 *      "train_step_cpu_ms":…,"sample_cpu_ms":…}
 *
 * Dimension legend: B batch, L length, V vocabulary, Hi×Wi×C image.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { BACKEND_CHOICES, initBackend, readTensor, type BackendChoice } from './backend';
import { UsageError, type CommandHandler } from './command-line';
import { EncoderDecoder, modelConfig, type EncoderDecoderConfig } from './model/encoder-decoder';
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

export interface BenchResult {
  readonly backend: string;
  readonly params: number;
  readonly train_step_ms: number;
  readonly sample_ms: number;
  readonly tokens_per_s: number;
  /** Process CPU time of the same step and sampling: on a shared machine, closer to what an idle one would take. */
  readonly train_step_cpu_ms: number;
  readonly sample_cpu_ms: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function runBench(configName: string, backend: BackendChoice): Promise<BenchResult> {
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
  const optimizer = tf.train.adam(1e-3);
  const vars = [...model.params.values()];
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
    optimizer.applyGradients(mean);
    await readTensor(vars[vars.length - 1]); // waits for the update on asynchronous backends
    tf.dispose([...Object.values(sum!), ...(n === 1 ? [] : Object.values(mean))]);
  };

  const cpuMs = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const times: number[] = [];
  const cpuTimes: number[] = [];
  for (let i = 0; i <= bench.steps; i++) {
    const t0 = performance.now();
    const c0 = cpuMs();
    await trainStep();
    if (i > 0) {
      times.push(performance.now() - t0);
      cpuTimes.push(cpuMs() - c0);
    }
  }

  await model.sample(images, { numSamples: 1, greedy: true }); // warm-up (shader compilation on webgpu)
  const s0 = performance.now();
  const sc0 = cpuMs();
  await model.sample(images, { numSamples: 1, greedy: true });
  const sampleMs = performance.now() - s0;
  const sampleCpuMs = cpuMs() - sc0;

  const result: BenchResult = {
    backend: info.name,
    params: model.numParams,
    train_step_ms: Math.round(median(times)),
    sample_ms: Math.round(sampleMs),
    tokens_per_s: Math.round((b * decoder.length) / (sampleMs / 1000)),
    train_step_cpu_ms: Math.round(median(cpuTimes)),
    sample_cpu_ms: Math.round(sampleCpuMs),
  };
  tf.dispose([images, targets]);
  optimizer.dispose();
  model.dispose();
  return result;
}

/** The `bench` command: `--config <bench-mu|bench-tiny|bench-small> --backend <b> [--json]`. */
export const benchCommand: CommandHandler = async (args) => {
  let values: { config?: string; backend?: string; json?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: { config: { type: 'string', default: 'bench-tiny' }, backend: { type: 'string', default: 'auto' }, json: { type: 'boolean' } },
      strict: true,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]);
  }
  const backend = values.backend as BackendChoice;
  if (!BACKEND_CHOICES.includes(backend)) {
    throw new UsageError(`--backend: unknown '${values.backend}' (expected ${BACKEND_CHOICES.join('|')})`);
  }
  const r = await runBench(values.config!, backend);
  process.stdout.write(
    values.json
      ? `${JSON.stringify(r)}\n`
      : `${values.config} on ${r.backend}: ${r.params} params, train step ${r.train_step_ms} ms, ` +
          `greedy sampling ${r.sample_ms} ms (${r.tokens_per_s} tokens/s); CPU time ${r.train_step_cpu_ms} / ${r.sample_cpu_ms} ms\n`,
  );
  return 0;
};
