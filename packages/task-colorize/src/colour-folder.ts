/**
 * Real colorization data: an ImageNet-style folder of colour images, read recursively (JPEG and PNG, recognised by
 * their bytes through core-model's image I/O), each centre-cropped to a square and resized to the model's size, as
 * big_vision's `resize_small` + `central_crop` do at evaluation.
 *
 * - Files are listed in sorted path order (deterministic); names starting with '.' (e.g. .DS_Store) are skipped.
 *   Every other file must be named .jpg, .jpeg or .png (any case): anything else is reported, not skipped.
 * - Resize: the centred square of side min(H, W) is first box-averaged by the integer factor ⌊side/size⌋ when that
 *   is ≥ 2 (a 500-pixel photo must not be sampled at 4 of every 64 pixels), then resized bilinearly (core-model's
 *   half-pixel grid) to size × size. Values go to [−1, 1] as v/255·2 − 1, and the model's input is the grey image
 *   (`toGrayRgb`).
 * - A folder whose images are all greyscale cannot teach colour: `requireColour` (and `readColourFolder` with
 *   `forTraining`) reports it. An image counts as greyscale when no pixel's channels differ by more than
 *   GREYSCALE_TOLERANCE (8 of 255, room for JPEG chroma noise).
 * Problems come back as one line `<path>: <what is wrong>` in a Left; a command turns it into exit code 2 with
 * core-model's `orUsageError`.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { readImage, resizeBilinear, toUnitRange, type RgbImage } from '@reward-tune/core-model';
import { toGrayRgb } from './grayscale';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'] as const;
export const GREYSCALE_TOLERANCE = 8;

/** One example for the model. */
export interface ColourExample {
  readonly file: string;
  readonly size: number;
  /** [size, size, 3] in [−1, 1]: the target. */
  readonly rgb: Float32Array;
  /** [size, size, 3] in [−1, 1], luma repeated ×3: the input. */
  readonly grey: Float32Array;
  readonly sourceWidth: number;
  readonly sourceHeight: number;
  /** The decoded file has no colour (see GREYSCALE_TOLERANCE). */
  readonly greyscale: boolean;
}

const isImageName = (name: string): boolean =>
  (IMAGE_EXTENSIONS as readonly string[]).includes(path.extname(name).toLowerCase());

/** The image files under `dir`, recursively, in sorted order; a Left for a missing folder, a stray file or none. */
export function listColourImages(dir: string): E.Either<string, string[]> {
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    return E.left(
      `${dir}: no such folder${(err as NodeJS.ErrnoException).code === 'ENOENT' ? '' : ` (${(err as NodeJS.ErrnoException).code})`}`,
    );
  }
  if (!st.isDirectory()) return E.left(`${dir}: not a folder (expected a folder of JPEG or PNG images)`);
  const files: string[] = [];
  const pending = [dir];
  while (pending.length > 0) {
    const d = pending.pop()!;
    let names: string[];
    try {
      names = readdirSync(d);
    } catch (err) {
      return E.left(`${d}: cannot list folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const p = path.join(d, name);
      let s;
      try {
        s = statSync(p);
      } catch (err) {
        return E.left(`${p}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      if (s.isDirectory()) pending.push(p);
      else if (!isImageName(name))
        return E.left(`${p}: not a JPEG or PNG image (every file under ${dir} must be .jpg, .jpeg or .png)`);
      else files.push(p);
    }
  }
  if (files.length === 0) return E.left(`${dir}: no images (expected JPEG or PNG files, searched recursively)`);
  return E.right(files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Whether no pixel of an 8-bit image has channels further apart than `tolerance`. */
export function isGreyscaleImage(img: RgbImage, tolerance = GREYSCALE_TOLERANCE): boolean {
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) {
    const hi = Math.max(d[i], d[i + 1], d[i + 2]);
    const lo = Math.min(d[i], d[i + 1], d[i + 2]);
    if (hi - lo > tolerance) return false;
  }
  return true;
}

/**
 * The centred square of an 8-bit image, box-averaged by ⌊side/size⌋ when that is ≥ 2, then resized bilinearly to
 * size × size: [size, size, 3] in [−1, 1].
 */
export function centreCropResize(img: RgbImage, size: number): Float32Array {
  if (!(Number.isInteger(size) && size >= 1))
    throw new RangeError(`centreCropResize: size must be a positive integer, got ${size}`);
  const { width: W, height: H } = img;
  if (W < 1 || H < 1 || img.data.length !== W * H * 3)
    throw new RangeError(`centreCropResize: bad image ${W}×${H} with ${img.data.length} values`);
  const side = Math.min(W, H);
  const k = Math.max(1, Math.floor(side / size));
  const m = Math.floor(side / k); // side after the box filter
  const used = m * k;
  const x0 = Math.floor((W - used) / 2);
  const y0 = Math.floor((H - used) / 2);
  const box = new Float32Array(m * m * 3);
  const norm = 1 / (k * k);
  for (let oy = 0; oy < m; oy++) {
    for (let ox = 0; ox < m; ox++) {
      let r = 0,
        g = 0,
        b = 0;
      for (let dy = 0; dy < k; dy++) {
        let p = ((y0 + oy * k + dy) * W + x0 + ox * k) * 3;
        for (let dx = 0; dx < k; dx++, p += 3) {
          r += img.data[p];
          g += img.data[p + 1];
          b += img.data[p + 2];
        }
      }
      const q = (oy * m + ox) * 3;
      box[q] = r * norm;
      box[q + 1] = g * norm;
      box[q + 2] = b * norm;
    }
  }
  return toUnitRange(m === size ? box : resizeBilinear(box, m, m, 3, size, size));
}

/** Decodes one file into an example (any size in; size × size out). */
export function loadColourExample(file: string, size: number): E.Either<string, ColourExample> {
  return E.map((img: RgbImage) => {
    const rgb = centreCropResize(img, size);
    return {
      file,
      size,
      rgb,
      grey: toGrayRgb(rgb),
      sourceWidth: img.width,
      sourceHeight: img.height,
      greyscale: isGreyscaleImage(img),
    };
  })(readImage(file));
}

/** A Left when every example is greyscale (training needs colour to learn from). */
export function requireColour(
  dir: string,
  examples: readonly ColourExample[],
): E.Either<string, readonly ColourExample[]> {
  if (examples.length > 0 && examples.every((e) => e.greyscale)) {
    const n = examples.length;
    return E.left(
      `${dir}: ${n === 1 ? 'the only image is' : `all ${n} images are`} greyscale; training colorization needs colour images`,
    );
  }
  return E.right(examples);
}

export interface ColourFolderOptions {
  /** Model image side in pixels. */
  readonly size: number;
  /** Read at most this many files (the first in sorted order); default all. */
  readonly maxImages?: number;
  /** Require at least one colour image (a Left naming the folder otherwise). */
  readonly forTraining?: boolean;
}

/** Lists, decodes and prepares a folder's images; the first problem is the Left. */
export function readColourFolder(dir: string, opts: ColourFolderOptions): E.Either<string, ColourExample[]> {
  const listed = listColourImages(dir);
  if (E.isLeft(listed)) return listed;
  const files = opts.maxImages === undefined ? listed.right : listed.right.slice(0, Math.max(0, opts.maxImages));
  const examples: ColourExample[] = [];
  for (const f of files) {
    const ex = loadColourExample(f, opts.size);
    if (E.isLeft(ex)) return ex;
    examples.push(ex.right);
  }
  if (opts.forTraining) {
    const ok = requireColour(dir, examples);
    if (E.isLeft(ok)) return ok;
  }
  return E.right(examples);
}
