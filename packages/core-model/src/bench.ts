/**
 * The bench: times one training step (teacher-forced cross-entropy + Adam: the project's AdamW with no weight decay,
 * whose update is torch.optim.Adam's, as the PyTorch reference uses) and KV-cached greedy sampling of fixed model
 * sizes (`BENCH_CONFIGS`), on the chosen backend, with random inputs. With `profile`, one more training step runs
 * under tf.profile: kernels per step and where their time goes. With `dataParallel`, the same step and sampling run
 * split over ranks (the main thread and worker threads, bench-workers.ts), whose gradients are averaged before each
 * rank's update (optim/data-parallel.ts). bench-reference.ts runs the PyTorch reference of the same model and step;
 * bench-cli.ts is the `bench` command.
 *
 * Dimension legend: B batch, L length, V vocabulary, Hi×Wi×C image.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, readTensor, webgpuPatchStats, type BackendChoice, type WebgpuPatchStats } from './backend';
import { UsageError } from './command-line';
import { EncoderDecoder, modelConfig, type EncoderDecoderConfig } from './model/encoder-decoder';
import { BenchWorkers, type BenchWorkerReply } from './bench-workers';
import { AdamW } from './optim/adamw';
import { createGroupMemory, GradientGroup, type GroupMemory } from './optim/data-parallel';
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
  /** Backends the config does not fit, each with the reason its refusal gives. */
  readonly unfit?: Readonly<Partial<Record<string, string>>>;
}

