/**
 * The task-independent half of every task CLI (`task-<name> pretrain | tune | eval | demo | noise`): config resolution
 * (preset or a saved config, then --seed, --data and --set), run directories, `--from` resolved to a checkpoint,
 * weights loading, the MLE and tuning loops wired to the run directory (file checkpoints, metrics.jsonl, the
 * progress bar, Ctrl-C), their 'interrupted' and 'non-finite' endings, report.html, and the demo's flow:
 *
 *   MLE model (the shipped checkpoint, or pretraining) → tuning → both evaluated → table, comparison page, JSON.
 *
 * A task supplies a `TaskAdapter`: how to set up a config's data, task and model, the loops' inputs, its
 * evaluation (which writes the task's artefacts under `<run>/eval/`), its summary line and JSON stats, and the
 * demo's table and comparison page. Every run lives in `<out>/<tool>/<name>/` (config.json, metrics.jsonl,
 * checkpoints/, eval/, report.html).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import type { z } from 'zod';
import {
  checkBackendEnv,
  createOptimizer,
  defaultRunName,
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
  type ConfigSpec,
  type EncoderDecoder,
  type OptimizerConfig,
  type RunDir,
  type TaskCliOptions,
  type TaskCliSpec,
} from '@reward-tune/core-model';
import type { LoopIo } from './loop';
import type { MleConfig } from './mle';
import { trainMle } from './mle';
import { parseMetricsJsonl, writeReport } from './report';
import { fileCheckpointer, interruptOnSigint, jsonlMetrics, progressTo } from './run-io';
import type { Batch, BatchSource, Task } from './task';
import { measureGradientNoise, type GradientNoise } from './gradient-noise';
import { tune, type TuneConfig } from './tune';

/** One line on stderr (stdout is kept for --json). */
export const logLine = (msg: string): void => void process.stderr.write(`${msg}\n`);

/** A progress bar for loading work (images, batches); silent for fewer than 200 items. */
export function loadCounter(label: string): (done: number, total: number) => void {
  let bar: Progress | undefined;
  return (done, total) => {
    if (total < 200) return;
    bar ??= new Progress({ label, total, every: Math.ceil(total / 10) });
    bar.update(done);
    if (done === total) bar.finish();
  };
}

/** What one loop needs from the task besides the model: batches, the held-out set and the optimizer. */
export interface LoopInputs<E> {
  readonly train: BatchSource<E>;
  readonly heldOut: readonly Batch<E>[];
  readonly optimizer: OptimizerConfig;
}

/** A task's objects for one resolved config (data loaded once; the adapter may cache them per process). */
export interface TaskSetup<E, P, A, Ev> {
  readonly task: Task<E, P, A>;
  /** A model with fresh weights drawn from `seed`. */
  buildModel(seed: number): EncoderDecoder;
  /** The MLE loop's inputs; `trainImages` is shown in the start line. */
  mle(): LoopInputs<E> & { readonly config: MleConfig; readonly trainImages: number };
  /**
   * The tuning loop's inputs; a frozen reference model is built when `config.klCoef` > 0, and an optimizer from
   * `warmupOptimizer` when `config.auxWarmup` > 0.
   */
  tune(): LoopInputs<E> & { readonly config: TuneConfig; readonly warmupOptimizer?: OptimizerConfig };
  /** Greedy evaluation on the validation split; writes the task's artefacts under `<dir>/eval/`. */
  evaluate(model: EncoderDecoder, dir: string): Promise<Ev>;
  /** Called with each new training run directory before its loop starts (e.g. to save a vocabulary there). */
  initRun?(run: RunDir): void;
  /** Called with each checkpoint before its weights are loaded; throws a UsageError when it does not fit. */
  checkCheckpoint?(file: string): void;
  /**
   * The policy to tune, from the loaded MLE model: it may adjust the weights once (a checkpoint the loop resumes
   * from then overrides them) and may return the same parameters under other logits processors. E.g. detection
   * gives a token that MLE never fed back the input embedding of its nearest kin, and decodes with well-formed
   * slots. Absent: the model itself.
   */
  prepareTuning?(model: EncoderDecoder): EncoderDecoder;
}

/** The demo's two evaluated models. */
export interface DemoResults<C, Ev> {
  readonly preset: string;
  readonly cfg: C;
  readonly mle: { readonly run: RunDir; readonly ev: Ev };
  readonly tuned: { readonly run: RunDir; readonly ev: Ev };
}

