/**
 * The four commands of `task-detection` (also `nx run task-detection:<command>`), built from the same steps:
 *
 *   pretrain  data → model → MLE (checkpoints, held-out curve) → evaluation suite → report
 *   tune      an MLE run's weights → reward tuning with the paper's reward + confidence loss → evaluation → report
 *   eval      a run's (or checkpoint's) weights → evaluation suite on the validation split
 *   demo      data → MLE (the shipped checkpoint, or pretraining with --from-scratch) → tuning → both evaluated
 *             with the same greedy decoding → a table and report.html comparing them
 *
 * Every run lives in `<out>/task-detection/<name>/` (config.json, metrics.jsonl, checkpoints/, eval/, report.html).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import {
  createOptimizer,
  encodePng,
  initBackend,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  openRunDir,
  orUsageError,
  parseTaskArgs,
  Progress,
  resolveConfig,
  restoreInto,
  Rng,
  taskOptionsHelp,
  UsageError,
  type EncoderDecoder,
  type RunDir,
  type TaskCliOptions,
} from '@reward-tune/core-model';
import { fileCheckpointer, interruptOnSigint, jsonlMetrics, parseMetricsJsonl, progressTo, trainMle, tune, writeReport } from '@reward-tune/reinforce';
import { detectionConfigSpec, type DetectionConfig } from './config';
import { drawPredictions, evaluateDetection, type DetectionEval } from './eval';
import { buildModel, buildTask, detectionVocab, loadImages, prepareData, randomBatches, sequentialBatches, type DetectionData, type ImageTable } from './setup';
import { STAT_NAMES, type DetectionTask } from './task';

export const TASK = 'task-detection';

/** Where the shipped MLE checkpoints live (next to dist/ in the installed package). */
export const SHIPPED_DIR = path.resolve(__dirname, '..', 'checkpoints');
export const shippedCheckpoint = (preset: string): string => path.join(SHIPPED_DIR, `${preset}-mle.safetensors`);

export const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

/** A progress bar for loading work (images, batches); silent for small amounts. */
function counter(label: string): (done: number, total: number) => void {
  let bar: Progress | undefined;
  return (done, total) => {
    if (total < 200) return;
    bar ??= new Progress({ label, total, every: Math.ceil(total / 10) });
    bar.update(done);
    if (done === total) bar.finish();
  };
}

function withSeed(opts: TaskCliOptions): readonly string[] {
  return opts.seed === undefined ? opts.sets : [`seed=${opts.seed}`, ...opts.sets];
}

function withData(opts: TaskCliOptions, sets: readonly string[]): readonly string[] {
  return opts.data === undefined ? sets : [...sets, `data.dir=${JSON.stringify(path.resolve(opts.data))}`];
}

/** The config of a new run: a preset (or a base config, e.g. the MLE run's) plus --seed, --data and --set. */
export function newRunConfig(opts: TaskCliOptions, base?: { value: unknown; source: string }): DetectionConfig {
  const sets = withData(opts, withSeed(opts));
  return orUsageError(resolveConfig(detectionConfigSpec, base ? { base, sets } : { preset: opts.preset, sets }));
}

export function openRun(opts: TaskCliOptions, config: DetectionConfig, name?: string): RunDir {
  return orUsageError(openRunDir({ root: opts.out, task: TASK, name: name ?? opts.name, config }));
}

// Data and image tables are loaded once per process and shared by the steps of a demo (decoding thousands of PNGs
// again for each step would cost more than the evaluation itself).
const loaded = new Map<string, { data: DetectionData; task: DetectionTask }>();
const tables = new Map<string, ImageTable>();

/** Data, task and image tables for a config (synthetic data is generated on first use under `<out>/data`). */
export function setUp(cfg: DetectionConfig, outRoot: string): { data: DetectionData; task: DetectionTask } {
  const key = JSON.stringify([path.resolve(outRoot), cfg.data, cfg.tokens, cfg.tune.nmsWeight, cfg.tune.releasedWeighting]);
  let hit = loaded.get(key);
  if (hit === undefined) {
    const data = orUsageError(prepareData(cfg, outRoot, counter('generating data')));
    hit = { data, task: buildTask(cfg, data, detectionVocab(cfg, data)) };
    loaded.set(key, hit);
  }
  return hit;
}

