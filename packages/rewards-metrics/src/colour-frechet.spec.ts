import {
  colourFrechetDistance,
  colourStatistics,
  COLOUR_STATS_DIM,
  frechetDistance,
  gaussianOf,
  sqrtPsd,
  symmetricEigen,
  type Gaussian,
} from './colour-frechet';

/** A small deterministic generator for test matrices (LCG), so the cases are fixed. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1;
}

const matMul = (a: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array => {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) out[i * n + j] += a[i * n + k] * b[k * n + j];
  return out;
};
const transpose = (a: ArrayLike<number>, n: number): Float64Array => {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[j * n + i] = a[i * n + j];
  return out;
};
const randomPsd = (n: number, rank: number, next: () => number): Float64Array => {
  const b = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < rank; k++) b[i * n + k] = next();
  return matMul(b, transpose(b, n), n);
};
const diag = (v: number[]): Float64Array => {
  const n = v.length;
  const out = new Float64Array(n * n);
  v.forEach((x, i) => (out[i * n + i] = x));
  return out;
};
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number =>
  Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));

/** A random orthogonal matrix: the eigenvectors of a random symmetric one. */
const randomRotation = (n: number, next: () => number): Float64Array =>
  symmetricEigen(randomPsd(n, n, next), n).vectors;

describe('symmetricEigen (cyclic Jacobi)', () => {
  it('finds the eigenvalues of [[2, 1], [1, 2]]', () => {
    const { values } = symmetricEigen([2, 1, 1, 2], 2);
    expect(Array.from(values).sort()).toEqual([expect.closeTo(1, 14), expect.closeTo(3, 14)]);
  });

  it('reconstructs a random 7×7 symmetric matrix from orthonormal eigenvectors', () => {
    const n = 7;
    const next = lcg(3);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = next();
    const { values, vectors: v } = symmetricEigen(a, n);
    expect(maxAbsDiff(matMul(transpose(v, n), v, n), diag(Array(n).fill(1)))).toBeLessThan(1e-12);
    expect(maxAbsDiff(matMul(matMul(v, diag(Array.from(values)), n), transpose(v, n), n), a)).toBeLessThan(1e-12);
  });
});

describe('sqrtPsd', () => {
  it('squares back to the matrix, also when it is singular', () => {
    const next = lcg(11);
    for (const rank of [6, 3]) {
      const a = randomPsd(6, rank, next);
      const s = sqrtPsd(a, 6);
      expect(maxAbsDiff(matMul(s, s, 6), a)).toBeLessThan(1e-10);
      expect(maxAbsDiff(s, transpose(s, 6))).toBeLessThan(1e-12);
    }
  });
});

describe('frechetDistance', () => {
  const g = (mean: number[], cov: ArrayLike<number>): Gaussian => ({
    dim: mean.length,
    mean: Float64Array.from(mean),
    cov: Float64Array.from(cov),
  });

  it('has the closed form |Δμ|² + Σ(√σ₁ − √σ₂)² for diagonal covariances', () => {
    const x = g([0, 0, 0], diag([1, 4, 9]));
    const y = g([1, 2, 0], diag([4, 1, 0]));
    // 1 + 4 + (1 − 2)² + (2 − 1)² + (3 − 0)² = 16
    expect(frechetDistance(x, y)).toBeCloseTo(16, 10);
    expect(frechetDistance(y, x)).toBeCloseTo(16, 10);
    expect(frechetDistance(x, x)).toBeCloseTo(0, 10);
  });

  it('is unchanged when both Gaussians are rotated together', () => {
    const n = 3;
    const q = randomRotation(n, lcg(5));
    const rot = (c: Float64Array): Float64Array => matMul(matMul(q, c, n), transpose(q, n), n);
    const rotMean = (m: number[]): number[] =>
      Array.from({ length: n }, (_, i) => m.reduce((s, v, k) => s + q[i * n + k] * v, 0));
    const x = g(rotMean([0, 0, 0]), rot(diag([1, 4, 9])));
    const y = g(rotMean([1, 2, 0]), rot(diag([4, 1, 0])));
    expect(frechetDistance(x, y)).toBeCloseTo(16, 9);
  });

  it('matches the 2×2 closed form Tr √(Σ₁Σ₂) = √(tr Σ₁Σ₂ + 2 √det Σ₁Σ₂) for non-commuting covariances', () => {
    // Σ₁Σ₂ = [[2, 3], [1, 3]]: trace 5, determinant 3 → d² = 3 + 4 − 2 √(5 + 2√3) = 1.181374…
    const d = frechetDistance(g([0, 0], [2, 1, 1, 1]), g([0, 0], [1, 0, 0, 3]));
    expect(d).toBeCloseTo(7 - 2 * Math.sqrt(5 + 2 * Math.sqrt(3)), 12);
    expect(d).toBeCloseTo(1.181374, 6);
  });

  it('rejects Gaussians of different dimensions', () => {
    expect(() => frechetDistance(g([0], [1]), g([0, 0], diag([1, 1])))).toThrow(/dimensions 1 and 2/);
  });
});

describe('gaussianOf', () => {
  it('uses the n − 1 denominator (numpy cov)', () => {
    const { mean, cov } = gaussianOf([
      [1, 2],
      [3, 4],
      [5, 0],
    ]);
    expect(Array.from(mean)).toEqual([3, 2]);
    expect(Array.from(cov)).toEqual([4, -2, -2, 4]);
    expect(() => gaussianOf([[1, 2]])).toThrow(/at least 2/);
  });
});

describe('colour statistics and their Fréchet distance (project-defined proxy, not FID)', () => {
  it('describes a grey and a flat red image', () => {
    const grey = colourStatistics([0.1, 0.1, 0.1, -0.5, -0.5, -0.5]);
    expect(grey).toHaveLength(COLOUR_STATS_DIM);
    for (const v of grey) expect(Math.abs(v)).toBeLessThan(1e-15);
    // Red: Cb −0.168736, Cr 0.5; Lab hue atan2(67.20, 80.09) = 40° → the first 45° bin holds every pixel.
    const red = colourStatistics([1, -1, -1, 1, -1, -1]);
    expect(Array.from(red)).toEqual([
      expect.closeTo(-0.168736, 6),
      0,
      expect.closeTo(0.5, 12),
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    ]);
  });

  it('is the std over pixels and the hue bins over all pixels', () => {
    // Half red, half grey: Cr = 0.5 and 0 → mean 0.25, population std 0.25; the red bin holds half the pixels.
    const s = colourStatistics([1, -1, -1, 0, 0, 0]);
    expect(s[2]).toBeCloseTo(0.25, 12);
    expect(s[3]).toBeCloseTo(0.25, 12);
    expect(s[4]).toBe(0.5);
  });

  it('is 0 between a set and itself and grows as predictions turn grey', () => {
    const next = lcg(7);
    const vivid = Array.from({ length: 12 }, () => Float32Array.from({ length: 16 * 3 }, () => next()));
    const dull = vivid.map((im) => im.map((v, i) => 0.1 * v + 0.9 * im[i - (i % 3)]));
    const grey = vivid.map((im) => im.map((_, i) => im[i - (i % 3)]));
    expect(colourFrechetDistance(vivid, vivid)).toBeLessThan(1e-10);
    const dDull = colourFrechetDistance(dull, vivid);
    const dGrey = colourFrechetDistance(grey, vivid);
    expect(dDull).toBeGreaterThan(0.01);
    expect(dGrey).toBeGreaterThan(dDull);
  });
});