export interface TaskAdapter<C extends { readonly seed: number }, E, P, A, Ev> {
  /** The tool's name, e.g. `task-detection`: the run directories' folder and the messages' prefix. */
  readonly tool: string;
  readonly spec: ConfigSpec<z.ZodType<C>>;
  setUp(cfg: C, outRoot: string): TaskSetup<E, P, A, Ev>;
  /** Where the shipped MLE checkpoint of a preset would be. */
  shippedCheckpoint(preset: string): string;
  /** The parts of a config that must agree for a (shipped) checkpoint to fit a run's model and data. */
  modelKey(cfg: C): string;
  /**
   * Config keys renamed since runs were saved, old dotted path → new (e.g. `tune.confWeight` → `tune.auxLossWeight`):
   * applied to every config read back from a run directory or a checkpoint, so that older runs still resume.
   */
  readonly movedKeys?: Readonly<Record<string, string>>;
  /** One line on stderr after an evaluation, e.g. `MLE: AP 0.123 …`. */
  summaryLine(name: string, ev: Ev): string;
  /** The evaluation's numbers in --json output (pretrain, tune, eval, and demo's `mle` and `tuned`). */
  jsonStats(ev: Ev): Record<string, unknown>;
  /** How many validation images an evaluation covered. */
  evaluatedImages(ev: Ev): number;
  /** Writes the demo's comparison (compare.html and its pictures) into the tuned run; returns the table and page. */
  demoCompare(results: DemoResults<C, Ev>): { readonly table: string; readonly page: string };
}

/** The file in a tuning run's directory that names the MLE checkpoint it started from (for `tune --resume`). */
export const TUNED_FROM = 'tuned-from.json';

/** The file in a demo's MLE run that says where its MLE model came from and under which preset (for `demo --resume`). */
export const DEMO_RECORD = 'demo.json';

/** What DEMO_RECORD holds: `mle` is the checkpoint the demo took (the shipped one), or 'pretrain'. */
interface DemoRecord {
  readonly preset: string;
  readonly mle: string;
}

function readDemoRecord(file: string): DemoRecord {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const r = (value ?? {}) as Record<string, unknown>;
  for (const field of ['preset', 'mle'] as const) {
    if (typeof r[field] !== 'string' || r[field] === '') throw new UsageError(`${file}: ${field}: expected a non-empty string`);
  }
  return { preset: r.preset as string, mle: r.mle as string };
}

/**
 * A saved config with the keys `moved` names (old dotted path → new) moved to their new place, unless that is
 * already taken; objects left empty are removed. Returns a copy; the saved value is not changed.
 */
export function moveKeys(saved: unknown, moved: Readonly<Record<string, string>>): unknown {
  if (typeof saved !== 'object' || saved === null || Object.keys(moved).length === 0) return saved;
  const out = structuredClone(saved) as Record<string, unknown>;
  const parentOf = (keys: string[], make: boolean): Record<string, unknown> | undefined => {
    let node: Record<string, unknown> = out;
    for (const k of keys.slice(0, -1)) {
      if (typeof node[k] !== 'object' || node[k] === null) {
        if (!make) return undefined;
        node[k] = {};
      }
      node = node[k] as Record<string, unknown>;
    }
    return node;
  };
  for (const [from, to] of Object.entries(moved)) {
    const fromKeys = from.split('.');
    const toKeys = to.split('.');
    const source = parentOf(fromKeys, false);
    const key = fromKeys[fromKeys.length - 1];
    if (source === undefined || !(key in source)) continue;
    const value = source[key];
    delete source[key];
    // An object the move left empty (e.g. `tune.confWarmup` once its keys have moved) goes too.
    for (let depth = fromKeys.length - 1; depth > 0; depth--) {
      const parent = parentOf(fromKeys.slice(0, depth), false);
      const k = fromKeys[depth - 1];
      const child = parent?.[k];
      if (parent && typeof child === 'object' && child !== null && Object.keys(child).length === 0) delete parent[k];
    }
    const target = parentOf(toKeys, true) as Record<string, unknown>;
    target[toKeys[toKeys.length - 1]] ??= value;
  }
  return out;
}

/** The loops' own sections, which a saved config may spell as an older version of the code did. */
const LOOP_SECTIONS = ['mle', 'tune', 'eval'];

