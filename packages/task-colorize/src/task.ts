/**
 * The colorization task on reinforce's contract, over a frozen stage I oracle (given lazily: `pretrain-oracle` sets
 * the task up before any oracle exists). Stage II's targets are the oracle's code + 1 of the colour image with the
 * grey image as context; a prediction is the oracle's decoded `rgb` for a code, clipped to [−1, 1] as UViM's
 * `predict_outputs` does, as interleaved RGB [S·S·3].
 *
 * Rewards (config `reward`): Hasler–Süsstrunk colourfulness (M3 on the 0..255 scale, the default) or the project's
 * `gray-diversity` (Lab: the fraction of pixels with chroma above a threshold × the normalised entropy of their hue
 * histogram), plus `fidelityWeight` × luma PSNR (dB) to the grey input (a project extension, 0 = off).
 *
 * Dimension legend: B batch, R rows (B·N samples), L code length, S image side.
 */
import * as tf from '@tensorflow/tfjs-core';
import { decodeStageTwo, readTensor, stageTwoTargets, type FrozenOracle } from '@reward-tune/core-model';
import type { RewardResult, Task } from '@reward-tune/reinforce';
import {
  colorfulnessSigned,
  colourReward,
  greyFraction,
  lumaPsnr,
  psnr,
  type ColourRewardOptions,
} from '@reward-tune/rewards-metrics';
import type { ColorizeConfig } from './config';
import { rgbTensor, type ColourItem } from './data';
import { toGrayRgb } from './grayscale';

/** A prediction: interleaved RGB [S·S·3] in [−1, 1]. */
export type ColourPrediction = Float32Array;

/** The reward options of a config's `reward` section. */
export const rewardOptions = (r: ColorizeConfig['reward']): ColourRewardOptions => ({
  kind: r.kind,
  fidelityWeight: r.fidelityWeight,
  grayDiversity: { chromaThreshold: r.chromaThreshold, hueBins: r.hueBins },
});

/** Splits a [R·S·S·3] array into R images. */
export function splitRows(values: Float32Array, rows: number): Float32Array[] {
  const per = values.length / rows;
  return Array.from({ length: rows }, (_, r) => values.slice(r * per, (r + 1) * per));
}

/** The oracle's decoded `rgb` [R, S, S, 3] for a decode result, clipped to [−1, 1], as R images; disposes `out`. */
export async function clippedImages(out: Record<string, tf.Tensor4D>): Promise<Float32Array[]> {
  const rows = out.rgb.shape[0];
  const clipped = tf.tidy(() => tf.clipByValue(out.rgb, -1, 1));
  tf.dispose(Object.values(out));
  try {
    return splitRows(Float32Array.from(await readTensor(clipped)), rows);
  } finally {
    clipped.dispose();
  }
}

export interface ColorizeTaskOptions {
  readonly size: number;
  readonly reward: ColorizeConfig['reward'];
}

export class ColorizeTask implements Task<ColourItem, ColourPrediction> {
  private readonly rewardOpts: ColourRewardOptions;

  constructor(
    private readonly oracle: () => FrozenOracle,
    private readonly opts: ColorizeTaskOptions,
  ) {
    this.rewardOpts = rewardOptions(opts.reward);
  }

  encodeTargetsBatch(examples: readonly ColourItem[], images: tf.Tensor4D): Promise<Int32Array> {
    const rgb = rgbTensor(examples, this.opts.size);
    return stageTwoTargets(this.oracle(), { rgb }, images).finally(() => rgb.dispose());
  }

  decodeBatch(tokens: Int32Array, _examples: readonly ColourItem[], images: tf.Tensor4D): Promise<ColourPrediction[]> {
    return clippedImages(decodeStageTwo(this.oracle(), tokens, images));
  }

  reward(predictions: readonly ColourPrediction[], ex: ColourItem): RewardResult {
    const grey = this.rewardOpts.fidelityWeight ? toGrayRgb(ex.rgb) : undefined;
    return { rewards: Float64Array.from(predictions, (p) => colourReward(p, grey, this.rewardOpts)) };
  }

  evaluate(predictions: readonly ColourPrediction[], examples: readonly ColourItem[]): Record<string, number> {
    return colourMetrics(predictions, examples, this.opts.reward.chromaThreshold);
  }
}

/**
 * The suite's per-set numbers: mean colourfulness (M3), mean near-grey fraction (Lab chroma ≤ threshold), mean PSNR
 * to the ground truth (range 2, big_vision's formula) and mean luma PSNR to the grey input.
 */
export function colourMetrics(
  predictions: readonly Float32Array[],
  examples: readonly ColourItem[],
  chromaThreshold: number,
): { colourfulness: number; grey_fraction: number; psnr: number; luma_psnr: number } {
  let c = 0,
    g = 0,
    p = 0,
    l = 0;
  predictions.forEach((pred, i) => {
    const truth = examples[i].rgb;
    c += colorfulnessSigned(pred);
    g += greyFraction(pred, { chromaThreshold });
    p += psnr(pred, truth);
    l += lumaPsnr(pred, toGrayRgb(truth));
  });
  const n = Math.max(1, predictions.length);
  return { colourfulness: c / n, grey_fraction: g / n, psnr: p / n, luma_psnr: l / n };
}
