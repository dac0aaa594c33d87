/**
 * PSNR for colorization, with big_vision's formula (UViM's `psnr` evaluator): on images in [−1, 1] the data range is
 * 2, so per image
 *
 *   PSNR = 20·log10(2) − 10·log10(MSE),   MSE = the mean squared difference over every value (H·W·3),
 *
 * and the reported number is the mean of the per-image values. MSE = 0 (an exact copy) would give +∞ and make the
 * mean infinite, so the per-image value is capped at PSNR_CAP_DB = 100 dB, far above anything 8-bit data reaches
 * (quantisation alone leaves ≈ 59 dB on [−1, 1]).
 *
 * Luma PSNR measures faithfulness to the grey input: the luma of the prediction, with the weights of
 * `tf.image.rgb_to_grayscale` (BT.601, 0.2989 R + 0.5870 G + 0.1140 B; UViM builds its grey input with them),
 * against the input's luma, read as the mean of the input's three channels (the input is luma repeated ×3).
 * The same formula and cap apply, over H·W values.
 */

export const PSNR_CAP_DB = 100;

/** Luma weights of `tf.image.rgb_to_grayscale` (BT.601 to four decimals; they sum to 0.9999). */
export const TF_GRAYSCALE_WEIGHTS = [0.2989, 0.587, 0.114] as const;

export interface PsnrOptions {
  /** Peak-to-peak range of the data (default 2, for [−1, 1]). */
  readonly dataRange?: number;
}

/** PSNR from a mean squared error, capped at PSNR_CAP_DB. */
export function psnrFromMse(mse: number, dataRange = 2): number {
  if (!(mse >= 0)) throw new RangeError(`psnr: MSE must be ≥ 0, got ${mse}`);
  if (mse === 0) return PSNR_CAP_DB;
  return Math.min(PSNR_CAP_DB, 20 * Math.log10(dataRange) - 10 * Math.log10(mse));
}

function mse(a: ArrayLike<number>, b: ArrayLike<number>, where: string): number {
  if (a.length !== b.length) throw new RangeError(`${where}: ${a.length} values vs ${b.length}`);
  if (a.length === 0) throw new RangeError(`${where}: empty image`);
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return s / a.length;
}

/** PSNR of one image (any layout; both arrays the same length). */
export function psnr(pred: ArrayLike<number>, target: ArrayLike<number>, opts: PsnrOptions = {}): number {
  return psnrFromMse(mse(pred, target, 'psnr'), opts.dataRange ?? 2);
}

/** Luma of interleaved RGB [N·3] → [N], with TF_GRAYSCALE_WEIGHTS. */
export function lumaOf(rgb: ArrayLike<number>): Float64Array {
  if (rgb.length === 0 || rgb.length % 3 !== 0)
    throw new RangeError(`lumaOf: expected interleaved RGB, got ${rgb.length} values`);
  const [wr, wg, wb] = TF_GRAYSCALE_WEIGHTS;
  const out = new Float64Array(rgb.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = wr * rgb[3 * i] + wg * rgb[3 * i + 1] + wb * rgb[3 * i + 2];
  return out;
}

/** The luma of a grey input given as luma repeated ×3: the mean of its channels. */
function inputLuma(grey: ArrayLike<number>): Float64Array {
  if (grey.length === 0 || grey.length % 3 !== 0)
    throw new RangeError(`lumaPsnr: expected interleaved RGB input, got ${grey.length} values`);
  const out = new Float64Array(grey.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = (grey[3 * i] + grey[3 * i + 1] + grey[3 * i + 2]) / 3;
  return out;
}

/** Luma PSNR of a colour prediction against its grey input (both interleaved RGB, same length). */
export function lumaPsnr(pred: ArrayLike<number>, greyInput: ArrayLike<number>, opts: PsnrOptions = {}): number {
  if (pred.length !== greyInput.length) throw new RangeError(`lumaPsnr: ${pred.length} values vs ${greyInput.length}`);
  return psnrFromMse(mse(lumaOf(pred), inputLuma(greyInput), 'lumaPsnr'), opts.dataRange ?? 2);
}

/** The mean over images of a per-image score (big_vision reports the mean of per-image PSNRs). */
export function meanOver<T>(items: readonly T[], score: (item: T, index: number) => number): number {
  if (items.length === 0) throw new RangeError('meanOver: no images');
  let s = 0;
  items.forEach((item, i) => (s += score(item, i)));
  return s / items.length;
}

/** Mean PSNR over paired images. */
export function meanPsnr(
  preds: readonly ArrayLike<number>[],
  targets: readonly ArrayLike<number>[],
  opts: PsnrOptions = {},
): number {
  if (preds.length !== targets.length)
    throw new RangeError(`meanPsnr: ${preds.length} predictions vs ${targets.length} targets`);
  return meanOver(preds, (p, i) => psnr(p, targets[i], opts));
}
