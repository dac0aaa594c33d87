// @reward-tune/rewards-metrics — task metrics and rewards in pure TypeScript (no tfjs).
export { colorfulness, type RgbImage } from './colorfulness';
