// @reward-tune/reinforce — MLE pretraining and reward tuning loops over the task contract.
export { paperAdvantages, rlooAdvantages, rewardToGoAdvantages, normalizeAdvantages } from './advantages';
export {
  ESTIMATORS,
  ESTIMATOR_SPECS,
  estimatorRows,
  estimatorsFor,
  samplesProblem,
  normalizeProblem,
  rewardProblem,
  type Estimator,
  type EstimatorSpec,
  type GradientRows,
  type RewardGives,
  type RolloutNeeds,
  type ScoredRewards,
} from './estimators';
export {
  imagesTensor,
  batchSize,
  type Task,
  type RewardResult,
  type RewardWants,
  type TokenValues,
  type Batch,
  type BatchSource,
  type ImageBatch,
} from './task';
export {
  selectTokenLogProbs,
  expectedValueLoss,
  weightedSoftmaxXent,
  policyGradientLoss,
  klPenalty,
  type XentOptions,
  type PgReduction,
} from './losses';
export {
  MemoryCheckpointer,
  copyState,
  disposeState,
  captureState,
  restoreState,
  gradientStep,
  evaluateGreedy,
  isDue,
  type Phase,
  type TrainState,
  type Checkpointer,
  type MetricsRecord,
  type MetricsSink,
  type Progress,
  type ProgressInfo,
  type LoopIo,
  type GradStep,
  type HeldOutEval,
} from './loop';
export { tune, type TuneOptions, type TuneResult } from './tune';
export { sampleAndReward, sampleRewardDistribution, type ScoredSamples } from './rollout';
export {
  reinforceLoss,
  update,
  updateInputs,
  type ReinforceLossInput,
  type UpdateInputs,
  type UpdateContext,
} from './update';
export {
  measureGradientNoise,
  noiseStatistics,
  type GradientNoise,
  type GradientNoiseConfig,
  type GradientNoiseOptions,
} from './gradient-noise';
export { trainMle, heldOutLoss, type EarlyStop, type MleOptions, type MleResult } from './mle';
export {
  renderReport,
  writeReport,
  parseMetricsJsonl,
  lineChartSvg,
  histogramSvg,
  niceTicks,
  quantile,
  topPercent,
  escapeXml,
  type Series,
  type HistogramSet,
  type RenderedReport,
} from './report';
export { fileCheckpointer, jsonlMetrics, progressTo } from './run-io';
export { interruptRequested, interruptDetail } from './loop';
export { interruptOnSigint, SIGINT_NOTICE, type SigintInterruption, type SigintOptions } from './run-io';
export {
  taskRunner,
  shippedCheckpoints,
  parseCommand,
  parseTaskArgs,
  taskOptionsHelp,
  loadCounter,
  logLine,
  checkpointConfig,
  evalDirOf,
  loadWeights,
  moveKeys,
  resolveCheckpoint,
  runOfCheckpoint,
  writeRunReport,
  Interrupted,
  TUNED_FROM,
  DEMO_RECORD,
  type TaskAdapter,
  type TaskSetup,
  type TaskRunner,
  type RunnerConfig,
  type DemoResults,
  type Split,
  type SavedConfig,
  type ExtraOption,
  type TaskCliOptions,
  type TaskCliSpec,
} from './runner';
export { loadImageTable, batchOf, randomBatches, sequentialBatches, type ImageTable } from './batches';
export {
  mleSectionSchema,
  tuneSectionSchema,
  TUNE_OPTIMIZER,
  evalSectionSchema,
  evalSectionObject,
  type MleSection,
  type TuneSection,
  type EvalSection,
  type MleConfig,
  type TuneConfig,
} from './config-sections';
