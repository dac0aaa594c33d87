/**
 * Colourfulness of Hasler & Süsstrunk (2003), metric M3 — the colorization task's reward.
 *
 * On 0..255 RGB, with signed opponent channels rg = R − G and yb = (R + G)/2 − B:
 *   σ = sqrt(σ_rg² + σ_yb²)   (population standard deviations over the pixels)
 *   μ = sqrt(μ_rg² + μ_yb²)
 *   M = σ + 0.3·μ
 * The widely copied variant that takes |rg| and |yb| first is NOT this metric: a grey image plus a constant
 * colour cast would read differently. Roughly: 0 not colourful, 33 moderately, 59 quite, 109 extremely.
 */

/** An image as interleaved 8-bit-range values, `channels` (3 or 4, alpha ignored) per pixel. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 3 | 4;
  readonly data: ArrayLike<number>;
}

export function colorfulness(img: RgbImage): number {
  const n = img.width * img.height;
  if (n === 0) throw new RangeError('colorfulness: empty image');
  if (img.data.length !== n * img.channels) {
    throw new RangeError(`colorfulness: data has ${img.data.length} values, expected ${n}×${img.channels}`);
  }
  // Two passes (mean, then centred sum of squares) keep the variance exact for large flat images.
  const c = img.channels;
  const d = img.data;
  let sumRg = 0;
  let sumYb = 0;
  for (let i = 0; i < n; i++) {
    const r = d[i * c],
      g = d[i * c + 1],
      b = d[i * c + 2];
    sumRg += r - g;
    sumYb += 0.5 * (r + g) - b;
  }
  const meanRg = sumRg / n;
  const meanYb = sumYb / n;
  let ssRg = 0;
  let ssYb = 0;
  for (let i = 0; i < n; i++) {
    const r = d[i * c],
      g = d[i * c + 1],
      b = d[i * c + 2];
    const drg = r - g - meanRg;
    const dyb = 0.5 * (r + g) - b - meanYb;
    ssRg += drg * drg;
    ssYb += dyb * dyb;
  }
  const sigma = Math.sqrt(ssRg / n + ssYb / n);
  const mu = Math.sqrt(meanRg * meanRg + meanYb * meanYb);
  return sigma + 0.3 * mu;
}