const withoutLoopSections = (saved: unknown): unknown =>
  typeof saved === 'object' && saved !== null ? Object.fromEntries(Object.entries(saved).filter(([k]) => !LOOP_SECTIONS.includes(k))) : saved;

/** Ctrl-C stopped the loop after saving a checkpoint: say how to go on, and end the command (exit code 130). */
export class Interrupted extends Error {
  override readonly name = 'Interrupted';
  readonly exitCode = 130;
}

/** `--from`: a checkpoint file, or a run directory whose latest checkpoint is taken. */
export function resolveCheckpoint(from: string): string {
  if (!existsSync(from)) throw new UsageError(`--from ${from}: no such file or directory`);
  if (from.endsWith('.safetensors')) return from;
  const file = latestCheckpoint(path.join(from, 'checkpoints'));
  if (file === undefined) throw new UsageError(`--from ${from}: no checkpoint in ${path.join(from, 'checkpoints')}`);
  return file;
}

/** Loads the weights (not the optimizer state) of a checkpoint file or a run directory's latest into `model`. */
export function loadWeights(model: EncoderDecoder, from: string): { file: string; config: unknown } {
  const file = resolveCheckpoint(from);
  const ckpt = orUsageError(loadCheckpoint(file));
  orUsageError(restoreInto(model.params, undefined, { ...ckpt, optimizer: undefined }));
  return { file, config: ckpt.config };
}

/** The config saved in a checkpoint (every checkpoint carries its run's resolved config). */
export function checkpointConfig(file: string): { value: unknown; source: string } {
  return { value: orUsageError(loadCheckpoint(file)).config, source: file };
}

/** The run directory a checkpoint `<run>/checkpoints/step_<n>.safetensors` belongs to. */
export const runOfCheckpoint = (file: string): string => path.dirname(path.dirname(path.resolve(file)));

/**
 * Where `eval` writes the evaluation of a checkpoint: its run directory when it is the latest of a run
 * (`<run>/checkpoints/`, with the run's config.json), `<run>/evals/<file name>` for an earlier one of that run (so it
 * does not replace the run's own evaluation, which `demo` and the reports read), else `<out>/<tool>/eval-<file name>`
 * — never beside a checkpoint that ships inside a package or sits in a folder of its own.
 */
export function evalDirOf(file: string, outRoot: string, tool: string): string {
  const run = runOfCheckpoint(file);
  if (path.basename(path.dirname(path.resolve(file))) === 'checkpoints' && existsSync(path.join(run, 'config.json'))) {
    const latest = latestCheckpoint(path.join(run, 'checkpoints'));
    return latest !== undefined && path.resolve(latest) === path.resolve(file) ? run : path.join(run, 'evals', path.basename(file, '.safetensors'));
  }
  return path.join(path.resolve(outRoot), tool, `eval-${path.basename(file, '.safetensors')}`);
}

/** report.html and its plots from the run's metrics.jsonl (a failure to write is reported, not fatal). */
export async function writeRunReport(run: RunDir): Promise<void> {
  const records = orUsageError(parseMetricsJsonl(readFileSync(run.metricsPath, 'utf8'), run.metricsPath));
  const written = await writeReport(run.dir, records);
  if (E.isLeft(written)) logLine(`report not written: ${written.left}`);
}

/** Parses a command's arguments; undefined after printing --help. */
export function parseCommand(args: readonly string[], spec: TaskCliSpec = {}): TaskCliOptions | undefined {
  const opts = parseTaskArgs(args, spec);
  if (opts.help) {
    process.stdout.write(`${taskOptionsHelp(spec)}\n`);
    return undefined;
  }
  // The backend's environment variables too, before any work (data, run directories), not when the backend starts.
  checkBackendEnv();
  return opts;
}

