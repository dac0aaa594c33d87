// @reward-tune/rewards-metrics — task metrics and rewards in pure TypeScript (no tfjs).
export { colorfulness, type RgbImage } from './colorfulness';
export {
  imagePq,
  imagePqGain,
  imagePqGainMap,
  panopticImageStats,
  PqAccumulator,
  pqAverage,
  pqCompute,
  rgbToSegmentIds,
  VOID,
  type PanopticImage,
  type PanopticProblem,
  type PanopticSegment,
  type PqCategory,
  type PqClassScores,
  type PqCounts,
  type PqResult,
  type PqScores,
} from './panoptic-quality';
export {
  cocoEvaluate,
  npLinspace,
  CocoInputError,
  COCO_IOU_THRESHOLDS,
  COCO_RECALL_THRESHOLDS,
  COCO_AREA_RANGES,
  COCO_AREA_LABELS,
  COCO_MAX_DETS,
  type CocoGroundTruth,
  type CocoImage,
  type CocoCategory,
  type CocoAnnotation,
  type CocoDetection,
  type CocoEvalResult,
} from './coco-eval';
export { benchCoco, synthCoco, type BenchCocoResult, type SynthCocoOptions } from './bench/coco';
export { normalizeCaption, ptbTokens } from './caption-normalize';
export { CiderD, ciderD, type CiderDOptions, type CiderDCorpusResult, type PreparedRefs } from './cider';
export { bleu, type BleuResult } from './bleu';
export {
  COCO_TRAIN_CLASS_COUNTS,
  DEFAULT_IOU_THRESHOLDS,
  boxesFromObjects,
  classWeights,
  detectionReward,
  detectionRewardValue,
  overlapsOwnClass,
  releasedThresholdWeights,
  type Boxes,
  type DetectionRewardOptions,
  type DetectionRewardResult,
} from './detection-reward';
export { benchCaption, generateCaptionCorpus, type BenchCaptionResult, type CaptionCorpus } from './bench/caption';
export { benchRewards, type RewardTimings } from './bench/rewards';
export { ciderDAndBleu } from './bleu';
// Colorization: colour spaces, the gray-diversity reward, the reward combiner, PSNR and the colour Fréchet proxy.
export {
  BT601,
  D65_WHITE,
  SRGB_TO_XYZ,
  XYZ_TO_SRGB,
  labPixels,
  labToSrgb,
  labToXyz,
  linearRgbToXyz,
  linearToSrgb,
  rgbToYcbcr,
  srgbToLab,
  srgbToLinear,
  unitValue,
  xyzToLab,
  xyzToLinearRgb,
  ycbcrToRgb,
  type PixelRange,
  type Triple,
} from './colour-space';
export {
  GRAY_DIVERSITY_DEFAULTS,
  chromaHistogram,
  grayDiversity,
  greyFraction,
  hueBin,
  normalisedEntropy,
  type ChromaOptions,
  type GrayDiversityOptions,
  type GrayDiversityResult,
} from './gray-diversity';
export {
  COLOUR_REWARDS,
  colorfulnessSigned,
  colourReward,
  colourTerm,
  type ColourRewardKind,
  type ColourRewardOptions,
} from './colour-reward';
export {
  PSNR_CAP_DB,
  TF_GRAYSCALE_WEIGHTS,
  lumaOf,
  lumaPsnr,
  meanOver,
  meanPsnr,
  psnr,
  psnrFromMse,
  type PsnrOptions,
} from './psnr';
export {
  COLOUR_STATS_DIM,
  COLOUR_STATS_HUE_BINS,
  colourFrechetDistance,
  colourStatistics,
  frechetDistance,
  gaussianOf,
  sqrtPsd,
  symmetricEigen,
  type ColourStatsOptions,
  type Gaussian,
} from './colour-frechet';
