/**
 * The training commands of every task CLI: `pretrain-oracle` (UViM tasks: stage I), `pretrain` (MLE, or --resume of
 * an MLE run), `tune` (from an MLE run or checkpoint, or --resume of a tuning run), `eval` (a run's or a checkpoint's
 * weights through the evaluation suite), `noise` (the gradient noise scale of tuning from a checkpoint) and `sampler`
 * (the second process of `tune.sampler.kind=process`, which `tune` starts). Each parses its flags, resolves its config
 * (run-config.ts), checks the data before making any run directory, and runs its steps (training.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { initBackend, openRunDir, orUsageError, Progress, Rng, UsageError, type RunDir } from '@reward-tune/core-model';
import { randomBatches } from '../batches';
import { measureGradientNoise, type GradientNoise } from '../gradient-noise';
import { serveSampler } from '../sampler-process';
import type { RunnerConfig } from './adapter';
import { parseCommand, type TaskCliOptions } from './flags';
import { logLine } from './log';
import { checkStageTwoCheckpoint, oracleHooks } from './oracle';
import { evalDirOf, newRunConfig, resolveCheckpoint, runConfigFrom, savedRunConfig } from './run-config';
import {
  checkTuneLoop,
  evalRun,
  finishRun,
  loadModel,
  openRun,
  pretrainOracleRun,
  pretrainRun,
  ready,
  setUpOnce,
  TUNED_FROM,
  tuneRun,
  writeRunReport,
  type AnyAdapter,
  type TuneLoop,
} from './training';

const resumeOption = { resume: { type: 'boolean', description: 'continue the run given by --from' } } as const;

/** The run directory `--resume` continues (`--from`, required). */
export function resumedDir(opts: TaskCliOptions): string {
  if (opts.from === undefined) throw new UsageError('--resume needs --from <run directory>');
  return path.resolve(opts.from);
}

/** `--resume --from <run dir>`: the run's saved config (then --seed, --data, --set), data checked, run reopened. */
export async function reopenRun<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  opts: TaskCliOptions,
  dir = resumedDir(opts),
  stage: 'I' | 'II' = 'II',
): Promise<{ cfg: C; run: RunDir }> {
  const cfg = savedRunConfig(adapter, dir, opts);
  await ready(adapter, cfg, opts, stage);
  const run = orUsageError(
    openRunDir({
      root: path.dirname(path.dirname(dir)),
      task: adapter.tool,
      name: path.basename(dir),
      config: cfg,
      resume: true,
    }),
  );
  return { cfg, run };
}

export async function pretrainCommand<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  args: readonly string[],
): Promise<number> {
  const opts = parseCommand(args, { extra: resumeOption });
  if (!opts) return 0;
  let cfg: C;
  let run: RunDir;
  if (opts.extra.resume) {
    ({ cfg, run } = await reopenRun(adapter, opts));
  } else {
    cfg = newRunConfig(adapter, opts);
    await ready(adapter, cfg, opts);
    run = openRun(adapter, opts, cfg);
  }
  return finishRun(adapter, cfg, run, opts, await pretrainRun(adapter, cfg, run, opts.out), 'MLE');
}

/**
 * `pretrain-oracle` (UViM tasks): stage I, the oracle, into a run of its own (or --resume of one); its checkpoints
 * are stage I checkpoints, for stage II's `--set oracle.checkpoint=<run or checkpoint>`. Ends with the held-out
 * reconstruction loss and codebook use on stderr and, with --json, one line {run, checkpoint, loss, ...metrics}.
 */
export async function pretrainOracleCommand<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  args: readonly string[],
): Promise<number> {
  const opts = parseCommand(args, { extra: resumeOption });
  if (!opts) return 0;
  oracleHooks(adapter);
  let cfg: C;
  let run: RunDir;
  if (opts.extra.resume) {
    ({ cfg, run } = await reopenRun(adapter, opts, resumedDir(opts), 'I'));
  } else {
    cfg = newRunConfig(adapter, opts);
    await ready(adapter, cfg, opts, 'I');
    run = openRun(adapter, opts, cfg);
  }
  const r = await pretrainOracleRun(adapter, cfg, run, opts.out);
  await writeRunReport(run);
  const m = r.eval.metrics;
  logLine(
    `stage I: held-out loss ${r.eval.loss.toFixed(4)}, code perplexity ${m.perplexity.toFixed(1)} of ${r.config.dictSize}, ` +
      `${(100 * m.unusedFraction).toFixed(1)}% of the codes unused, largest share ${(100 * m.maxShare).toFixed(1)}%`,
  );
  logLine(`stage I checkpoint ${r.checkpoint} (stage II: --set oracle.checkpoint=${run.dir})`);
  if (opts.json)
    process.stdout.write(`${JSON.stringify({ run: run.dir, checkpoint: r.checkpoint, loss: r.eval.loss, ...m })}\n`);
  return 0;
}

/**
 * The MLE checkpoint of `tune` and `noise` (`--from`, required) and their config (runConfigFrom); data checked,
 * backend chosen.
 */
