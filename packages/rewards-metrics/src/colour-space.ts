/**
 * Colour spaces for the colorization rewards and metrics, from their standard definitions:
 *
 * - sRGB ↔ linear RGB: the IEC 61966-2-1 transfer function (linear below 0.04045 / 0.0031308, else the 2.4 power).
 * - linear RGB ↔ CIE XYZ: the sRGB primaries with the D65 white point, matrix to 7 decimals (Lindbloom's). The
 *   white point used for Lab is the image of RGB white (1, 1, 1) under that matrix (the matrix's row sums,
 *   ≈ (0.95047, 1, 1.08883)), so every grey maps to a* = b* = 0 up to rounding.
 * - XYZ ↔ CIE L*a*b* (1976): f(t) = ∛t above ε = 216/24389, else (κt + 16)/116 with κ = 24389/27 (the exact CIE
 *   constants); L* = 116 f(Y/Yn) − 16, a* = 500 (f(X/Xn) − f(Y/Yn)), b* = 200 (f(Y/Yn) − f(Z/Zn)).
 *   Pure red is (53.24, 80.09, 67.20), green (87.73, −86.18, 83.18), blue (32.30, 79.19, −107.86).
 * - RGB ↔ YCbCr: ITU-R BT.601 full range (JFIF) on [0, 1]: Y = 0.299 R + 0.587 G + 0.114 B, Cb = (B − Y)/1.772,
 *   Cr = (R − Y)/1.402, so Y ∈ [0, 1] and Cb, Cr ∈ [−0.5, 0.5].
 *
 * Pixel data elsewhere in the package is interleaved [H, W, 3] in one of three ranges (`PixelRange`); image values
 * are taken as sRGB-encoded, as decoded image files are. Values are clipped to the range first (UViM clips its
 * colorization output to [−1, 1]).
 */

export type Triple = [number, number, number];

/** Linear sRGB → XYZ (D65), rows X, Y, Z. */
export const SRGB_TO_XYZ: readonly (readonly [number, number, number])[] = [
  [0.4124564, 0.3575761, 0.1804375],
  [0.2126729, 0.7151522, 0.072175],
  [0.0193339, 0.119192, 0.9503041],
];

/** The white point of Lab: XYZ of linear RGB (1, 1, 1), ≈ D65 (0.95047, 1, 1.08883). */
export const D65_WHITE: readonly [number, number, number] = [
  SRGB_TO_XYZ[0][0] + SRGB_TO_XYZ[0][1] + SRGB_TO_XYZ[0][2],
  SRGB_TO_XYZ[1][0] + SRGB_TO_XYZ[1][1] + SRGB_TO_XYZ[1][2],
  SRGB_TO_XYZ[2][0] + SRGB_TO_XYZ[2][1] + SRGB_TO_XYZ[2][2],
];

/** XYZ → linear sRGB: the exact inverse of SRGB_TO_XYZ (adjugate / determinant), so round trips are exact. */
export const XYZ_TO_SRGB: readonly (readonly [number, number, number])[] = invert3(SRGB_TO_XYZ);

function invert3(m: readonly (readonly number[])[]): [number, number, number][] {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const A = e * i - f * h,
    B = -(d * i - f * g),
    C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}

/** sRGB-encoded component in [0, 1] → linear light. */
export const srgbToLinear = (c: number): number => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);

/** Linear light in [0, 1] → sRGB-encoded component. */
export const linearToSrgb = (c: number): number => (c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055);

const mul3 = (m: readonly (readonly number[])[], x: number, y: number, z: number): Triple => [
  m[0][0] * x + m[0][1] * y + m[0][2] * z,
  m[1][0] * x + m[1][1] * y + m[1][2] * z,
  m[2][0] * x + m[2][1] * y + m[2][2] * z,
];

export const linearRgbToXyz = (r: number, g: number, b: number): Triple => mul3(SRGB_TO_XYZ, r, g, b);
export const xyzToLinearRgb = (x: number, y: number, z: number): Triple => mul3(XYZ_TO_SRGB, x, y, z);

