/**
 * A Fréchet distance between Gaussians of per-image colour statistics: a project-defined, CPU-sized proxy for the
 * FID that UViM reports for colorization. It is NOT FID (no Inception features, no ImageNet): it compares only how
 * the colours of predictions are distributed against those of the ground truth, and its values are not comparable
 * with any published FID.
 *
 * Per image, 12 features (COLOUR_STATS_DIM) from its pixels, clipped and read as sRGB:
 *   mean and population std of Cb, mean and population std of Cr (BT.601 full range on [0, 1], so in [−0.5, 0.5]),
 *   then an 8-bin histogram of the Lab hue angle atan2(b*, a*) over the pixels with Lab chroma above 10, each bin
 *   divided by the image's TOTAL pixel count (so the bins sum to the coloured fraction, and a grey image has all
 *   zeros there).
 * Each set of images gives a Gaussian (mean; covariance with the n − 1 denominator, as numpy's `cov`); the distance
 * is the squared Fréchet (2-Wasserstein) distance between the two, as FID reports it:
 *
 *   d² = |μ₁ − μ₂|² + Tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½)
 *
 * Tr((Σ₁Σ₂)^½) is computed as Tr((Σ₁^½ Σ₂ Σ₁^½)^½), whose argument is symmetric PSD, with matrix square roots from a
 * cyclic Jacobi eigen-decomposition in float64 (negative eigenvalues from rounding clamped to 0).
 */
import { checkPixels, rgbToYcbcr, unitValue, type PixelRange } from './colour-space';
import { chromaHistogram } from './gray-diversity';

export const COLOUR_STATS_DIM = 12;
export const COLOUR_STATS_HUE_BINS = 8;

export interface ColourStatsOptions {
  /** Value range of the pixel data (default 'signed', [−1, 1]). */
  readonly range?: PixelRange;
  /** Lab chroma above which a pixel counts in the hue histogram (default 10). */
  readonly chromaThreshold?: number;
}

/** The 12 colour statistics of one image (see the file comment). */
export function colourStatistics(pixels: ArrayLike<number>, opts: ColourStatsOptions = {}): Float64Array {
  const range = opts.range ?? 'signed';
  const n = checkPixels(pixels, 'colourStatistics');
  const cb = new Float64Array(n);
  const cr = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const [, b, r] = rgbToYcbcr(
      unitValue(pixels[3 * i], range),
      unitValue(pixels[3 * i + 1], range),
      unitValue(pixels[3 * i + 2], range),
    );
    cb[i] = b;
    cr[i] = r;
  }
  const { histogram } = chromaHistogram(pixels, range, opts.chromaThreshold ?? 10, COLOUR_STATS_HUE_BINS);
  const out = new Float64Array(COLOUR_STATS_DIM);
  [out[0], out[1]] = meanStd(cb);
  [out[2], out[3]] = meanStd(cr);
  for (let k = 0; k < COLOUR_STATS_HUE_BINS; k++) out[4 + k] = histogram[k] / n;
  return out;
}

function meanStd(v: Float64Array): [number, number] {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  const m = s / v.length;
  let ss = 0;
  for (let i = 0; i < v.length; i++) ss += (v[i] - m) ** 2;
  return [m, Math.sqrt(ss / v.length)];
}

/** A Gaussian in `dim` dimensions: mean [dim] and row-major covariance [dim·dim]. */
export interface Gaussian {
  readonly dim: number;
  readonly mean: Float64Array;
  readonly cov: Float64Array;
}

/** Mean and sample covariance (n − 1 denominator) of feature vectors; needs at least 2. */
export function gaussianOf(features: readonly ArrayLike<number>[]): Gaussian {
  const n = features.length;
  if (n < 2) throw new RangeError(`gaussianOf: need at least 2 feature vectors, got ${n}`);
  const dim = features[0].length;
  const mean = new Float64Array(dim);
  for (const f of features) {
    if (f.length !== dim) throw new RangeError(`gaussianOf: feature vectors of lengths ${dim} and ${f.length}`);
    for (let j = 0; j < dim; j++) mean[j] += f[j] / n;
  }
  const cov = new Float64Array(dim * dim);
  for (const f of features) {
    for (let i = 0; i < dim; i++) {
      const di = f[i] - mean[i];
      for (let j = i; j < dim; j++) cov[i * dim + j] += di * (f[j] - mean[j]);
    }
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const v = cov[i * dim + j] / (n - 1);
      cov[i * dim + j] = v;
      cov[j * dim + i] = v;
    }
  }
  return { dim, mean, cov };
}

/**
 * Eigen-decomposition of a symmetric n×n matrix (row-major) by cyclic Jacobi rotations: `values` [n] and
 * `vectors` [n·n] with eigenvector k in column k, so A = V diag(values) Vᵀ.
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  if (matrix.length !== n * n) throw new RangeError(`symmetricEigen: ${matrix.length} values, expected ${n}×${n}`);
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += a[i] * a[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off <= 1e-30 * scale || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        // The rotation that zeroes a[p][q]: t = tan θ, the smaller root of t² + 2τt − 1 = 0.
        const tau = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(tau || 1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p],
            akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k],
            aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p],
            vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}

/** The symmetric PSD square root of a symmetric PSD matrix (negative eigenvalues from rounding taken as 0). */
export function sqrtPsd(matrix: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors: v } = symmetricEigen(matrix, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const r = Math.sqrt(Math.max(0, values[k]));
    if (r === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = v[i * n + k] * r;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += vik * v[j * n + k];
    }
  }
  return out;
}

function matMul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b[k * n + j];
    }
  }
  return out;
}

/** Squared Fréchet distance between two Gaussians of the same dimension (≥ 0). */
export function frechetDistance(x: Gaussian, y: Gaussian): number {
  const n = x.dim;
  if (y.dim !== n) throw new RangeError(`frechetDistance: dimensions ${n} and ${y.dim}`);
  let d = 0;
  for (let i = 0; i < n; i++) d += (x.mean[i] - y.mean[i]) ** 2;
  const s1 = sqrtPsd(x.cov, n);
  const m = matMul(matMul(s1, y.cov, n), s1, n);
  // Symmetrise against rounding before the second square root.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = (m[i * n + j] + m[j * n + i]) / 2;
      m[i * n + j] = m[j * n + i] = v;
    }
  }
  const { values } = symmetricEigen(m, n);
  let trSqrt = 0;
  for (let k = 0; k < n; k++) trSqrt += Math.sqrt(Math.max(0, values[k]));
  for (let i = 0; i < n; i++) d += x.cov[i * n + i] + y.cov[i * n + i];
  return Math.max(0, d - 2 * trSqrt);
}

/**
 * The colour-statistics Fréchet distance (a project-defined proxy, not FID) between a set of predictions and a set
 * of ground-truth images (interleaved RGB each; the sets need not be paired, each needs ≥ 2 images).
 */
export function colourFrechetDistance(
  preds: readonly ArrayLike<number>[],
  targets: readonly ArrayLike<number>[],
  opts: ColourStatsOptions = {},
): number {
  return frechetDistance(
    gaussianOf(preds.map((p) => colourStatistics(p, opts))),
    gaussianOf(targets.map((t) => colourStatistics(t, opts))),
  );
}
