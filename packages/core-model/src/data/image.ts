/**
 * Image I/O, the one place for it (with png.ts, its PNG codec for the common kinds of PNG): decode PNG/JPEG (chosen
 * by signature, not by file name) to 8-bit RGB, resize to the model's size and map to big_vision's value range
 * [−1, 1], encode PNG for visualisations and synthetic data, and draw box outlines for reports. Plain typed arrays,
 * no tfjs: the model side turns the Float32Arrays into tensors.
 *
 * Layout everywhere: interleaved, row-major [H, W, C] (H height, W width, C channels).
 *
 * Resize convention: half-pixel centres, no antialiasing — the sampling grid of TF2's
 * `tf.image.resize(method='bilinear', antialias=False)` (= `resize_bilinear(half_pixel_centers=True)`), which
 * big_vision's `resize` preprocessing op uses. An output pixel `o` reads the source at
 * `s = (o + 0.5)·(inSize/outSize) − 0.5`, interpolating between `floor(s)` and `floor(s) + 1`, both clamped to
 * the image (so borders repeat). Downscaling by k therefore averages only the 2×2 pixels nearest each centre.
 */
import * as E from 'fp-ts/Either';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { readBytes } from '../input';
import { decodePng8, encodePngRgb } from './png';

/** 8-bit RGB image, data [H, W, 3]. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export interface ImageSize {
  readonly height: number;
  readonly width: number;
}

/** An image ready for the model: pixels [H, W, 3] in [−1, 1], plus the size of the file it came from. */
export interface ModelImage {
  readonly pixels: Float32Array;
  readonly height: number;
  readonly width: number;
  readonly sourceHeight: number;
  readonly sourceWidth: number;
}

export type Rgb = readonly [number, number, number];

const isPng = (b: Uint8Array): boolean =>
  b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
const isJpeg = (b: Uint8Array): boolean => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

/** RGBA [H, W, 4] → RGB [H, W, 3]; alpha is dropped (COCO images have none that matters). */
function dropAlpha(rgba: Uint8Array, width: number, height: number): RgbImage {
  const n = width * height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    data[3 * i] = rgba[4 * i];
    data[3 * i + 1] = rgba[4 * i + 1];
    data[3 * i + 2] = rgba[4 * i + 2];
  }
  return { width, height, data };
}

/** Decodes PNG (any colour type / bit depth, scaled to 8 bits) or baseline JPEG; `file` only names errors. */
export function decodeImage(bytes: Uint8Array, file: string): E.Either<string, RgbImage> {
  try {
    if (isPng(bytes)) {
      const lean = decodePng8(bytes, file); // the common kinds of PNG (png.ts); the rest through pngjs
      if (lean !== undefined) return lean;
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return E.right(dropAlpha(png.data, png.width, png.height));
    }
    if (isJpeg(bytes)) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
      return E.right(dropAlpha(img.data, img.width, img.height));
    }
  } catch (err) {
    return E.left(`${file}: cannot decode image (${(err as Error).message})`);
  }
  return E.left(`${file}: not a PNG or JPEG file (unknown signature)`);
}

export const readImage = (file: string): E.Either<string, RgbImage> =>
  E.chain((b: Buffer) => decodeImage(b, file))(readBytes(file));

/** PNG bytes (8-bit RGB) of an image: visualisations and the synthetic data sets. */
export function encodePng(img: RgbImage): Buffer {
  return encodePngRgb(img);
}

/** Bilinear resize (half-pixel centres, see the file comment) of src [h, w, c] to [outH, outW, c]. */
export function resizeBilinear(
  src: ArrayLike<number>,
  h: number,
  w: number,
  c: number,
  outH: number,
  outW: number,
): Float32Array {
  if (src.length !== h * w * c) throw new RangeError(`resizeBilinear: ${src.length} values, expected ${h}×${w}×${c}`);
  const ys = axisWeights(h, outH);
  const xs = axisWeights(w, outW);
  const out = new Float32Array(outH * outW * c);
  for (let oy = 0; oy < outH; oy++) {
    const y0 = ys.lo[oy] * w;
    const y1 = ys.hi[oy] * w;
    const fy = ys.frac[oy];
    for (let ox = 0; ox < outW; ox++) {
      const x0 = xs.lo[ox];
      const x1 = xs.hi[ox];
      const fx = xs.frac[ox];
      for (let k = 0; k < c; k++) {
        const tl = src[(y0 + x0) * c + k];
        const tr = src[(y0 + x1) * c + k];
        const bl = src[(y1 + x0) * c + k];
        const br = src[(y1 + x1) * c + k];
        const top = tl + (tr - tl) * fx;
        const bottom = bl + (br - bl) * fx;
        out[(oy * outW + ox) * c + k] = top + (bottom - top) * fy;
      }
    }
  }
  return out;
}