function table(data: DetectionData, split: 'train' | 'val', cfg: DetectionConfig, limit: number): ImageTable {
  const key = JSON.stringify([data.dir, split, cfg.model.imageSize, limit]);
  let hit = tables.get(key);
  if (hit === undefined) {
    hit = orUsageError(loadImages(data[split], cfg.model.imageSize, limit, counter(`loading ${split} images`)));
    tables.set(key, hit);
  }
  return hit;
}

/** Loads the weights of a checkpoint file or of a run directory's latest checkpoint into `model`. */
export function loadWeights(model: EncoderDecoder, from: string): { file: string; config: unknown } {
  const file = resolveCheckpoint(from);
  const ckpt = orUsageError(loadCheckpoint(file));
  orUsageError(restoreInto(model.params, undefined, { ...ckpt, optimizer: undefined }));
  return { file, config: ckpt.config };
}

/** `--from`: a checkpoint file, or a run directory whose latest checkpoint is taken. */
export function resolveCheckpoint(from: string): string {
  if (!existsSync(from)) throw new UsageError(`--from ${from}: no such file or directory`);
  if (from.endsWith('.safetensors')) return from;
  const file = latestCheckpoint(path.join(from, 'checkpoints'));
  if (file === undefined) throw new UsageError(`--from ${from}: no checkpoint in ${path.join(from, 'checkpoints')}`);
  return file;
}

/** The config saved in a checkpoint (every checkpoint carries its run's resolved config). */
function checkpointConfig(file: string): { value: unknown; source: string } {
  return { value: orUsageError(loadCheckpoint(file)).config, source: file };
}

export async function pretrainRun(cfg: DetectionConfig, run: RunDir, outRoot: string): Promise<EncoderDecoder> {
  const { data, task } = setUp(cfg, outRoot);
  const model = buildModel(cfg, detectionVocab(cfg, data), cfg.seed);
  log(`${TASK} pretrain: ${model.numParams.toLocaleString('en')} parameters, ${data.train.examples.length} train images, run ${run.dir}`);
  const train = table(data, 'train', cfg, 0);
  const heldOut = table(data, 'val', cfg, cfg.mle.heldOutImages);
  const optimizer = createOptimizer(cfg.mle.optimizer, model.params);
  const bar = new Progress({ label: 'MLE', total: cfg.mle.steps, startStep: listCheckpoints(run.checkpointsDir).at(-1)?.[0] ?? 0 });
  const sigint = interruptOnSigint();
  const result = await trainMle({
    signal: sigint.signal,
    policy: model,
    optimizer,
    task,
    train: randomBatches(train, cfg.mle.batchSize),
    heldOut: sequentialBatches(heldOut, cfg.eval.batchSize),
    rng: Rng.fromSeed(cfg.seed + 1),
    config: { steps: cfg.mle.steps, labelSmoothing: cfg.mle.labelSmoothing, evalEvery: cfg.mle.evalEvery, checkpointEvery: cfg.mle.checkpointEvery },
    checkpointer: fileCheckpointer(run.checkpointsDir, { config: cfg }),
    metrics: jsonlMetrics(run.metricsPath),
    progress: progressTo(bar),
  }).finally(() => sigint.dispose());
  bar.finish();
  optimizer.dispose();
  stopIfInterrupted(result.stopped, run, 'pretrain');
  if (result.stopped === 'non-finite') throw new Error(`training stopped on a non-finite loss at step ${result.steps}; the last good checkpoint is in ${run.checkpointsDir}`);
  return model;
}

