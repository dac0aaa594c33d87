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