export interface TaskRunner<C, Ev> {
  pretrainCommand(args: readonly string[]): Promise<number>;
  tuneCommand(args: readonly string[]): Promise<number>;
  evalCommand(args: readonly string[]): Promise<number>;
  demoCommand(args: readonly string[]): Promise<number>;
  noiseCommand(args: readonly string[]): Promise<number>;
  /** The config of a new run: a preset (or `base`, e.g. a checkpoint's config) plus --seed, --data and --set. */
  newRunConfig(opts: TaskCliOptions, base?: { value: unknown; source: string }): C;
  /** The config of a run from a checkpoint (tune, noise, eval): --preset's, a shipped checkpoint's preset's, or its own; then --seed, --data, --set. */
  runConfigFrom(file: string, opts: TaskCliOptions): C;
  openRun(opts: TaskCliOptions, config: C, name?: string): RunDir;
  /** MLE into `run` (resuming from its checkpoints); returns the trained model. */
  pretrainRun(cfg: C, run: RunDir, outRoot: string): Promise<EncoderDecoder>;
  /** Tuning into `run` from the weights of `mleFrom` (checkpoint or run directory); returns the tuned model. */
  tuneRun(cfg: C, run: RunDir, outRoot: string, mleFrom: string): Promise<EncoderDecoder>;
  /** A model of `cfg` with the weights of `from`, checked by the task first. */
  loadModel(cfg: C, outRoot: string, from: string): { model: EncoderDecoder; file: string };
  /** The task's evaluation of `model`, artefacts into `<dir>/eval/`. */
  evalRun(cfg: C, model: EncoderDecoder, dir: string, outRoot: string): Promise<Ev>;
}

