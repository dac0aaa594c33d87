/**
 * The colorization rewards on a model's output (interleaved RGB [H, W, 3] in [−1, 1], clipped first as UViM clips
 * its prediction):
 *
 * - 'colorfulness' (the default): Hasler–Süsstrunk M3 (`colorfulness`) on (clip(x, −1, 1) + 1)·127.5, i.e. on the
 *   0..255 scale the metric is defined on (no rounding).
 * - 'gray-diversity': the project's Lab reward `grayDiversity` (not-grey fraction × normalised hue entropy, in
 *   [0, 1]).
 *
 * Optional fidelity (a project extension, not from the paper; off by default): reward + fidelityWeight ·
 * lumaPsnr(prediction, grey input) in dB. With weight w a 1 dB luma change is worth w reward units, so choose w on
 * the scale of the colour term (≈ 0–100 for colorfulness, 0–1 for gray-diversity).
 */
import { colorfulness } from './colorfulness';
import { checkPixels } from './colour-space';
import { grayDiversity, type GrayDiversityOptions } from './gray-diversity';
import { lumaPsnr } from './psnr';

export const COLOUR_REWARDS = ['colorfulness', 'gray-diversity'] as const;
export type ColourRewardKind = (typeof COLOUR_REWARDS)[number];

/** Hasler–Süsstrunk M3 of an image in [−1, 1] (interleaved RGB, any H·W), clipped and mapped to 0..255. */
export function colorfulnessSigned(pixels: ArrayLike<number>): number {
  const n = checkPixels(pixels, 'colorfulnessSigned');
  const data = new Float64Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i];
    data[i] = ((v < -1 ? -1 : v > 1 ? 1 : v) + 1) * 127.5;
  }
  return colorfulness({ width: n, height: 1, channels: 3, data });
}

export interface ColourRewardOptions {
  /** Which colour term (default 'colorfulness'). */
  readonly kind?: ColourRewardKind;
  /** Settings of the gray-diversity term (its range is always [−1, 1] here). */
  readonly grayDiversity?: Omit<GrayDiversityOptions, 'range'>;
  /** Weight of the luma PSNR (dB) to the grey input; 0 (the default) skips it. A project extension. */
  readonly fidelityWeight?: number;
}

/** The colour term alone, on a prediction in [−1, 1]. */
export function colourTerm(
  pred: ArrayLike<number>,
  kind: ColourRewardKind = 'colorfulness',
  gd: ColourRewardOptions['grayDiversity'] = {},
): number {
  switch (kind) {
    case 'colorfulness':
      return colorfulnessSigned(pred);
    case 'gray-diversity':
      return grayDiversity(pred, { ...gd, range: 'signed' }).reward;
    default:
      throw new RangeError(`unknown colour reward '${String(kind)}' (expected ${COLOUR_REWARDS.join(' | ')})`);
  }
}

/**
 * The reward of one prediction: the colour term, plus fidelityWeight · luma PSNR to `greyInput` when the weight is
 * not 0 (`greyInput` is then required: the model's input, luma repeated ×3, in [−1, 1]).
 */
export function colourReward(
  pred: ArrayLike<number>,
  greyInput: ArrayLike<number> | undefined,
  opts: ColourRewardOptions = {},
): number {
  const w = opts.fidelityWeight ?? 0;
  if (!Number.isFinite(w)) throw new RangeError(`fidelityWeight must be finite, got ${w}`);
  const colour = colourTerm(pred, opts.kind ?? 'colorfulness', opts.grayDiversity);
  if (w === 0) return colour;
  if (greyInput === undefined) throw new RangeError('colourReward: fidelityWeight ≠ 0 needs the grey input');
  return colour + w * lumaPsnr(pred, greyInput);
}
