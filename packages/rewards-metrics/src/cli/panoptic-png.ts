/**
 * Segment-id maps straight from panoptic PNGs (id = R + 256·G + 256²·B per pixel, alpha ignored): the PNG decoder of
 * `rewards-metrics pq`. Panoptic PNGs are 8-bit RGB or RGBA and not interlaced, so this decoder walks the chunks,
 * inflates the image data once (zlib, native), undoes each row's filter in place and writes the ids as it goes:
 * no RGBA copy of the image as pngjs makes one. Chunk CRCs are checked as pngjs checks them (where this Node has
 * zlib.crc32). Interlaced (Adam7) files, rare and legal, go through pngjs.
 */
import * as zlib from 'node:zlib';
import * as E from 'fp-ts/Either';
import { rgbToSegmentIds } from '../panoptic-quality';

export interface SegmentIdMap {
  readonly width: number;
  readonly height: number;
  /** [height·width]: segment id per pixel, 0 = VOID. */
  readonly ids: Uint32Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const IHDR = 0x49484452;
const IDAT = 0x49444154;
const IEND = 0x49454e44;

const crc32: ((data: Uint8Array) => number) | undefined = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;

/**
 * Decodes an 8-bit RGB or RGBA PNG into segment ids; every problem is a Left naming `file`. The ids go into `out`
 * when it has exactly width·height entries (a caller decoding many images of one size reuses it), else into a new
 * array.
 */
export function decodePanopticPng(buf: Uint8Array, file: string, out?: Uint32Array): E.Either<string, SegmentIdMap> {
  if (buf.length < 33 || SIGNATURE.some((b, i) => buf[i] !== b)) return E.left(`${file}: not a PNG image`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const depth = buf[24];
  const colorType = buf[25];
  if (depth !== 8 || (colorType !== 2 && colorType !== 6)) {
    return E.left(`${file}: expected an 8-bit RGB or RGBA PNG (bit depth ${depth}, colour type ${colorType})`);
  }
  const bad = (why: string): E.Either<string, SegmentIdMap> => E.left(`${file}: cannot decode image (${why})`);
  if (view.getUint32(12) !== IHDR || view.getUint32(8) !== 13) return bad('IHDR is not the first chunk');
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  if (width === 0 || height === 0) return bad(`image size ${width}×${height}`);
  if (buf[26] !== 0 || buf[27] !== 0) return bad('unknown compression or filter method');
  if (buf[28] === 1) return viaPngjs(buf, file);
  if (buf[28] !== 0) return bad(`unknown interlace method ${buf[28]}`);

  const parts: Uint8Array[] = [];
  let ended = false;
  for (let p = 8; p + 12 <= buf.length;) {
    const length = view.getUint32(p);
    const type = view.getUint32(p + 4);
    const end = p + 12 + length;
    if (end > buf.length) return bad('truncated chunk');
    if (crc32 && crc32(buf.subarray(p + 4, p + 8 + length)) !== view.getUint32(p + 8 + length))
      return bad('chunk CRC mismatch');
    if (type === IDAT) parts.push(buf.subarray(p + 8, p + 8 + length));
    else if (type === IEND) {
      ended = true;
      break;
    }
    p = end;
  }
  if (!ended) return bad('no IEND chunk');
  if (parts.length === 0) return bad('no image data');
  const bpp = colorType === 6 ? 4 : 3;
  const rowBytes = width * bpp + 1;
  let raw: Uint8Array;
  try {
    // One output chunk of the expected size: zlib then hands back that buffer instead of joining 16 KiB pieces.
    raw = zlib.inflateSync(parts.length === 1 ? parts[0] : Buffer.concat(parts), {
      chunkSize: Math.max(64, rowBytes * height),
    });
  } catch (err) {
    return bad((err as Error).message);
  }
  if (raw.length < rowBytes * height) return bad('image data too short');
  const ids = out !== undefined && out.length === width * height ? out : new Uint32Array(width * height);
  const problem = unfilterToIds(raw, width, height, bpp, ids);
  return problem === undefined ? E.right({ width, height, ids }) : bad(problem);
}

/** Per-byte sum mod 256 of two packed RGB values (no carry from one byte into the next). */
const addRgb = (a: number, b: number): number => ((a & 0x7f7f7f) + (b & 0x7f7f7f)) ^ ((a ^ b) & 0x808080);
/** Per-byte floor((a + b) / 2) of two packed RGB values. */
const avgRgb = (a: number, b: number): number => (a & b) + (((a ^ b) & 0xfefefe) >>> 1);

/** Per-byte Paeth predictor of packed RGB values a (left), b (up), c (up-left). */
function paethRgb(a: number, b: number, c: number): number {
  let out = 0;
  for (let s = 0; s < 24; s += 8) {
    const x = (a >>> s) & 255;
    const y = (b >>> s) & 255;
    const z = (c >>> s) & 255;
    const pa = y > z ? y - z : z - y; // |p − a| with p = a + b − c
    const pb = x > z ? x - z : z - x;
    const pc = x + y > 2 * z ? x + y - 2 * z : 2 * z - x - y;
    out |= (pa <= pb && pa <= pc ? x : pb <= pc ? y : z) << s;
  }
  return out;
}

/** First index in [pos, end) whose byte is not 0, else `end`; four bytes at a time through `words` (same buffer). */
function nextNonZero(bytes: Uint8Array, words: Uint32Array, pos: number, end: number): number {
  while (pos < end && (pos & 3) !== 0) {
    if (bytes[pos] !== 0) return pos;
    pos++;
  }
  let k = pos >>> 2;
  const kEnd = end >>> 2;
  while (k < kEnd && words[k] === 0) k++;
  for (pos = k << 2; pos < end; pos++) if (bytes[pos] !== 0) return pos;
  return end;
}

/**
 * Undoes the row filters of non-interlaced 8-bit data (`raw`: a filter byte, then width·bpp bytes, per row) and writes
 * R + 256·G + 256²·B of each pixel into `ids`. A problem (an unknown filter type) as text.
 *
 * Works on packed RGB values rather than bytes: filters act on each channel alone, so R, G and B can be undone
 * together (alpha, not part of the id, is skipped) and each pixel is one integer. Panoptic maps are flat, so almost
 * every filtered pixel is 0 (over 99% in COCO-like maps). A pixel with a 0 residual equals its predictor, so such
 * runs, found four bytes at a time, become a native fill (None, Sub) or a copy of the row above (Up; Paeth once the
 * left pixel equals the upper-left one, after which its predictor is the pixel above); only the other pixels are
 * computed one by one.
 */
export function unfilterToIds(
  raw: Uint8Array,
  width: number,
  height: number,
  bpp: number,
  ids: Uint32Array,
): string | undefined {
  if (raw.byteOffset % 4 !== 0) raw = raw.slice(); // the four-byte view needs an aligned start
  const words = new Uint32Array(raw.buffer, raw.byteOffset, raw.length >>> 2);
  const stride = width * bpp;
  const zeroRow = new Uint32Array(width);
  for (let y = 0; y < height; y++) {
    const start = y * (stride + 1) + 1; // the row's first byte after its filter type
    const end = start + stride;
    const filter = raw[start - 1];
    if (filter > 4) return `unknown filter type ${filter} in row ${y}`;
    const cur = ids.subarray(y * width, (y + 1) * width);
    const up = y === 0 ? zeroRow : ids.subarray((y - 1) * width, y * width);
    let x = 0;
    while (x < width) {
      // Pixels x..next−1 have a 0 residual; pixel `next` (if < width) does not.
      const nz = nextNonZero(raw, words, start + x * bpp, end);
      const next = nz === end ? width : Math.floor((nz - start) / bpp);
      if (next > x) {
        if (filter === 0) cur.fill(0, x, next);
        else if (filter === 1) cur.fill(x === 0 ? 0 : cur[x - 1], x, next);
        else if (filter === 2) cur.set(up.subarray(x, next), x);
        else {
          for (let i = x; i < next; i++) {
            const a = i === 0 ? 0 : cur[i - 1];
            const c = i === 0 ? 0 : up[i - 1];
            if (filter === 4 && a === c) {
              cur.set(up.subarray(i, next), i);
              break;
            }
            cur[i] = filter === 3 ? avgRgb(a, up[i]) : paethRgb(a, up[i], c);
          }
        }
      }
      if (next >= width) break;
      const p = start + next * bpp;
      const r = raw[p] | (raw[p + 1] << 8) | (raw[p + 2] << 16);
      const a = next === 0 ? 0 : cur[next - 1];
      if (filter === 0) cur[next] = r;
      else if (filter === 1) cur[next] = addRgb(r, a);
      else if (filter === 2) cur[next] = addRgb(r, up[next]);
      else if (filter === 3) cur[next] = addRgb(r, avgRgb(a, up[next]));
      else cur[next] = addRgb(r, paethRgb(a, up[next], next === 0 ? 0 : up[next - 1]));
      x = next + 1;
    }
  }
  return undefined;
}

function viaPngjs(buf: Uint8Array, file: string): E.Either<string, SegmentIdMap> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- pngjs loads only for interlaced files
    const { PNG } = require('pngjs') as typeof import('pngjs');
    const png = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
    const ids = rgbToSegmentIds({ width: png.width, height: png.height, channels: 4, data: png.data });
    return E.right({ width: png.width, height: png.height, ids });
  } catch (err) {
    return E.left(`${file}: cannot decode image (${(err as Error).message})`);
  }
}