export async function tuneRun(cfg: DetectionConfig, run: RunDir, outRoot: string, mleFrom: string): Promise<EncoderDecoder> {
  const { data, task } = setUp(cfg, outRoot);
  const vocab = detectionVocab(cfg, data);
  const model = buildModel(cfg, vocab, cfg.seed);
  const { file } = loadWeights(model, mleFrom);
  log(`${TASK} tune: from ${file}, run ${run.dir}`);
  let reference: EncoderDecoder | undefined;
  if (cfg.tune.klCoef > 0) {
    reference = buildModel(cfg, vocab, cfg.seed);
    loadWeights(reference, file);
  }
  const train = table(data, 'train', cfg, 0);
  const heldOut = table(data, 'val', cfg, cfg.tune.heldOutImages);
  const optimizer = createOptimizer(cfg.tune.optimizer, model.params);
  const bar = new Progress({ label: 'tune', total: cfg.tune.steps });
  const sigint = interruptOnSigint();
  const result = await tune({
    signal: sigint.signal,
    policy: model,
    optimizer,
    task,
    reference,
    train: randomBatches(train, cfg.tune.batchSize),
    heldOut: sequentialBatches(heldOut, cfg.eval.batchSize),
    rng: Rng.fromSeed(cfg.seed + 2),
    config: {
      steps: cfg.tune.steps,
      numSamples: cfg.tune.numSamples,
      estimator: cfg.tune.estimator,
      auxLossWeight: cfg.tune.confWeight,
      klCoef: cfg.tune.klCoef,
      evalEvery: cfg.tune.evalEvery,
      checkpointEvery: cfg.tune.checkpointEvery,
      distributionSamples: 4,
    },
    checkpointer: fileCheckpointer(run.checkpointsDir, { config: cfg }),
    metrics: jsonlMetrics(run.metricsPath),
    progress: progressTo(bar),
  }).finally(() => sigint.dispose());
  bar.finish();
  optimizer.dispose();
  reference?.dispose();
  stopIfInterrupted(result.stopped, run, 'tune');
  if (result.stopped === 'non-finite') throw new Error(`tuning stopped on a non-finite loss at step ${result.steps}; the last good checkpoint is in ${run.checkpointsDir}`);
  return model;
}

/** Runs the evaluation suite and writes eval/metrics.json, eval/results.json (COCO results) and pictures. */
/** Ctrl-C stopped the loop after saving a checkpoint: say how to go on, and end the command (exit code 130). */
export class Interrupted extends Error {
  override readonly name = 'Interrupted';
  readonly exitCode = 130;
}

function stopIfInterrupted(stopped: string, run: RunDir, command: 'pretrain' | 'tune'): void {
  if (stopped !== 'interrupted') return;
  const how =
    command === 'pretrain'
      ? `continue with: task-detection pretrain --resume --from ${run.dir}`
      : `the run's checkpoints are in ${run.checkpointsDir}`;
  throw new Interrupted(`interrupted; a checkpoint was saved (${how})`);
}

export async function evalRun(cfg: DetectionConfig, model: EncoderDecoder, dir: string, outRoot: string): Promise<{ ev: DetectionEval; val: ImageTable }> {
  const { data, task } = setUp(cfg, outRoot);
  const val = table(data, 'val', cfg, cfg.eval.images);
  const ev = await evaluateDetection(model, task, val, cfg.eval.batchSize, counter('evaluating'));
  const out = path.join(dir, 'eval');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'results.json'), JSON.stringify(ev.detections));
  writeFileSync(path.join(out, 'metrics.json'), `${JSON.stringify({ images: val.examples.length, mean_reward: ev.meanReward, ...ev.metrics }, null, 2)}\n`);
  for (let i = 0; i < Math.min(cfg.eval.pictures, val.examples.length); i++) {
    writeFileSync(path.join(out, `val_${String(i).padStart(3, '0')}.png`), encodePng(drawPredictions(val, i, ev.predictions[i])));
  }
  return { ev, val };
}

export async function writeRunReport(run: RunDir): Promise<void> {
  const records = orUsageError(parseMetricsJsonl(readFileSync(run.metricsPath, 'utf8'), run.metricsPath));
  const written = await writeReport(run.dir, records);
  if (E.isLeft(written)) log(`report not written: ${written.left}`);
}

