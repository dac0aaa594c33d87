/**
 * The steps the training commands (pretrain-oracle, pretrain, tune, eval, noise) and the demo share: a config's task
 * setup (once per process), run directories, a model with a checkpoint's weights, the loops (stage I, MLE, tuning)
 * wired to the run directory (file checkpoints, metrics.jsonl, the progress bar, Ctrl-C) with their 'interrupted' and
 * 'non-finite' endings, the evaluation suite, report.html, and a run's closing lines.
 *
 * The loops read the config's `mle` and `tune` sections as they are; the batches come from the task's image tables
 * (its `train` split, and `heldOutImages` of its `val` split for the held-out curve).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import * as tf from '@tensorflow/tfjs-core';
import {
  createOptimizer,
  disposeOracle,
  initBackend,
  initOracle,
  listCheckpoints,
  openRunDir,
  oracleMetadata,
  orUsageError,
  Progress,
  Rng,
  UsageError,
  type EncoderDecoder,
  type OracleConfig,
  type RunDir,
} from '@reward-tune/core-model';
import { randomBatches, sequentialBatches, type ImageTable } from '../batches';
import type { LoopIo } from '../loop';
import { trainMle } from '../mle';
import {
  evaluateOracle,
  oracleBatchTensors,
  randomOracleBatches,
  sequentialOracleBatches,
  trainOracle,
  type OracleEval,
} from '../oracle-loop';
import { parseMetricsJsonl, writeReport } from '../report';
import { fileCheckpointer, interruptOnSigint, jsonlMetrics, progressTo } from '../run-io';
import { forkSampler, ProcessRollouts } from '../sampler-process';
import { tune, type TuneOptions, type TuneResult } from '../tune';
import type { RunnerConfig, Split, TaskAdapter, TaskSetup } from './adapter';
import type { TaskCliOptions } from './flags';
import { logLine } from './log';
import {
  checkStageTwo,
  checkStageTwoCheckpoint,
  oracleConfigOf,
  oracleHooks,
  recordOracle,
  runOracleMetadata,
  stageOneOf,
} from './oracle';
import { loadWeights, resolveCheckpoint } from './run-config';

/** Any task's adapter, as the runner's steps take it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyAdapter<C extends RunnerConfig, Ev> = TaskAdapter<C, any, any, any, Ev>;

/** The file in a tuning run's directory that names the MLE checkpoint it started from (for `tune --resume`). */
export const TUNED_FROM = 'tuned-from.json';

/** Ctrl-C stopped the loop after saving a checkpoint: say how to go on, and end the command (exit code 130). */
export class Interrupted extends Error {
  override readonly name = 'Interrupted';
  readonly exitCode = 130;
}

// Each config is set up once per process (data read, task built), and each image table loaded once: the steps of a
// demo share them (decoding thousands of PNGs again for each step would cost more than the evaluation itself).
const setups = new WeakMap<object, Map<string, TaskSetup<unknown, unknown, unknown, unknown>>>();

/** The task's setup of `cfg`, made on first use; its `images` keep every table asked for. */
export function setUpOnce<C extends RunnerConfig, E, P, A, Ev>(
  adapter: TaskAdapter<C, E, P, A, Ev>,
  cfg: C,
  outRoot: string,
): TaskSetup<E, P, A, Ev> {
  let byConfig = setups.get(adapter);
  if (byConfig === undefined) setups.set(adapter, (byConfig = new Map()));
  const key = JSON.stringify([path.resolve(outRoot), cfg]);
  const hit = byConfig.get(key) as TaskSetup<E, P, A, Ev> | undefined;
  if (hit !== undefined) return hit;
  const setup = adapter.setUp(cfg, outRoot);
  const tables = new Map<string, ImageTable<E>>();
  const images = (split: Split, limit: number): ImageTable<E> => {
    const k = `${split}:${limit}`;
    let table = tables.get(k);
    if (table === undefined) tables.set(k, (table = setup.images(split, limit)));
    return table;
  };
  const made = { ...setup, images }; // a task's setup is a plain object: spreading keeps its functions
  byConfig.set(key, made as TaskSetup<unknown, unknown, unknown, unknown>);
  return made;
}

/**
 * Before any work: the data is read and validated (a bad dataset is one UsageError, before a run directory
 * exists, so nothing is left half-made), then the backend is chosen.
 */
