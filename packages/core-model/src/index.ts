// @reward-tune/core-model — the shared core every task stands on.
export { runCli, usage, notImplemented, UsageError, type CliSpec, type CommandHandler } from './command-line';
export { scheduleMultiplier, type Schedule } from './schedules';
export { Rng, type RngState } from './rng';
export type { Params, RowScores, RowScoring, SampleOptions, SampleResult, SequencePolicy } from './model/policy';
export { scoreRows } from './model/policy';
export type { Optimizer } from './optim/optimizer';
export * from './data/shapes';
export { readBytes, readJson, readJsonAs, validate, fieldPath, zodProblem, orUsageError } from './input';
export {
  decodeImage,
  readImage,
  encodePng,
  resizeBilinear,
  resizeNearest,
  toUnitRange,
  fromUnitRange,
  toModelImage,
  loadModelImage,
  drawRect,
  type RgbImage,
  type ImageSize,
  type ModelImage,
  type Rgb,
} from './data/image';
export type { CocoImageRecord, Bbox } from './data/coco-common';
export {
  readCocoInstances,
  parseCocoInstances,
  type CocoBox,
  type CocoCategory,
  type CocoInstanceImage,
  type CocoInstances,
  type CocoInstancesOptions,
} from './data/coco-instances';
export { Batcher, type Batch, type BatcherOptions, type BatcherPosition, type Remainder } from './data/batcher';
export {
  resolveConfig,
  parseOverride,
  checkPath,
  setPath,
  type ConfigSpec,
  type ConfigRequest,
  type Override,
} from './config';
export {
  openRunDir,
  readRunConfig,
  readMetrics,
  defaultRunName,
  type RunDir,
  type RunDirOptions,
  type MetricRecord,
} from './run-dir';
export { Progress, formatDuration, type ProgressOptions, type ProgressStream } from './progress';
export type { ImageRef } from './data/coco-common';
export {
  readCocoCaptions,
  parseCocoCaptions,
  readKarpathySplit,
  parseKarpathySplit,
  KARPATHY_SPLITS,
  type KarpathySplit,
  type CaptionImage,
  type CaptionDataset,
  type CaptionOptions,
  type KarpathyOptions,
} from './data/coco-captions';
export {
  readCocoPanoptic,
  parseCocoPanoptic,
  rgbToSegmentId,
  type CocoPanoptic,
  type CocoPanopticOptions,
  type PanopticCategory,
  type PanopticImage,
  type PanopticSegment,
  type SegmentMap,
} from './data/coco-panoptic';
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
  createGroupMemory,
  GradientGroup,
  type GroupMemory,
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
  checkpointPath,
  listCheckpoints,
  latestCheckpoint,
  pruneCheckpoints,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type Checkpoint,
  type CheckpointInput,
  type OptimizerState,
  type Restored,
} from './checkpoint';
export {
  encodeSafetensors,
  decodeSafetensors,
  type HostTensor,
  type SafeDType,
  type SafetensorsContents,
} from './safetensors';
export {
  initBackend,
  checkBackendEnv,
  registerGradients,
  matMul,
  flagFreeMatMul,
  readTensor,
  wasmDir,
  BackendUnavailableError,
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendInfo,
} from './backend';
export {
  NEG,
  dense,
  layerNorm,
  geluTanh,
  multiHeadAttention,
  attend,
  causalBias,
  sincos2d,
  countParams,
  ParamInit,
  pickOneHot,
} from './model/ops';
export { vitVariant, VIT_SIZES, VIT_PATCHES, type VitSize, type VitVariant } from './model/variants';
export { vitEncode, patchify, type VitConfig } from './model/vit';
export {
  decoderFeatures,
  decoderHead,
  decoderLogits,
  decoderStep,
  initKvCache,
  disposeKvCache,
  shiftRight,
  type DecoderConfig,
  type KvCache,
} from './model/decoder';
export {
  EncoderDecoder,
  modelConfig,
  initParams,
  MODEL_DEFAULTS,
  type EncoderDecoderConfig,
  type ModelSpec,
} from './model/encoder-decoder';
export { sampleSequences, selectTokens, type Selection } from './model/sampler';
export {
  forcedTokens,
  suppressTokens,
  slotMask,
  prefixConstraint,
  tokenSet,
  allowedAt,
  sequenceBias,
  tokensTensor,
  tokensTensorValues,
  type LogitsProcessor,
  type ProcessorContext,
} from './model/logits-processors';
export { runBench, benchWorker, BENCH_CONFIGS, type BenchConfig, type BenchResult } from './bench';
export { runOracleBench, ORACLE_BENCH_CONFIGS, type OracleBenchConfig, type OracleBenchResult } from './bench-oracle';
export { benchCommand } from './bench-cli';
export { matMulT, sumRows, addMany, customOp, slicedMatMulCount, SLICED_MATMUL_MIN_WORK } from './backend';
export { fusedWasm, setWasmFused } from './backend';
export { nativeMatMulActive, nativeMatMulCount, NATIVE_MATMUL_MIN_WORK } from './backend';
export { writeAtomic, writeAtomicE, writeFileAtomic } from './fs-atomic';
export { probeWebgpu, webgpuAdapterInChild, classifyAdapter, type AdapterClass, type AdapterLike } from './backend';
export { modelSectionSchema, createModel, MODEL_PRESETS, type ModelSection } from './model/section';
export {
  runBenchWithReference,
  runReference,
  referenceArgs,
  referenceOptions,
  torchAvailable,
  withReference,
  TORCH_BENCH_SCRIPT,
  type BenchReport,
  type BenchRatio,
  type ReferenceOptions,
  type ReferenceResult,
} from './bench-reference';
export {
  initOracle,
  disposeOracle,
  oracleEncode,
  oracleEncodeTensors,
  oracleDecode,
  oracleLoss,
  reconstructionLoss,
  oracleTrainStep,
  codeDropoutMask,
  type OracleModel,
  type OracleLabels,
  type OracleBatch,
  type EncodedTensors,
  type Encoded,
  type CodeInput,
  type DecodeOptions,
  type ForwardOptions,
  type OracleLossResult,
  type OracleTrainOptions,
  type OracleStepResult,
} from './model/oracle/oracle';
export {
  oracleConfigSchema,
  oracleOutputSchema,
  oracleOverridesSchema,
  ORACLE_PRESET_NAMES,
  validateOracleConfig,
  oracleConfig,
  oraclePreset,
  oracleGrid,
  oracleTokens,
  codeSide,
  checkStageTwoVocab,
  ORACLE_PRESETS,
  type OracleConfig,
  type OracleConfigInput,
  type OracleOutput,
  type OracleOutputInput,
  type OraclePreset,
  type OracleOverrides,
} from './model/oracle/config';
export {
  initOracleState,
  codewords,
  codewordsTensor,
  codeHistogram,
  emaUpdate,
  splitDeadCodes,
  codebookHealth,
  oracleStateTensors,
  oracleStateFromHost,
  STATE_DICTIONARY,
  STATE_COUNTS,
  SPLIT_PERTURB,
  type OracleState,
  type EmaOptions,
  type EmaResult,
  type CodebookHealth,
} from './model/oracle/dictionary';
export {
  stageTwoTargets,
  stageTwoCodes,
  decodeStageTwo,
  stageTwoProcessors,
  type FrozenOracle,
} from './model/oracle/stage-two';
export {
  ORACLE_CONFIG_KEY,
  oracleMetadata,
  oracleCheckpointTensors,
  saveOracle,
  loadOracle,
  oracleContentHash,
  checkpointOracleConfig,
  type LoadedOracle,
  type SaveOracleOptions,
} from './model/oracle/checkpoint';
export {
  quantize,
  straightThrough,
  standardize,
  nearestCodes,
  selectCodewords,
  type Quantised,
} from './model/oracle/quantize';
export {
  linearResizeWeights,
  gridResizeMatrix,
  mixTokens,
  bottleneckDown,
  bottleneckUp,
  codeAxisWeights,
} from './model/oracle/bottleneck';
