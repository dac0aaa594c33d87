/**
 * "gray-diversity": a colorization reward in CIE L*a*b*, the project's own reading of the reward paper's one-line
 * description ("discourages gray colours and promotes colour diversity"); the paper's exact formula, thresholds and
 * bins are not public. It is the product of two terms, each in [0, 1]:
 *
 *   C_i      = √(a_i² + b_i²)                         chroma of pixel i (a*, b* of L*a*b* D65, sRGB input)
 *   coloured = { i : C_i > τ }                        τ = chromaThreshold, default 10
 *   f        = |coloured| / N                         the "not grey" term: fraction of coloured pixels
 *   h_i      = atan2(b_i, a_i) ∈ [0, 2π)              hue angle of a coloured pixel
 *   p_k      = |{i ∈ coloured : ⌊h_i·K/2π⌋ = k}| / |coloured|,  k = 0..K−1,  K = hueBins, default 12
 *   H        = −Σ_k p_k ln p_k / ln K                 the diversity term: normalised hue entropy
 *   reward   = f · H                                  (0 when no pixel is coloured; H = 0 for K = 1)
 *
 * So a grey image scores 0, an image of one flat hue scores 0, and the maximum 1 needs every pixel coloured with
 * the hues spread evenly over all K bins. The near-grey fraction reported by the eval suite is 1 − f.
 */
import { checkPixels, srgbToLab, unitValue, type PixelRange } from './colour-space';

export interface ChromaOptions {
  /** Value range of the pixel data (default 'signed', [−1, 1]); values are clipped to it. */
  readonly range?: PixelRange;
  /** A pixel is coloured when its Lab chroma √(a² + b²) is above this (default 10). */
  readonly chromaThreshold?: number;
}

export interface GrayDiversityOptions extends ChromaOptions {
  /** Bins of the hue histogram over the coloured pixels (default 12, i.e. 30° each). */
  readonly hueBins?: number;
}

export interface GrayDiversityResult {
  /** f · H, in [0, 1]. */
  readonly reward: number;
  /** f: the fraction of pixels with chroma above the threshold. */
  readonly colouredFraction: number;
  /** H: the normalised entropy of the coloured pixels' hue histogram (0 when none is coloured). */
  readonly hueEntropy: number;
}

export const GRAY_DIVERSITY_DEFAULTS = { range: 'signed', chromaThreshold: 10, hueBins: 12 } as const;

/**
 * Counts, for interleaved RGB `pixels`, the coloured pixels and their hue histogram with `bins` bins (bins = 0:
 * no histogram). Shared by the reward, the near-grey fraction and the colour statistics.
 */
export function chromaHistogram(
  pixels: ArrayLike<number>,
  range: PixelRange,
  chromaThreshold: number,
  bins: number,
): { n: number; coloured: number; histogram: Float64Array } {
  const n = checkPixels(pixels, 'chromaHistogram');
  const histogram = new Float64Array(bins);
  let coloured = 0;
  for (let i = 0; i < n; i++) {
    const [, a, b] = srgbToLab(
      unitValue(pixels[3 * i], range),
      unitValue(pixels[3 * i + 1], range),
      unitValue(pixels[3 * i + 2], range),
    );
    if (!(Math.hypot(a, b) > chromaThreshold)) continue;
    coloured++;
    if (bins > 0) histogram[hueBin(a, b, bins)]++;
  }
  return { n, coloured, histogram };
}

/** The bin of hue angle atan2(b, a) ∈ [0, 2π) among `bins` equal bins starting at 0 (the +a* axis). */
export function hueBin(a: number, b: number, bins: number): number {
  let h = Math.atan2(b, a);
  if (h < 0) h += 2 * Math.PI;
  return Math.min(bins - 1, Math.floor((h * bins) / (2 * Math.PI)));
}

/** −Σ p ln p / ln K of a histogram of counts (0 for an empty histogram or K = 1). */
export function normalisedEntropy(counts: ArrayLike<number>): number {
  let total = 0;
  for (let k = 0; k < counts.length; k++) total += counts[k];
  if (total <= 0 || counts.length < 2) return 0;
  let h = 0;
  for (let k = 0; k < counts.length; k++) {
    const p = counts[k] / total;
    if (p > 0) h -= p * Math.log(p);
  }
  return h / Math.log(counts.length);
}

function checkOptions(chromaThreshold: number, hueBins?: number): void {
  if (!(chromaThreshold >= 0)) throw new RangeError(`chromaThreshold must be ≥ 0, got ${chromaThreshold}`);
  if (hueBins !== undefined && !(Number.isInteger(hueBins) && hueBins >= 1)) {
    throw new RangeError(`hueBins must be a positive integer, got ${hueBins}`);
  }
}

/** The gray-diversity reward of one image (see the file comment). */
export function grayDiversity(pixels: ArrayLike<number>, opts: GrayDiversityOptions = {}): GrayDiversityResult {
  const D = GRAY_DIVERSITY_DEFAULTS;
  const { range = D.range, chromaThreshold = D.chromaThreshold, hueBins = D.hueBins } = opts;
  checkOptions(chromaThreshold, hueBins);
  const { n, coloured, histogram } = chromaHistogram(pixels, range, chromaThreshold, hueBins);
  const colouredFraction = coloured / n;
  const hueEntropy = normalisedEntropy(histogram);
  return { reward: colouredFraction * hueEntropy, colouredFraction, hueEntropy };
}

/** Eval metric: the fraction of near-grey pixels, Lab chroma ≤ threshold (default 10), i.e. 1 − f above. */
export function greyFraction(pixels: ArrayLike<number>, opts: ChromaOptions = {}): number {
  const { range = GRAY_DIVERSITY_DEFAULTS.range, chromaThreshold = GRAY_DIVERSITY_DEFAULTS.chromaThreshold } = opts;
  checkOptions(chromaThreshold);
  const { n, coloured } = chromaHistogram(pixels, range, chromaThreshold, 0);
  return (n - coloured) / n;
}