export async function ready<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  cfg: C,
  opts: TaskCliOptions,
  stage: 'I' | 'II' = 'II',
): Promise<void> {
  const setup = setUpOnce(adapter, cfg, opts.out);
  await initBackend(opts.backend);
  if (stage === 'II') checkStageTwo(adapter, cfg, setup);
  else oracleConfigOf(adapter, cfg); // a bad oracle config is one line before any run directory exists
}

export function openRun<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  opts: TaskCliOptions,
  config: C,
  name?: string,
): RunDir {
  return orUsageError(openRunDir({ root: opts.out, task: adapter.tool, name: name ?? opts.name, config }));
}

/**
 * Runs one loop with the run directory's collaborators (checkpoints, metrics.jsonl, progress bar, Ctrl-C), then
 * turns its outcome into the command's: Ctrl-C → `Interrupted` (exit 130) saying how to go on; a non-finite loss →
 * an error naming the last good checkpoint.
 */
async function runLoop(
  tool: string,
  cfg: unknown,
  run: RunDir,
  command: 'pretrain' | 'tune' | 'pretrain-oracle',
  total: number,
  loop: (io: LoopIo) => Promise<{ readonly stopped: string; readonly steps: number }>,
  extra: Readonly<Record<string, string>> | undefined = runOracleMetadata(run),
): Promise<void> {
  const startStep = listCheckpoints(run.checkpointsDir).at(-1)?.[0] ?? 0;
  const label = { pretrain: 'MLE', tune: 'tune', 'pretrain-oracle': 'stage I' }[command];
  const bar = new Progress({ label, total, startStep });
  const sigint = interruptOnSigint();
  let result: { readonly stopped: string; readonly steps: number };
  try {
    result = await loop({
      signal: sigint.signal,
      checkpointer: fileCheckpointer(run.checkpointsDir, { config: cfg, extra }),
      metrics: jsonlMetrics(run.metricsPath),
      progress: progressTo(bar),
    });
  } finally {
    sigint.dispose();
    bar.finish();
  }
  if (result.stopped === 'interrupted') {
    throw new Interrupted(
      `interrupted; a checkpoint was saved (continue with: ${tool} ${command} --resume --from ${run.dir})`,
    );
  }
  if (result.stopped === 'non-finite') {
    const what = command === 'tune' ? 'tuning' : 'training';
    throw new Error(
      `${what} stopped on a non-finite loss at step ${result.steps}; the last good checkpoint is in ${run.checkpointsDir}`,
    );
  }
}

/** A model of `cfg` with the weights of `from` (a checkpoint or a run directory), checked by the task first. */
export function loadModel<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  cfg: C,
  outRoot: string,
  from: string,
): { model: EncoderDecoder; file: string } {
  const setup = setUpOnce(adapter, cfg, outRoot);
  const file = resolveCheckpoint(from);
  setup.checkCheckpoint?.(file);
  checkStageTwoCheckpoint(adapter, cfg, file);
  const model = setup.buildModel(cfg.seed);
  loadWeights(model, file);
  return { model, file };
}

/** MLE into `run` (resuming from its checkpoints); returns the trained model. */
export async function pretrainRun<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  cfg: C,
  run: RunDir,
  outRoot: string,
): Promise<EncoderDecoder> {
  const setup = setUpOnce(adapter, cfg, outRoot);
  const model = setup.buildModel(cfg.seed);
  const trainImages = setup.images('train', 0);
  const train = randomBatches(trainImages, cfg.mle.batchSize);
  const heldOut = sequentialBatches(setup.images('val', cfg.mle.heldOutImages), cfg.eval.batchSize);
  logLine(
    `${adapter.tool} pretrain: ${model.numParams.toLocaleString('en')} parameters, ${trainImages.examples.length} train images, run ${run.dir}`,
  );
  setup.initRun?.(run);
  recordOracle(run, stageOneOf(adapter, cfg)); // runLoop puts it into every checkpoint
  const optimizer = createOptimizer(cfg.mle.optimizer, model.params);
  try {
    await runLoop(adapter.tool, cfg, run, 'pretrain', cfg.mle.steps, (io) =>
      trainMle({
        ...io,
        policy: model,
        optimizer,
        task: setup.task,
        train,
        heldOut,
        rng: Rng.fromSeed(cfg.seed + 1),
        config: cfg.mle,
      }),
    );
  } finally {
    optimizer.dispose();
  }
  return model;
}