function axisWeights(inSize: number, outSize: number): { lo: Int32Array; hi: Int32Array; frac: Float64Array } {
  const scale = inSize / outSize;
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const s = (o + 0.5) * scale - 0.5;
    const f = Math.floor(s);
    lo[o] = Math.max(f, 0);
    hi[o] = Math.min(f + 1, inSize - 1);
    frac[o] = s - f;
  }
  return { lo, hi, frac };
}

/**
 * Nearest-neighbour resize with the same half-pixel grid (TF2 `method='nearest'`): output pixel `o` copies source
 * `min(floor((o + 0.5)·inSize/outSize), inSize − 1)`. For label maps (e.g. panoptic segment ids), which must not
 * be blended.
 */
export function resizeNearest<T extends Uint8Array | Int32Array | Uint32Array | Float32Array>(
  src: T,
  h: number,
  w: number,
  c: number,
  outH: number,
  outW: number,
): T {
  if (src.length !== h * w * c) throw new RangeError(`resizeNearest: ${src.length} values, expected ${h}×${w}×${c}`);
  const out = new (src.constructor as new (n: number) => T)(outH * outW * c);
  for (let oy = 0; oy < outH; oy++) {
    const sy = Math.min(Math.floor(((oy + 0.5) * h) / outH), h - 1);
    for (let ox = 0; ox < outW; ox++) {
      const sx = Math.min(Math.floor(((ox + 0.5) * w) / outW), w - 1);
      for (let k = 0; k < c; k++) out[(oy * outW + ox) * c + k] = src[(sy * w + sx) * c + k];
    }
  }
  return out;
}

/** 8-bit values → [−1, 1] as big_vision's `value_range(-1, 1)`: v/255·2 − 1 (0 → −1, 255 → 1). In place. */
export function toUnitRange(values: Float32Array): Float32Array {
  for (let i = 0; i < values.length; i++) values[i] = (values[i] / 255) * 2 - 1;
  return values;
}

/** [−1, 1] floats [H, W, 3] → 8-bit RGB (clamped, rounded): the inverse of `toUnitRange`, for visualisations. */
export function fromUnitRange(pixels: Float32Array, height: number, width: number): RgbImage {
  if (pixels.length !== height * width * 3)
    throw new RangeError(`fromUnitRange: ${pixels.length} values, expected ${height}×${width}×3`);
  const data = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) data[i] = Math.round(Math.min(1, Math.max(-1, pixels[i])) * 127.5 + 127.5);
  return { width, height, data };
}

/** Resize + normalise: the model's input for one decoded image. */
export function toModelImage(img: RgbImage, size: ImageSize): ModelImage {
  const pixels = toUnitRange(resizeBilinear(img.data, img.height, img.width, 3, size.height, size.width));
  return { pixels, height: size.height, width: size.width, sourceHeight: img.height, sourceWidth: img.width };
}

export const loadModelImage = (file: string, size: ImageSize): E.Either<string, ModelImage> =>
  E.map((img: RgbImage) => toModelImage(img, size))(readImage(file));

/**
 * Draws, in place, the outline of a COCO-style box [x, y, w, h] (pixel units, may be fractional): the pixels with
 * column in [round(x), round(x + w) − 1] and row in [round(y), round(y + h) − 1] that lie within `thickness` of
 * its border, clipped to the image.
 */
export function drawRect(
  img: RgbImage,
  box: readonly [number, number, number, number],
  color: Rgb,
  thickness = 1,
): RgbImage {
  const [x, y, w, h] = box;
  const c0 = Math.round(x);
  const r0 = Math.round(y);
  const c1 = Math.round(x + w) - 1;
  const r1 = Math.round(y + h) - 1;
  for (let r = Math.max(r0, 0); r <= Math.min(r1, img.height - 1); r++) {
    for (let c = Math.max(c0, 0); c <= Math.min(c1, img.width - 1); c++) {
      const border = r - r0 < thickness || r1 - r < thickness || c - c0 < thickness || c1 - c < thickness;
      if (!border) continue;
      const i = (r * img.width + c) * 3;
      img.data[i] = color[0];
      img.data[i + 1] = color[1];
      img.data[i + 2] = color[2];
    }
  }
  return img;
}
