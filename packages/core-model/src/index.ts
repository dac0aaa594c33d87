// @reward-tune/core-model — the shared core every task stands on.
export { runCli, usage, notImplemented, UsageError, type CliSpec, type CommandHandler } from './cli';
export { scheduleMultiplier, type Schedule } from './schedules';
export { Rng, type RngState } from './rng';
export type { Params, SampleOptions, SampleResult, SequencePolicy } from './policy';
export type { Optimizer } from './optim/optimizer';
export {
  createOptimizer,
  optimizerConfigSchema,
  Adafactor,
  AdamW,
  factoredDims,
  globalNorm,
  globalNormClipFactor,
  clipByBlockRms,
  planParams,
  multiplierFor,
  DEFAULT_WD_MULTS,
  type OptimizerConfig,
  type AdafactorOptions,
  type AdamOptions,
  type ChainConfig,
  type PatternMults,
  type ParamPlan,
} from './optim/index';
export {
  saveCheckpoint,
  loadCheckpoint,
  restoreInto,
  writeFileAtomic,
  checkpointPath,
  listCheckpoints,
  latestCheckpoint,
  pruneCheckpoints,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type Checkpoint,
  type CheckpointInput,
  type Restored,
} from './checkpoint';
export { encodeSafetensors, decodeSafetensors, type HostTensor, type SafeDType, type SafetensorsContents } from './safetensors';
