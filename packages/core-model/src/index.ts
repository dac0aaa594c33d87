// @reward-tune/core-model — the shared core every task stands on.
export { runCli, usage, notImplemented, UsageError, type CliSpec, type CommandHandler } from './cli';
export { scheduleMultiplier, type Schedule } from './schedules';
export { Rng, type RngState } from './rng';
export type { Params, SampleOptions, SampleResult, SequencePolicy } from './policy';
export type { Optimizer } from './optim/optimizer';
export {
  initBackend, registerGradients, matMul, flagFreeMatMul, readTensor, wasmDir, BackendUnavailableError, BACKEND_CHOICES,
  type BackendChoice, type BackendInfo,
} from './backend';
export { NEG, dense, layerNorm, geluTanh, multiHeadAttention, attend, causalBias, sincos2d, countParams, ParamInit } from './ops';
export { vitVariant, VIT_SIZES, VIT_PATCHES, type VitSize, type VitVariant } from './model/variants';
export { vitEncode, patchify, type VitConfig } from './model/vit';
export { decoderLogits, decoderStep, initKvCache, disposeKvCache, shiftRight, type DecoderConfig, type KvCache } from './model/decoder';
export { EncoderDecoder, modelConfig, initParams, type EncoderDecoderConfig, type ModelSpec } from './model/encoder-decoder';
export { sampleSequences, selectTokens, type Selection } from './sampler';
export {
  forcedTokens, suppressTokens, slotMask, prefixConstraint, tokenSet, allowedAt, sequenceBias,
  type LogitsProcessor, type ProcessorContext,
} from './logits-processors';
export { runBench, benchCommand, BENCH_CONFIGS, type BenchConfig, type BenchResult } from './bench-cli';
export { matMulT, sumRows, customOp } from './backend';