/** Encoder and decoder share width, heads and MLP size; encoder positions are learned. */
function benchModel(o: {
  image: number;
  patch: number;
  width: number;
  depth: number;
  heads: number;
  mlp: number;
  vocab: number;
  length: number;
}): EncoderDecoderConfig {
  const base = modelConfig({
    variant: 'mu',
    imageSize: [o.image, o.image],
    vocabSize: o.vocab,
    length: o.length,
    encoderPosemb: 'learned',
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
  // 1,947,564 parameters (bench-cli.spec.ts counts them).
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
  // The paper's detection model (Pix2seq's ViT-B): a ViT-B/16 encoder at 224², a 6-layer decoder of width 512 (MLP
  // 2048, 16 heads), the detection vocabulary (3 confidences + 1,001 coordinate bins + 80 classes) and 100 boxes of
  // 6 tokens. For a GPU: the whole batch in one pass.
  'bench-base': {
    model: modelConfig({
      variant: 'B/16',
      imageSize: [224, 224],
      vocabSize: 1084,
      length: 600,
      decoderWidth: 512,
      decoderDepth: 6,
      decoderHeads: 16,
      decoderMlp: 2048,
      encoderPosemb: 'learned',
    }),
    batch: 8,
    microBatch: 8,
    steps: 2,
    unfit: {
      wasm:
        "the 4 GiB heap: parameters, gradients and Adam's moments take 1.8 GB, and the Adam step after one row's " +
        'pass already ran out; use webgpu or tensorflow',
    },
  },
};

/** Options of one bench run. */
export interface BenchOptions {
  readonly profile?: boolean;
  /** Timed training steps (both sides); default the config's `steps`. */
  readonly steps?: number;
  /** Runs the step data-parallel (optim/data-parallel.ts) over this many ranks, one thread each. */
  readonly dataParallel?: DataParallelBench;
}

export interface DataParallelBench {
  /** Ranks: the main thread and ranks − 1 worker threads, each with 1/ranks of the batch's rows. */
  readonly ranks: number;
  /** The package's bundled library (dist/index.cjs), which each worker thread loads to run `benchWorker`. */
  readonly library: string;
}

export interface BenchResult {
  readonly backend: string;
  /** The backend's start-up line (package, threads, which matMul kernels, adapter): what exactly was timed. */
  readonly backend_detail: string;
  /** With `dataParallel`: the ranks the step and the sampling were split over (each ran `backend_detail`). */
  readonly data_parallel?: number;
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

const cpuMs = (): number => {
  const u = process.cpuUsage(); // the whole process: every rank's thread in a data-parallel run
  return (u.user + u.system) / 1000;
};

/** What one rank measured (in a data-parallel run, rank 0's clock times the group, which waits for every rank). */
interface RankRun {
  readonly params: number;
  readonly times: number[];
  readonly cpuTimes: number[];
  readonly profile?: StepProfile;
  readonly sampleMs: number;
  readonly sampleCpuMs: number;
}

/**
 * One rank's bench: the model (the same initial parameters on every rank), its rows of the batch (all of them when
 * alone), Adam, the timed steps, then greedy sampling of its rows. `join` is called once the model exists, with its
 * parameter count: it returns the rank's gradient group, or null when the rank is alone.
 */
async function runRank(
  bench: BenchConfig,
  join: (paramCount: number) => GradientGroup | null,
  opts: BenchOptions,
): Promise<RankRun> {
  const { encoder, decoder } = bench.model;
  const model = EncoderDecoder.create(bench.model, 0);
  const vars = [...model.params.values()];
  const group = join(vars.reduce((n, v) => n + v.size, 0));
  const ranks = group?.size ?? 1;
  const rng = Rng.fromSeed(1);
  const b = bench.batch;
  const [h, w] = encoder.imageSize;
  let images = tf.randomUniform([b, h, w, encoder.channels], -1, 1, 'float32', rng.seed()) as tf.Tensor4D;
  let targets = tf.randomUniform([b, decoder.length], 0, decoder.vocabSize, 'int32', rng.seed()) as tf.Tensor2D;
  const rows = b / ranks;
  if (ranks > 1) {
    const first = rows * group!.rank;
    const [allImages, allTargets] = [images, targets];
    images = tf.slice(allImages, [first, 0, 0, 0], [rows, h, w, encoder.channels]);
    targets = tf.slice(allTargets, [first, 0], [rows, decoder.length]);
    tf.dispose([allImages, allTargets]);
  }
  // The optimizer training runs use (fused elementwise update, chain.ts), not tfjs's Adam: 1,800 kernels a step more.
  const optimizer = new AdamW(model.params, { lr: 1e-3, wd: 0 });
  const names = [...model.params.keys()];
  const paramName = new Map([...model.params].map(([name, v]) => [v.name, name]));
  const mb = Math.min(bench.microBatch, rows);
  if (rows % mb !== 0) throw new Error(`${rows} rows per rank are not a multiple of microBatch ${mb}`);
  const trainStep = async (): Promise<void> => {
    let sum: tf.NamedTensorMap | null = null;
    for (let i = 0; i < rows; i += mb) {
      const { value, grads } = tf.variableGrads(
        () =>
          tf.tidy(() => {
            const img =
              rows === mb ? images : (tf.slice(images, [i, 0, 0, 0], [mb, h, w, encoder.channels]) as tf.Tensor4D);
            const tok = rows === mb ? targets : (tf.slice(targets, [i, 0], [mb, decoder.length]) as tf.Tensor2D);
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
    const n = rows / mb;
    const mean = n === 1 ? sum! : Object.fromEntries(Object.entries(sum!).map(([k, g]) => [k, tf.div(g, n)]));
    const byName = new Map(Object.entries(mean).map(([k, g]) => [paramName.get(k) as string, g]));
    const update = group === null ? byName : await group.average(byName, names);
    optimizer.apply(model.params, update);
    await readTensor(vars[vars.length - 1]); // waits for the update on asynchronous backends
    tf.dispose([...Object.values(sum!), ...(n === 1 ? [] : Object.values(mean))]);
    if (update !== byName) tf.dispose([...update.values()]);
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
  group?.barrier(); // every rank starts sampling together, and the time ends when the last one is done
  const s0 = performance.now();
  const sc0 = cpuMs();
  await model.sample(images, { numSamples: 1, greedy: true });
  group?.barrier();
  const sampleMs = performance.now() - s0;
  const sampleCpuMs = cpuMs() - sc0;
  const params = model.numParams;
  tf.dispose([images, targets]);
  optimizer.dispose();
  model.dispose();
  return { params, times, cpuTimes, ...(profile === undefined ? {} : { profile }), sampleMs, sampleCpuMs };
}

export async function runBench(
  configName: string,
  backend: BackendChoice,
  opts: BenchOptions = {},
): Promise<BenchResult> {
  const bench = BENCH_CONFIGS[configName];
  if (bench === undefined) {
    throw new UsageError(`--config: unknown '${configName}' (expected ${Object.keys(BENCH_CONFIGS).join('|')})`);
  }
  const parallel = opts.dataParallel;
  if (parallel !== undefined) checkDataParallel(configName, bench, parallel.ranks, opts);
  const info = await initBackend(backend);
  const unfit = bench.unfit?.[info.name];
  if (unfit !== undefined) throw new UsageError(`--config ${configName}: does not fit ${info.name} (${unfit})`);
  const workers = new BenchWorkers();
  let run: RankRun;
  try {
    run = await runRank(
      bench,
      (paramCount) => {
        if (parallel === undefined || parallel.ranks === 1) return null;
        const memory = createGroupMemory(parallel.ranks, paramCount);
        const group = new GradientGroup(memory, 0);
        const data: Omit<BenchWorkerData, 'rank'> = {
          config: configName,
          backend: info.name as BackendChoice,
          memory,
          opts,
        };
        workers.start(parallel.library, parallel.ranks, data, group);
        return group;
      },
      opts,
    );
  } catch (err) {
    throw (await workers.failure()) ?? err; // a worker's error is the cause of rank 0's aborted barrier
  }
  const details = await workers.finish();
  const other = details.find((d) => d !== info.detail);
  if (other !== undefined) {
    throw new Error(`data-parallel bench: the ranks' backends differ ('${info.detail}' and '${other}')`);
  }
  const patches = webgpuPatchStats(); // undefined unless the backend is a patched webgpu one
  return {
    backend: info.name,
    backend_detail: info.detail,
    ...(parallel === undefined ? {} : { data_parallel: parallel.ranks }),
    params: run.params,
    train_step_ms: Math.round(median(run.times)),
    sample_ms: Math.round(run.sampleMs),
    tokens_per_s: Math.round((bench.batch * bench.model.decoder.length) / (run.sampleMs / 1000)),
    train_step_cpu_ms: Math.round(median(run.cpuTimes)),
    sample_cpu_ms: Math.round(run.sampleCpuMs),
    ...(run.profile === undefined ? {} : { profile: run.profile }),
    ...(patches === undefined ? {} : { webgpu_patches: { ...patches } }),
  };
}

/** A data-parallel bench's batch must split evenly between the ranks; no profile (it would profile one rank). */
function checkDataParallel(configName: string, bench: BenchConfig, ranks: number, opts: BenchOptions): void {
  const rows = bench.batch / ranks;
  if (!Number.isInteger(ranks) || ranks < 1 || !Number.isInteger(rows)) {
    throw new UsageError(`--data-parallel: ${configName}'s batch of ${bench.batch} does not split into ${ranks} ranks`);
  }
  if (opts.profile) throw new UsageError('--profile: not with --data-parallel (it profiles one thread)');
}

/** What rank 0 hands each worker thread of a data-parallel bench (with `library` and `rank`, bench-workers.ts). */
interface BenchWorkerData {
  readonly config: string;
  readonly backend: BackendChoice;
  readonly memory: GroupMemory;
  readonly opts: BenchOptions;
  readonly rank: number;
}

/**
 * A worker thread's rank of a data-parallel bench (started by rank 0 through the bundled library): the same
 * backend, model and steps as rank 0, its rows of the batch; answers with its backend's start-up line. A failure
 * aborts the group (bench-workers.ts's wrapper), so that no rank waits for it at a barrier.
 */
export async function benchWorker(): Promise<void> {
  const data = workerData as BenchWorkerData;
  const group = new GradientGroup(data.memory, data.rank);
  const info = await initBackend(data.backend, { quiet: true });
  await runRank(
    BENCH_CONFIGS[data.config],
    (paramCount) => {
      if (paramCount !== data.memory.length) {
        throw new Error(`bench rank ${data.rank}: ${paramCount} parameters, rank 0 has ${data.memory.length}`);
      }
      return group;
    },
    data.opts,
  );
  const reply: BenchWorkerReply = { detail: info.detail };
  parentPort!.postMessage(reply);
}