/** The tuning loop of `tuneRun`: reinforce's `tune`, or one that takes its options and the run's set-up. */
export type TuneLoop = <E, P, A>(opts: TuneOptions<E, P, A>, ctx: TuneLoopContext<E, P, A>) => Promise<TuneResult>;

/** What a TuneLoop gets besides the loop's options (e.g. @reward-tune/distributed's learner: the train table). */
export interface TuneLoopContext<E, P, A> {
  readonly cfg: RunnerConfig;
  readonly setup: TaskSetup<E, P, A, unknown>;
  readonly run: RunDir;
}

/** A loop other than reinforce's `tune` (distributed's actors) draws its own samples: no sampling process with it. */
export function checkTuneLoop(cfg: RunnerConfig, loop: TuneLoop = tune): void {
  if (cfg.tune.sampler.kind === 'process' && loop !== tune)
    throw new UsageError('tune.sampler.kind=process draws the samples itself: it does not go with --actors');
}

/**
 * Tuning into `run` from the weights of `mleFrom` (checkpoint or run directory); returns the tuned model. `loop`
 * (default reinforce's `tune`) runs the updates.
 */
export async function tuneRun<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  cfg: C,
  run: RunDir,
  outRoot: string,
  mleFrom: string,
  loop: TuneLoop = tune,
): Promise<EncoderDecoder> {
  const setup = setUpOnce(adapter, cfg, outRoot);
  const { model, file } = loadModel(adapter, cfg, outRoot, mleFrom);
  logLine(`${adapter.tool} tune: from ${file}, run ${run.dir}`);
  if (!run.resumed || !existsSync(path.join(run.dir, TUNED_FROM)))
    run.writeFile(TUNED_FROM, `${JSON.stringify({ checkpoint: path.resolve(file) }, null, 2)}\n`);
  const train = randomBatches(setup.images('train', 0), cfg.tune.batchSize);
  const heldOut = sequentialBatches(setup.images('val', cfg.tune.heldOutImages), cfg.eval.batchSize);
  const reference = cfg.tune.klCoef > 0 ? loadModel(adapter, cfg, outRoot, file).model : undefined;
  setup.initRun?.(run);
  recordOracle(run, stageOneOf(adapter, cfg)); // runLoop puts it into every checkpoint
  const policy = setup.prepareTuning?.(model) ?? model; // shares the model's parameters
  const optimizer = createOptimizer(cfg.tune.optimizer, policy.params);
  // Built only when used (tune itself refuses auxWarmup > 0 without one).
  const warmupOptimizer =
    cfg.tune.auxWarmup > 0 ? createOptimizer(cfg.tune.auxWarmupOptimizer, policy.params) : undefined;
  checkTuneLoop(cfg, loop);
  const sampler = cfg.tune.sampler;
  try {
    await runLoop(adapter.tool, cfg, run, 'tune', cfg.tune.steps, async (io) => {
      const opts: TuneOptions<unknown, unknown, unknown> = {
        ...io,
        policy,
        optimizer,
        warmupOptimizer,
        task: setup.task,
        reference,
        train,
        heldOut,
        rng: Rng.fromSeed(cfg.seed + 2),
        config: cfg.tune,
      };
      if (sampler.kind === 'inline') return loop(opts, { cfg, setup, run });
      // The samples come from other processes (sampler-process.ts), each part with an RNG of its own.
      const rollouts = new ProcessRollouts<unknown, unknown>({
        children: Array.from({ length: sampler.processes }, () => forkSampler(tf.getBackend(), adapter.samplerCli)),
        config: cfg,
        out: outRoot,
        table: setup.images('train', 0),
        params: policy.params,
        tune: cfg.tune,
        rng: opts.rng,
        staleness: sampler.staleness,
        mirrorDir: path.join(run.dir, 'sampler-weights'),
      });
      try {
        return await tune({
          ...opts,
          config: { ...cfg.tune, seedDerivation: 'per-job' },
          rollouts,
          importanceClip: sampler.staleness > 0 ? sampler.clip : undefined,
          importancePer: sampler.importance,
          checkpointer: io.checkpointer && rollouts.checkpointing(io.checkpointer),
        });
      } finally {
        await rollouts.close();
      }
    });
  } finally {
    optimizer.dispose();
    warmupOptimizer?.dispose();
    reference?.dispose();
  }
  return model;
}