async function fromMleCheckpoint<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  opts: TaskCliOptions,
  command: string,
): Promise<{ file: string; cfg: C }> {
  if (opts.from === undefined) throw new UsageError(`${command} needs --from <MLE run directory or checkpoint>`);
  const file = resolveCheckpoint(opts.from);
  const cfg = runConfigFrom(adapter, file, opts);
  await ready(adapter, cfg, opts);
  checkStageTwoCheckpoint(adapter, cfg, file); // before tune makes its run directory
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

export async function tuneCommand<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  args: readonly string[],
  loop?: TuneLoop,
): Promise<number> {
  const opts = parseCommand(args, { extra: resumeOption });
  if (!opts) return 0;
  if (opts.extra.resume) {
    const dir = resumedDir(opts);
    const mleFrom = tunedFrom(dir); // before the run is reopened (which rewrites its config.json)
    const { cfg, run } = await reopenRun(adapter, opts, dir);
    return finishRun(adapter, cfg, run, opts, await tuneRun(adapter, cfg, run, opts.out, mleFrom, loop), 'tuned');
  }
  const { file, cfg } = await fromMleCheckpoint(adapter, opts, 'tune');
  checkTuneLoop(cfg, loop); // before the run directory is made
  const run = openRun(adapter, opts, cfg);
  return finishRun(adapter, cfg, run, opts, await tuneRun(adapter, cfg, run, opts.out, file, loop), 'tuned');
}

export async function evalCommand<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  args: readonly string[],
): Promise<number> {
  const opts = parseCommand(args);
  if (!opts) return 0;
  if (opts.from === undefined) throw new UsageError('eval needs --from <run directory or checkpoint>');
  const from = resolveCheckpoint(opts.from);
  const cfg = runConfigFrom(adapter, from, opts);
  await ready(adapter, cfg, opts);
  const { model, file } = loadModel(adapter, cfg, opts.out, from);
  const dir = evalDirOf(file, opts.out, adapter.tool, cfg.eval.split);
  const ev = await evalRun(adapter, cfg, model, dir, opts.out);
  model.dispose();
  logLine(`${adapter.summaryLine(path.basename(dir), ev)} (${cfg.eval.split} split)`);
  logLine(`wrote ${path.join(dir, 'eval')}`);
  if (opts.json)
    process.stdout.write(`${JSON.stringify({ checkpoint: file, split: cfg.eval.split, ...adapter.jsonStats(ev) })}\n`);
  return 0;
}

/**
 * `noise --from <checkpoint>`: the gradient noise scale of tuning from those weights (gradient-noise.ts), on
 * `--batches` batches of the tune section's stream (its batch size, samples, estimator and frozen parameters):
 * whether the tune batch is anywhere near the batch that makes an update more signal than noise. Writes nothing.
 */
export async function noiseCommand<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  args: readonly string[],
): Promise<number> {
  const opts = parseCommand(args, {
    extra: { batches: { type: 'string', description: 'independent batches to compare (default 8, at least 3)' } },
  });
  if (!opts) return 0;
  const raw = String(opts.extra.batches ?? '8');
  const batches = Number(raw);
  if (!/^\d+$/.test(raw) || batches < 3) throw new UsageError(`--batches must be an integer ≥ 3, got '${raw}'`);
  const { file, cfg } = await fromMleCheckpoint(adapter, opts, 'noise');
  const setup = setUpOnce(adapter, cfg, opts.out);
  const { model } = loadModel(adapter, cfg, opts.out, file);
  const train = randomBatches(setup.images('train', 0), cfg.tune.batchSize);
  const policy = setup.prepareTuning?.(model) ?? model;
  const bar = new Progress({ label: 'policy gradients', total: batches, every: 1 }); // each batch is long: a line per batch in logs
  let result: GradientNoise;
  try {
    result = await measureGradientNoise({
      policy,
      task: setup.task,
      train,
      rng: Rng.fromSeed(cfg.seed + 3),
      config: { ...cfg.tune, batches, lrMults: cfg.tune.optimizer.lrMults },
      progress: (done) => bar.update(done),
    });
  } finally {
    bar.finish();
    model.dispose();
  }
  const f = (x: number | null): string => (x === null ? '∞' : x.toFixed(0));
  logLine(
    `${adapter.tool} noise: ${result.rowsPerBatch} rows per update (${cfg.tune.estimator}), ${result.parameters.toLocaleString('en')} trainable parameters; ` +
      `signal share |G|²/E|g|² ${result.signalShare.toFixed(4)}; noise scale ${f(result.noiseScale)} rows ` +
      `(|G|² ± 2 s.e.: ${f(result.noiseScaleRange[0])}–${f(result.noiseScaleRange[1])})`,
  );
  if (opts.json) process.stdout.write(`${JSON.stringify({ checkpoint: file, ...result })}\n`);
  return 0;
}

/**
 * `sampler --backend <b>`: the second process of `tune.sampler.kind=process` (sampler-process.ts). `tune` starts it
 * with an IPC channel and sends it the run's config; it sets the task up as `tune` does (the same `train` split, a
 * policy of the same shape) and samples the jobs it is sent. Started by hand (no channel) it is a usage error.
 */
export async function samplerCommand<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  args: readonly string[],
): Promise<number> {
  const opts = parseCommand(args);
  if (!opts) return 0;
  return serveSampler(async (config, out) => {
    await initBackend(opts.backend, { quiet: true });
    const cfg = config as C;
    const setup = setUpOnce(adapter, cfg, out);
    const model = setup.buildModel(cfg.seed);
    return { task: setup.task, table: setup.images('train', 0), policy: setup.prepareTuning?.(model) ?? model };
  });
}
