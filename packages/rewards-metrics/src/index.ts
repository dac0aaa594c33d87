// @reward-tune/rewards-metrics — task metrics and rewards in pure TypeScript (no tfjs).
export { colorfulness, type RgbImage } from './colorfulness';
export { normalizeCaption, ptbTokens } from './caption-normalize';
export { CiderD, ciderD, type CiderDOptions, type CiderDCorpusResult, type PreparedRefs } from './cider';
export { bleu, type BleuResult } from './bleu';
export {
  COCO_TRAIN_CLASS_COUNTS,
  DEFAULT_IOU_THRESHOLDS,
  boxesFromObjects,
  classWeights,
  detectionReward,
  releasedThresholdWeights,
  type Boxes,
  type DetectionRewardOptions,
  type DetectionRewardResult,
} from './detection-reward';