/** What a stage I run ends with: its latest checkpoint and the held-out evaluation of the trained oracle. */
export interface OracleRunResult {
  readonly checkpoint: string;
  readonly config: OracleConfig;
  readonly eval: OracleEval;
}

/** Stage I (UViM's oracle) into `run`, resuming from its checkpoints; the checkpoints are stage I checkpoints. */
export async function pretrainOracleRun<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  cfg: C,
  run: RunDir,
  outRoot: string,
): Promise<OracleRunResult> {
  const section = oracleHooks(adapter).section(cfg);
  const ocfg = oracleConfigOf(adapter, cfg);
  const setup = setUpOnce(adapter, cfg, outRoot);
  if (setup.oracleData === undefined) throw new UsageError(`${adapter.tool} gives no stage I data (oracleData)`);
  const trainTable = setup.oracleData('train', 0);
  const train = randomOracleBatches(trainTable, section.batchSize);
  const heldOut = sequentialOracleBatches(setup.oracleData('val', section.heldOutImages), section.batchSize);
  const model = initOracle(ocfg, cfg.seed);
  const params = [...model.params.values()].reduce((n, v) => n + v.size, 0);
  logLine(
    `${adapter.tool} pretrain-oracle: ${params.toLocaleString('en')} parameters, code ${ocfg.codeLen} of ${ocfg.dictSize} codewords, ${trainTable.size} train examples, run ${run.dir}`,
  );
  const optimizer = createOptimizer(section.optimizer, model.params);
  let state = model.state;
  try {
    const loop = async (io: LoopIo) => {
      const r = await trainOracle({
        ...io,
        cfg: ocfg,
        model,
        optimizer,
        train,
        heldOut,
        rng: Rng.fromSeed(cfg.seed + 4),
        config: section,
      });
      state = r.state;
      return r;
    };
    await runLoop(adapter.tool, cfg, run, 'pretrain-oracle', section.steps, loop, oracleMetadata(ocfg));
    const ev = await evaluateOracle({ params: model.params, state }, ocfg, heldOut);
    return { checkpoint: resolveCheckpoint(run.dir), config: ocfg, eval: ev };
  } finally {
    optimizer.dispose();
    disposeOracle(model);
    tf.dispose(heldOut.flatMap(oracleBatchTensors));
  }
}

/** The images an evaluation covers: the first `eval.images` of `split` (default the `eval.split`, test). */
export const evalImages = <C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  cfg: C,
  outRoot: string,
  split: Split = cfg.eval.split,
): ImageTable<unknown> => setUpOnce(adapter, cfg, outRoot).images(split, cfg.eval.images);

/** The task's evaluation suite on `model` over `split`'s images (evalImages), artefacts into `<dir>/eval/`. */
export function evalRun<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  cfg: C,
  model: EncoderDecoder,
  dir: string,
  outRoot: string,
  split: Split = cfg.eval.split,
): Promise<Ev> {
  return setUpOnce(adapter, cfg, outRoot).evaluate(model, dir, evalImages(adapter, cfg, outRoot, split), split);
}

/** report.html and its plots from the run's metrics.jsonl (a failure to write is reported, not fatal). */
export async function writeRunReport(run: RunDir): Promise<void> {
  const records = orUsageError(parseMetricsJsonl(readFileSync(run.metricsPath, 'utf8'), run.metricsPath));
  const written = await writeReport(run.dir, records);
  if (E.isLeft(written)) logLine(`report not written: ${written.left}`);
}

/** After training: the evaluation suite, the report, a summary line and (--json) one JSON line. */
export async function finishRun<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  cfg: C,
  run: RunDir,
  opts: TaskCliOptions,
  model: EncoderDecoder,
  label: string,
): Promise<number> {
  const ev = await evalRun(adapter, cfg, model, run.dir, opts.out);
  await writeRunReport(run);
  model.dispose();
  logLine(`${adapter.summaryLine(label, ev)} (${cfg.eval.split} split)`);
  if (opts.json)
    process.stdout.write(`${JSON.stringify({ run: run.dir, split: cfg.eval.split, ...adapter.jsonStats(ev) })}\n`);
  return 0;
}