/** The four commands and their steps for one task. */
export function taskRunner<C extends { readonly seed: number }, E, P, A, Ev>(adapter: TaskAdapter<C, E, P, A, Ev>): TaskRunner<C, Ev> {
  const { tool } = adapter;

  function newRunConfig(opts: TaskCliOptions, saved?: { value: unknown; source: string }): C {
    const base = saved && { ...saved, value: moveKeys(saved.value, adapter.movedKeys ?? {}) };
    const sets = [...(opts.seed === undefined ? [] : [`seed=${opts.seed}`]), ...opts.sets];
    if (opts.data !== undefined) sets.push(`data.dir=${JSON.stringify(path.resolve(opts.data))}`);
    return orUsageError(resolveConfig(adapter.spec, base ? { base, sets } : { preset: opts.preset, sets }));
  }

  function openRun(opts: TaskCliOptions, config: C, name?: string): RunDir {
    return orUsageError(openRunDir({ root: opts.out, task: tool, name: name ?? opts.name, config }));
  }

  /**
   * Runs one loop with the run directory's collaborators (checkpoints, metrics.jsonl, progress bar, Ctrl-C), then
   * turns its outcome into the command's: Ctrl-C → `Interrupted` (exit 130) saying how to go on; a non-finite loss →
   * an error naming the last good checkpoint.
   */
  async function runLoop(
    cfg: C,
    run: RunDir,
    command: 'pretrain' | 'tune',
    total: number,
    loop: (io: LoopIo) => Promise<{ readonly stopped: string; readonly steps: number }>,
  ): Promise<void> {
    const bar = new Progress({ label: command === 'pretrain' ? 'MLE' : 'tune', total, startStep: listCheckpoints(run.checkpointsDir).at(-1)?.[0] ?? 0 });
    const sigint = interruptOnSigint();
    let result: { readonly stopped: string; readonly steps: number };
    try {
      result = await loop({
        signal: sigint.signal,
        checkpointer: fileCheckpointer(run.checkpointsDir, { config: cfg }),
        metrics: jsonlMetrics(run.metricsPath),
        progress: progressTo(bar),
      });
    } finally {
      sigint.dispose();
      bar.finish();
    }
    if (result.stopped === 'interrupted') {
      throw new Interrupted(`interrupted; a checkpoint was saved (continue with: ${tool} ${command} --resume --from ${run.dir})`);
    }
    if (result.stopped === 'non-finite') {
      const what = command === 'pretrain' ? 'training' : 'tuning';
      throw new Error(`${what} stopped on a non-finite loss at step ${result.steps}; the last good checkpoint is in ${run.checkpointsDir}`);
    }
  }

  function loadModel(cfg: C, outRoot: string, from: string): { model: EncoderDecoder; file: string } {
    const setup = adapter.setUp(cfg, outRoot);
    const file = resolveCheckpoint(from);
    setup.checkCheckpoint?.(file);
    const model = setup.buildModel(cfg.seed);
    loadWeights(model, file);
    return { model, file };
  }

  async function pretrainRun(cfg: C, run: RunDir, outRoot: string): Promise<EncoderDecoder> {
    const setup = adapter.setUp(cfg, outRoot);
    const model = setup.buildModel(cfg.seed);
    const inputs = setup.mle();
    logLine(`${tool} pretrain: ${model.numParams.toLocaleString('en')} parameters, ${inputs.trainImages} train images, run ${run.dir}`);
    setup.initRun?.(run);
    const optimizer = createOptimizer(inputs.optimizer, model.params);
    try {
      await runLoop(cfg, run, 'pretrain', inputs.config.steps, (io) =>
        trainMle({ ...io, policy: model, optimizer, task: setup.task, train: inputs.train, heldOut: inputs.heldOut, rng: Rng.fromSeed(cfg.seed + 1), config: inputs.config }),
      );
    } finally {
      optimizer.dispose();
    }
    return model;
  }

  async function tuneRun(cfg: C, run: RunDir, outRoot: string, mleFrom: string): Promise<EncoderDecoder> {
    const setup = adapter.setUp(cfg, outRoot);
    const { model, file } = loadModel(cfg, outRoot, mleFrom);
    logLine(`${tool} tune: from ${file}, run ${run.dir}`);
    if (!run.resumed || !existsSync(path.join(run.dir, TUNED_FROM))) run.writeFile(TUNED_FROM, `${JSON.stringify({ checkpoint: path.resolve(file) }, null, 2)}\n`);
    const inputs = setup.tune();
    const reference = (inputs.config.klCoef ?? 0) > 0 ? loadModel(cfg, outRoot, file).model : undefined;
    setup.initRun?.(run);
    const policy = setup.prepareTuning?.(model) ?? model; // shares the model's parameters
    const optimizer = createOptimizer(inputs.optimizer, policy.params);
    // Built only when used (tune itself refuses auxWarmup > 0 without one).
    const warmupConfig = (inputs.config.auxWarmup ?? 0) > 0 ? inputs.warmupOptimizer : undefined;
    const warmupOptimizer = warmupConfig && createOptimizer(warmupConfig, policy.params);
    try {
      await runLoop(cfg, run, 'tune', inputs.config.steps, (io) =>
        tune({ ...io, policy, optimizer, warmupOptimizer, task: setup.task, reference, train: inputs.train, heldOut: inputs.heldOut, rng: Rng.fromSeed(cfg.seed + 2), config: inputs.config }),
      );
    } finally {
      optimizer.dispose();
      warmupOptimizer?.dispose();
      reference?.dispose();
    }
    return model;
  }

  const evalRun = (cfg: C, model: EncoderDecoder, dir: string, outRoot: string): Promise<Ev> => adapter.setUp(cfg, outRoot).evaluate(model, dir);

  const resumeOption = { resume: { type: 'boolean', description: 'continue the run given by --from' } } as const;

  /** The run directory `--resume` continues (`--from`, required). */
  function resumedDir(opts: TaskCliOptions): string {
    if (opts.from === undefined) throw new UsageError('--resume needs --from <run directory>');
    return path.resolve(opts.from);
  }

  /** `--resume --from <run dir>`: the run's saved config (then --seed, --data, --set), the data checked, the run reopened. */
  async function reopenRun(opts: TaskCliOptions, dir = resumedDir(opts)): Promise<{ cfg: C; run: RunDir }> {
    const configPath = path.join(dir, 'config.json');
    if (!existsSync(configPath)) throw new UsageError(`--from ${opts.from}: not a run directory (no config.json)`);
    const cfg = newRunConfig({ ...opts, preset: undefined }, { value: JSON.parse(readFileSync(configPath, 'utf8')), source: configPath });
    await ready(cfg, opts);
    const run = orUsageError(openRunDir({ root: path.dirname(path.dirname(dir)), task: tool, name: path.basename(dir), config: cfg, resume: true }));
    return { cfg, run };
  }

  async function pretrainCommand(args: readonly string[]): Promise<number> {
    const opts = parseCommand(args, { extra: resumeOption });
    if (!opts) return 0;
    let cfg: C;
    let run: RunDir;
    if (opts.extra.resume) {
      ({ cfg, run } = await reopenRun(opts));
    } else {
      cfg = newRunConfig(opts);
      await ready(cfg, opts);
      run = openRun(opts, cfg);
    }
    return finishRun(cfg, run, opts, await pretrainRun(cfg, run, opts.out), 'MLE');
  }

  /**
   * Before any work: the data is read and validated (a bad dataset is one UsageError, before a run directory
   * exists, so nothing is left half-made), then the backend is chosen.
   */
  async function ready(cfg: C, opts: TaskCliOptions): Promise<void> {
    adapter.setUp(cfg, opts.out);
    await initBackend(opts.backend);
  }

  /** After training: the evaluation suite, the report, a summary line and (--json) one JSON line. */
  async function finishRun(cfg: C, run: RunDir, opts: TaskCliOptions, model: EncoderDecoder, label: string): Promise<number> {
    const ev = await evalRun(cfg, model, run.dir, opts.out);
    await writeRunReport(run);
    model.dispose();
    logLine(adapter.summaryLine(label, ev));
    if (opts.json) process.stdout.write(`${JSON.stringify({ run: run.dir, ...adapter.jsonStats(ev) })}\n`);
    return 0;
  }

  /**
   * The config a run from checkpoint `file` starts from, before --seed, --data and --set: --preset's when given;
   * for a checkpoint shipped with the package, its preset's, as the demo takes it (its stored config is that of the
   * code that trained it: an older tune section, say); else the config stored in the checkpoint.
   */
  function runConfigFrom(file: string, opts: TaskCliOptions): C {
    if (opts.preset !== undefined) return newRunConfig(opts);
    const shippedAs = Object.keys(adapter.spec.presets).find((p) => path.resolve(adapter.shippedCheckpoint(p)) === path.resolve(file));
    return shippedAs === undefined ? newRunConfig(opts, checkpointConfig(file)) : newRunConfig({ ...opts, preset: shippedAs });
  }

  /** The MLE checkpoint of `tune` and `noise` (`--from`, required) and their config (runConfigFrom); data checked, backend chosen. */
  async function fromMleCheckpoint(opts: TaskCliOptions, command: string): Promise<{ file: string; cfg: C }> {
    if (opts.from === undefined) throw new UsageError(`${command} needs --from <MLE run directory or checkpoint>`);
    const file = resolveCheckpoint(opts.from);
    const cfg = runConfigFrom(file, opts);
    await ready(cfg, opts);
    return { file, cfg };
  }

  /** The MLE checkpoint a tuning run started from, as tuneRun recorded it in the run directory. */
  function tunedFrom(dir: string): string {
    const where = path.join(dir, TUNED_FROM);
    if (!existsSync(where)) throw new UsageError(`--from ${dir}: not a tuning run (no ${TUNED_FROM})`);
    const recorded = (JSON.parse(readFileSync(where, 'utf8')) as { checkpoint?: unknown }).checkpoint;
    if (typeof recorded !== 'string') throw new UsageError(`${where}: checkpoint: expected the MLE checkpoint's path`);
    if (!existsSync(recorded)) throw new UsageError(`${where}: checkpoint: the MLE checkpoint ${recorded} is gone`);
    return recorded;
  }

  async function tuneCommand(args: readonly string[]): Promise<number> {
    const opts = parseCommand(args, { extra: resumeOption });
    if (!opts) return 0;
    if (opts.extra.resume) {
      const dir = resumedDir(opts);
      const mleFrom = tunedFrom(dir); // before the run is reopened (which rewrites its config.json)
      const { cfg, run } = await reopenRun(opts, dir);
      return finishRun(cfg, run, opts, await tuneRun(cfg, run, opts.out, mleFrom), 'tuned');
    }
    const { file, cfg } = await fromMleCheckpoint(opts, 'tune');
    const run = openRun(opts, cfg);
    return finishRun(cfg, run, opts, await tuneRun(cfg, run, opts.out, file), 'tuned');
  }

  async function evalCommand(args: readonly string[]): Promise<number> {
    const opts = parseCommand(args);
    if (!opts) return 0;
    if (opts.from === undefined) throw new UsageError('eval needs --from <run directory or checkpoint>');
    const from = resolveCheckpoint(opts.from);
    const cfg = runConfigFrom(from, { ...opts, preset: undefined });
    await ready(cfg, opts);
    const { model, file } = loadModel(cfg, opts.out, from);
    const dir = evalDirOf(file, opts.out, tool);
    const ev = await evalRun(cfg, model, dir, opts.out);
    model.dispose();
    logLine(adapter.summaryLine(path.basename(dir), ev));
    logLine(`wrote ${path.join(dir, 'eval')}`);
    if (opts.json) process.stdout.write(`${JSON.stringify({ checkpoint: file, ...adapter.jsonStats(ev) })}\n`);
    return 0;
  }

  /**
   * `noise --from <checkpoint>`: the gradient noise scale of tuning from those weights (gradient-noise.ts), on
   * `--batches` batches of the tune section's stream (its batch size, samples, estimator and frozen parameters):
   * whether the tune batch is anywhere near the batch that makes an update more signal than noise. Writes nothing.
   */
  async function noiseCommand(args: readonly string[]): Promise<number> {
    const opts = parseCommand(args, { extra: { batches: { type: 'string', description: 'independent batches to compare (default 8, at least 3)' } } });
    if (!opts) return 0;
    const raw = String(opts.extra.batches ?? '8');
    const batches = Number(raw);
    if (!/^\d+$/.test(raw) || batches < 3) throw new UsageError(`--batches must be an integer ≥ 3, got '${raw}'`);
    const { file, cfg } = await fromMleCheckpoint(opts, 'noise');
    const setup = adapter.setUp(cfg, opts.out);
    const { model } = loadModel(cfg, opts.out, file);
    const inputs = setup.tune();
    const policy = setup.prepareTuning?.(model) ?? model;
    const bar = new Progress({ label: 'policy gradients', total: batches, every: 1 }); // each batch is long: a line per batch in logs
    let result: GradientNoise;
    try {
      result = await measureGradientNoise({
        policy,
        task: setup.task,
        train: inputs.train,
        rng: Rng.fromSeed(cfg.seed + 3),
        config: { ...inputs.config, batches, lrMults: inputs.optimizer.lrMults },
        progress: (done) => bar.update(done),
      });
    } finally {
      bar.finish();
      model.dispose();
    }
    const f = (x: number | null): string => (x === null ? '∞' : x.toFixed(0));
    logLine(
      `${tool} noise: ${result.rowsPerBatch} rows per update (${inputs.config.estimator ?? 'paper'}), ${result.parameters.toLocaleString('en')} trainable parameters; ` +
        `signal share |G|²/E|g|² ${result.signalShare.toFixed(4)}; noise scale ${f(result.noiseScale)} rows ` +
        `(|G|² ± 2 s.e.: ${f(result.noiseScaleRange[0])}–${f(result.noiseScaleRange[1])})`,
    );
    if (opts.json) process.stdout.write(`${JSON.stringify({ checkpoint: file, ...result })}\n`);
    return 0;
  }

  /** A demo's two runs and where its MLE model comes from, fresh (demo) or reopened (demo --resume). */
  interface DemoPlan {
    readonly cfg: C;
    readonly preset: string;
    /** The --out root of the demo's runs and data. */
    readonly out: string;
    readonly mleRun: RunDir;
    /** The MLE model: a checkpoint (the shipped one) or pretraining into mleRun. */
    readonly mle: string | 'pretrain';
    /** Opens the tuning run (reopens it when an earlier leg of the demo made it). */
    tunedRun(): RunDir;
  }

  async function newDemo(opts: TaskCliOptions): Promise<DemoPlan> {
    const preset = opts.preset ?? adapter.spec.defaultPreset ?? 'tiny';
    const cfg = newRunConfig({ ...opts, preset });
    await ready(cfg, opts);
    const name = opts.name ?? defaultRunName(new Date());
    // The shipped checkpoint when it fits this config (checked before any run directory is made), else pretraining.
    const shipped = adapter.shippedCheckpoint(preset);
    const useShipped = !opts.extra['from-scratch'] && existsSync(shipped);
    if (useShipped) {
      // Only the model and data sections matter here: the loops' sections are dropped (they change as the code does).
      const { value, source } = checkpointConfig(shipped);
      const shippedCfg = newRunConfig({ ...opts, preset: undefined, sets: [] }, { value: withoutLoopSections(value), source });
      if (adapter.modelKey(shippedCfg) !== adapter.modelKey(cfg)) {
        throw new UsageError(`${shipped} was trained with another model/data config than this run's; use --from-scratch`);
      }
      logLine(`${tool} demo: MLE model from the shipped checkpoint ${shipped}`);
    } else if (!opts.extra['from-scratch']) {
      logLine(`${tool} demo: no shipped MLE checkpoint for preset '${preset}'; pretraining it here (${adapter.setUp(cfg, opts.out).mle().config.steps} steps)`);
    }
    const mleRun = openRun(opts, cfg, `${name}-mle`);
    const record: DemoRecord = { preset, mle: useShipped ? path.resolve(shipped) : 'pretrain' };
    mleRun.writeFile(DEMO_RECORD, `${JSON.stringify(record, null, 2)}\n`);
    return { cfg, preset, out: opts.out, mleRun, mle: record.mle, tunedRun: () => openRun(opts, cfg, `${name}-tuned`) };
  }

  /** `demo --resume --from <name>-mle | <name>-tuned`: the demo's runs reopened, with their saved config (then --set). */
  async function resumedDemo(opts: TaskCliOptions): Promise<DemoPlan> {
    if (opts.extra['from-scratch']) throw new UsageError('--resume continues a demo as it began; drop --from-scratch');
    const from = resumedDir(opts);
    const base = /^(.+)-(mle|tuned)$/.exec(path.basename(from))?.[1];
    const mleDir = path.join(path.dirname(from), `${base}-mle`);
    const recordPath = path.join(mleDir, DEMO_RECORD);
    if (base === undefined || !existsSync(recordPath)) throw new UsageError(`--from ${opts.from}: not a demo run (no ${path.join(`<name>-mle`, DEMO_RECORD)} beside it)`);
    const record = readDemoRecord(recordPath);
    if (record.mle !== 'pretrain' && !existsSync(record.mle)) throw new UsageError(`${recordPath}: mle: the MLE checkpoint ${record.mle} is gone`);
    // The runs and the data of a demo share one --out root: <out>/<tool>/<name>-mle.
    const out = path.dirname(path.dirname(mleDir));
    const { cfg, run: mleRun } = await reopenRun({ ...opts, out }, mleDir);
    const tunedName = `${base}-tuned`;
    const made = existsSync(path.join(out, tool, tunedName, 'config.json'));
    return {
      cfg,
      preset: record.preset,
      out,
      mleRun,
      mle: record.mle,
      tunedRun: () => orUsageError(openRunDir({ root: out, task: tool, name: tunedName, config: cfg, resume: made })),
    };
  }

  async function demoCommand(args: readonly string[]): Promise<number> {
    const opts = parseCommand(args, {
      extra: {
        'from-scratch': { type: 'boolean', description: 'pretrain the MLE model here instead of taking the shipped checkpoint' },
        resume: { type: 'boolean', description: 'continue the demo whose -mle or -tuned run --from gives (an interrupted one, say)' },
      },
    });
    if (!opts) return 0;
    const t0 = Date.now();
    const { cfg, preset, out, mleRun, mle: mleFrom, tunedRun: openTuned } = opts.extra.resume ? await resumedDemo(opts) : await newDemo(opts);
    // Ctrl-C in either stage: the whole demo is what goes on.
    const demoHint = (e: unknown): never => {
      if (e instanceof Interrupted) throw new Interrupted(`interrupted; a checkpoint was saved (continue with: ${tool} demo --resume --from ${mleRun.dir})`);
      throw e;
    };

    // 1. The MLE model (pretraining resumes from its latest checkpoint; a finished one only reloads).
    let mleCheckpoint = mleFrom;
    if (mleFrom === 'pretrain') {
      (await pretrainRun(cfg, mleRun, out).catch(demoHint)).dispose();
      await writeRunReport(mleRun);
      mleCheckpoint = resolveCheckpoint(mleRun.dir);
    }

    // 2. Reward tuning from it (likewise resumed).
    const tunedRun = openTuned();
    const tuned = await tuneRun(cfg, tunedRun, out, mleCheckpoint).catch(demoHint);
    await writeRunReport(tunedRun);

    // 3. Both through the same evaluation.
    const { model: mle } = loadModel(cfg, out, mleCheckpoint);
    const mleEv = await evalRun(cfg, mle, mleRun.dir, out);
    const tunedEv = await evalRun(cfg, tuned, tunedRun.dir, out);
    mle.dispose();
    tuned.dispose();

    const { table, page } = adapter.demoCompare({ preset, cfg, mle: { run: mleRun, ev: mleEv }, tuned: { run: tunedRun, ev: tunedEv } });
    const wall = (Date.now() - t0) / 1000;
    process.stderr.write(`\n${table}\n\nvalidation images: ${adapter.evaluatedImages(mleEv)}; wall time ${wall.toFixed(0)} s\nreport: ${page}\n`);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ preset, seed: cfg.seed, wall_s: wall, mle: adapter.jsonStats(mleEv), tuned: adapter.jsonStats(tunedEv) })}\n`);
    }
    return 0;
  }

  return { pretrainCommand, tuneCommand, evalCommand, demoCommand, noiseCommand, newRunConfig, runConfigFrom, openRun, pretrainRun, tuneRun, loadModel, evalRun };
}
