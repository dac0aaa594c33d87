// @reward-tune/reinforce — MLE pretraining and reward tuning loops over the task contract.
export { paperAdvantages, rlooAdvantages } from './advantages';
export { imagesTensor, batchSize, type Task, type RewardResult, type RewardWants, type TokenValues, type Batch, type BatchSource, type ImageBatch } from './task';
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
export {
  tune,
  estimatorRows,
  normalizeAdvantages,
  reinforceLoss,
  sampleRewardDistribution,
  type Estimator,
  type TuneConfig,
  type TuneOptions,
  type TuneResult,
  type GradientRows,
  type ReinforceLossInput,
} from './tune';
export {
  measureGradientNoise,
  noiseStatistics,
  type GradientNoise,
  type GradientNoiseConfig,
  type GradientNoiseOptions,
} from './gradient-noise';
export { trainMle, heldOutLoss, type EarlyStop, type MleConfig, type MleOptions, type MleResult } from './mle';
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
  resolveCheckpoint,
  loadWeights,
  checkpointConfig,
  runOfCheckpoint,
  evalDirOf,
  writeRunReport,
  parseCommand,
  loadCounter,
  logLine,
  Interrupted,
  TUNED_FROM,
  DEMO_RECORD,
  type TaskAdapter,
  type TaskSetup,
  type TaskRunner,
  type LoopInputs,
  type DemoResults,
} from './runner';
export { loadImageTable, batchOf, randomBatches, sequentialBatches, type ImageTable } from './batches';
export { mleSectionSchema, tuneSectionFields, enoughSamples, TUNE_OPTIMIZER, evalSectionSchema, evalSectionObject } from './config-sections';
