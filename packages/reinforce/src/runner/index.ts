/**
 * The task runner: the task-independent half of every task CLI (`task-<name> pretrain | tune | eval | demo |
 * noise`, and `pretrain-oracle` for UViM tasks). A task package gives a `TaskAdapter` (adapter.ts: its config, and
 * for a config its task, model, images and evaluation suite) and gets the commands. One file per job:
 *
 *   flags.ts       the flags every command shares, and a command's own
 *   run-config.ts  the config of a run: a preset, a run directory's config.json, or a checkpoint's
 *   training.ts    the steps: set-up, run directories, the loops wired to them, evaluation, reports
 *   commands.ts    pretrain-oracle, pretrain, tune, eval, noise, sampler
 *   demo.ts        demo: MLE → tuning → both evaluated → the comparison
 *   pool.ts        pool: the reward of the random, most likely and best of N samples (best-of-N analysis)
 *   oracle.ts      UViM: stage I's config, stage II's frozen oracle and the guards that keep the pair together
 *
 * Every run lives in `<out>/<tool>/<name>/` (config.json, metrics.jsonl, checkpoints/, eval/, report.html).
 */
import type { RunnerConfig, TaskAdapter } from './adapter';
import {
  evalCommand,
  noiseCommand,
  pretrainCommand,
  pretrainOracleCommand,
  samplerCommand,
  tuneCommand,
} from './commands';
import { demoCommand } from './demo';
import type { TaskCliOptions } from './flags';
import { poolCommand } from './pool';
import { newRunConfig, runConfigFrom, type SavedConfig } from './run-config';
import type { TuneLoop } from './training';

export interface TaskRunner<C> {
  /** UViM tasks (TaskAdapter.oracle): stage I, the oracle; a UsageError for other tasks. */
  pretrainOracleCommand(args: readonly string[]): Promise<number>;
  pretrainCommand(args: readonly string[]): Promise<number>;
  tuneCommand(args: readonly string[]): Promise<number>;
  /** `tune` with another loop (e.g. @reward-tune/distributed's learner for `tune --actors`). */
  tuneCommandWith(args: readonly string[], loop: TuneLoop): Promise<number>;
  evalCommand(args: readonly string[]): Promise<number>;
  demoCommand(args: readonly string[]): Promise<number>;
  noiseCommand(args: readonly string[]): Promise<number>;
  /** Best-of-N: the mean reward of a random, the most likely and the best of N samples per image, and greedy's. */
  poolCommand(args: readonly string[]): Promise<number>;
  /** The second process of `tune.sampler.kind=process`, which `tune` starts (a task CLI's `sampler` command). */
  samplerCommand(args: readonly string[]): Promise<number>;
  /** The config of a new run: a preset (or `saved`, e.g. a checkpoint's config) plus --seed, --data and --set. */
  newRunConfig(opts: TaskCliOptions, saved?: SavedConfig): C;
  /**
   * The config of a run from a checkpoint (tune, noise, eval): --preset's, a shipped checkpoint's preset's, or its
   * own; then --seed, --data, --set.
   */
  runConfigFrom(file: string, opts: TaskCliOptions): C;
}

/** The five commands of one task. */
export function taskRunner<C extends RunnerConfig, E, P, A, Ev>(adapter: TaskAdapter<C, E, P, A, Ev>): TaskRunner<C> {
  return {
    pretrainOracleCommand: (args) => pretrainOracleCommand(adapter, args),
    pretrainCommand: (args) => pretrainCommand(adapter, args),
    tuneCommand: (args) => tuneCommand(adapter, args),
    tuneCommandWith: (args, loop) => tuneCommand(adapter, args, loop),
    evalCommand: (args) => evalCommand(adapter, args),
    demoCommand: (args) => demoCommand(adapter, args),
    noiseCommand: (args) => noiseCommand(adapter, args),
    poolCommand: (args) => poolCommand(adapter, args),
    samplerCommand: (args) => samplerCommand(adapter, args),
    newRunConfig: (opts, saved) => newRunConfig(adapter, opts, saved),
    runConfigFrom: (file, opts) => runConfigFrom(adapter, file, opts),
  };
}

export {
  shippedCheckpoints,
  type OracleHooks,
  type DemoResults,
  type RunnerConfig,
  type Split,
  type TaskAdapter,
  type TaskSetup,
} from './adapter';
export {
  parseCommand,
  parseTaskArgs,
  taskOptionsHelp,
  type ExtraOption,
  type TaskCliOptions,
  type TaskCliSpec,
} from './flags';
export { loadCounter, logLine } from './log';
export {
  checkpointConfig,
  evalDirOf,
  loadWeights,
  moveKeys,
  resolveCheckpoint,
  runOfCheckpoint,
  type SavedConfig,
} from './run-config';
export { Interrupted, TUNED_FROM, writeRunReport, type TuneLoop, type TuneLoopContext } from './training';
export { DEMO_RECORD } from './demo';
export {
  DEFAULT_POOL_SIZES,
  parsePoolSizes,
  poolChartSvg,
  poolCurves,
  samplePool,
  type PoolCurves,
  type PoolSamples,
} from './pool';
export { ORACLE_RECORD, ORACLE_METADATA_KEY, loadFrozenOracle, oracleConfigOf, type OracleRef } from './oracle';
