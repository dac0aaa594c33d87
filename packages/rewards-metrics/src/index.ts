// @reward-tune/rewards-metrics — task metrics and rewards in pure TypeScript (no tfjs).
export { colorfulness, type RgbImage } from './colorfulness';
export {
  imagePq,
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