const LAB_EPSILON = 216 / 24389;
const LAB_KAPPA = 24389 / 27;
const labF = (t: number): number => (t > LAB_EPSILON ? Math.cbrt(t) : (LAB_KAPPA * t + 16) / 116);
const labFInverse = (f: number): number => (f ** 3 > LAB_EPSILON ? f ** 3 : (116 * f - 16) / LAB_KAPPA);

export function xyzToLab(x: number, y: number, z: number): Triple {
  const fx = labF(x / D65_WHITE[0]);
  const fy = labF(y / D65_WHITE[1]);
  const fz = labF(z / D65_WHITE[2]);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

export function labToXyz(L: number, a: number, b: number): Triple {
  const fy = (L + 16) / 116;
  const fx = fy + a / 500;
  const fz = fy - b / 200;
  // L* itself decides the Y branch (κε = 8 is where the two pieces of L*(Y) meet).
  const yr = L > LAB_KAPPA * LAB_EPSILON ? fy ** 3 : L / LAB_KAPPA;
  return [labFInverse(fx) * D65_WHITE[0], yr * D65_WHITE[1], labFInverse(fz) * D65_WHITE[2]];
}

/** sRGB in [0, 1] → L*a*b* (D65). */
export function srgbToLab(r: number, g: number, b: number): Triple {
  const [x, y, z] = linearRgbToXyz(srgbToLinear(r), srgbToLinear(g), srgbToLinear(b));
  return xyzToLab(x, y, z);
}

/** L*a*b* (D65) → sRGB, not clipped (out-of-gamut colours leave [0, 1]). */
export function labToSrgb(L: number, a: number, b: number): Triple {
  const [x, y, z] = labToXyz(L, a, b);
  const [r, g, bl] = xyzToLinearRgb(x, y, z);
  const enc = (c: number): number => (c < 0 ? -linearToSrgb(-c) : linearToSrgb(c));
  return [enc(r), enc(g), enc(bl)];
}

/** BT.601 luma weights (full-range YCbCr, JFIF). */
export const BT601 = { kr: 0.299, kg: 0.587, kb: 0.114 } as const;

/** RGB in [0, 1] → (Y, Cb, Cr), BT.601 full range: Y ∈ [0, 1], Cb, Cr ∈ [−0.5, 0.5]. */
export function rgbToYcbcr(r: number, g: number, b: number): Triple {
  const y = BT601.kr * r + BT601.kg * g + BT601.kb * b;
  return [y, (b - y) / (2 * (1 - BT601.kb)), (r - y) / (2 * (1 - BT601.kr))];
}

export function ycbcrToRgb(y: number, cb: number, cr: number): Triple {
  const r = y + 2 * (1 - BT601.kr) * cr;
  const b = y + 2 * (1 - BT601.kb) * cb;
  return [r, (y - BT601.kr * r - BT601.kb * b) / BT601.kg, b];
}

/** The value range of interleaved RGB pixel data: [−1, 1] (UViM's), [0, 1], or [0, 255]. */
export type PixelRange = 'signed' | 'unit' | 'byte';

/** One value of `range` → [0, 1], clipped. */
export function unitValue(v: number, range: PixelRange): number {
  const u = range === 'signed' ? (v + 1) / 2 : range === 'byte' ? v / 255 : v;
  return u < 0 ? 0 : u > 1 ? 1 : Number.isNaN(u) ? 0 : u;
}

export function checkPixels(pixels: ArrayLike<number>, where: string): number {
  if (pixels.length === 0 || pixels.length % 3 !== 0) {
    throw new RangeError(
      `${where}: expected interleaved RGB data (a positive multiple of 3 values), got ${pixels.length}`,
    );
  }
  return pixels.length / 3;
}

/** Interleaved RGB pixels in `range` → interleaved L*a*b* (Float64Array of the same length), after clipping. */
export function labPixels(pixels: ArrayLike<number>, range: PixelRange = 'signed'): Float64Array {
  const n = checkPixels(pixels, 'labPixels');
  const out = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    const [L, a, b] = srgbToLab(
      unitValue(pixels[3 * i], range),
      unitValue(pixels[3 * i + 1], range),
      unitValue(pixels[3 * i + 2], range),
    );
    out[3 * i] = L;
    out[3 * i + 1] = a;
    out[3 * i + 2] = b;
  }
  return out;
}