export function summaryLine(name: string, ev: DetectionEval): string {
  const m = ev.metrics;
  return `${name}: AP ${m.AP.toFixed(3)}  AP50 ${m.AP50.toFixed(3)}  AR100 ${m.AR100.toFixed(3)}  mean reward ${ev.meanReward.toFixed(3)}  boxes/image ${m.boxes_per_image.toFixed(2)}`;
}

export const statsOf = (ev: DetectionEval): number[] => STAT_NAMES.map((k) => ev.metrics[k]);

export function parse(args: readonly string[], extra: Parameters<typeof parseTaskArgs>[1] = {}): TaskCliOptions | undefined {
  const opts = parseTaskArgs(args, extra);
  if (opts.help) {
    process.stdout.write(taskOptionsHelp(extra));
    return undefined;
  }
  return opts;
}

export async function pretrainCommand(args: readonly string[]): Promise<number> {
  const opts = parse(args, { extra: { resume: { type: 'boolean', description: 'continue the run given by --from' } } });
  if (!opts) return 0;
  await initBackend(opts.backend);
  let cfg: DetectionConfig;
  let run: RunDir;
  if (opts.extra.resume) {
    if (opts.from === undefined) throw new UsageError('--resume needs --from <run directory>');
    const dir = path.resolve(opts.from);
    if (!existsSync(path.join(dir, 'config.json'))) throw new UsageError(`--from ${opts.from}: not a run directory (no config.json)`);
    cfg = newRunConfig({ ...opts, preset: undefined }, { value: JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')), source: path.join(dir, 'config.json') });
    run = orUsageError(openRunDir({ root: path.dirname(path.dirname(dir)), task: TASK, name: path.basename(dir), config: cfg, resume: true }));
  } else {
    cfg = newRunConfig(opts);
    run = openRun(opts, cfg);
  }
  const model = await pretrainRun(cfg, run, opts.out);
  const { ev } = await evalRun(cfg, model, run.dir, opts.out);
  await writeRunReport(run);
  log(summaryLine('MLE', ev));
  if (opts.json) process.stdout.write(`${JSON.stringify({ run: run.dir, stats: statsOf(ev), mean_reward: ev.meanReward })}\n`);
  return 0;
}

export async function tuneCommand(args: readonly string[]): Promise<number> {
  const opts = parse(args);
  if (!opts) return 0;
  if (opts.from === undefined) throw new UsageError('tune needs --from <MLE run directory or checkpoint>');
  await initBackend(opts.backend);
  const file = resolveCheckpoint(opts.from);
  const cfg = newRunConfig(opts, opts.preset === undefined ? checkpointConfig(file) : undefined);
  const run = openRun(opts, cfg);
  const model = await tuneRun(cfg, run, opts.out, file);
  const { ev } = await evalRun(cfg, model, run.dir, opts.out);
  await writeRunReport(run);
  log(summaryLine('tuned', ev));
  if (opts.json) process.stdout.write(`${JSON.stringify({ run: run.dir, stats: statsOf(ev), mean_reward: ev.meanReward })}\n`);
  return 0;
}

export async function evalCommand(args: readonly string[]): Promise<number> {
  const opts = parse(args);
  if (!opts) return 0;
  if (opts.from === undefined) throw new UsageError('eval needs --from <run directory or checkpoint>');
  await initBackend(opts.backend);
  const file = resolveCheckpoint(opts.from);
  const cfg = newRunConfig({ ...opts, preset: undefined }, checkpointConfig(file));
  const { data } = setUp(cfg, opts.out);
  const model = buildModel(cfg, detectionVocab(cfg, data), cfg.seed);
  loadWeights(model, file);
  // Results go beside the checkpoints of the run the checkpoint belongs to.
  const dir = path.dirname(path.dirname(path.resolve(file)));
  const { ev } = await evalRun(cfg, model, dir, opts.out);
  log(summaryLine(path.basename(dir), ev));
  log(`wrote ${path.join(dir, 'eval')}`);
  if (opts.json) process.stdout.write(`${JSON.stringify({ checkpoint: file, stats: statsOf(ev), mean_reward: ev.meanReward })}\n`);
  return 0;
}

