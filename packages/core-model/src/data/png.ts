/**
 * The PNG codec of image.ts for the files this project reads and writes most: 8-bit, non-interlaced grey, grey+alpha,
 * RGB or RGBA (every synthetic data set, COCO's panoptic maps, most photos saved as PNG). Decoding walks the chunks,
 * inflates the image data once (zlib, native) and undoes the row filters straight into RGB; encoding writes RGB rows
 * with the `Sub` filter through one deflate. pngjs does the same through streams, an RGBA copy and per-row adaptive
 * filtering: about 2× slower to read a 64×64 image and 3× slower to write one, which decided how long a data set
 * of 25,000 scenes took to write and to read. Everything else (palettes, 1–4 and 16 bits, Adam7 interlacing) is left
 * to pngjs: `decodePng8` answers `undefined` for it.
 */
import * as zlib from 'node:zlib';
import * as E from 'fp-ts/Either';

/** 8-bit RGB pixels [H, W, 3]. */
export interface Rgb8 {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const IHDR = 0x49484452;
const IDAT = 0x49444154;
const IEND = 0x49454e44;
/** Bytes per pixel of the 8-bit colour types handled here: grey, RGB, grey+alpha, RGBA. */
const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/**
 * Decodes an 8-bit non-interlaced grey / grey+alpha / RGB / RGBA PNG to RGB (alpha dropped, grey repeated); `undefined`
 * for any other kind of PNG (the caller's general decoder takes it), a Left naming `file` for a broken one.
 */
export function decodePng8(buf: Uint8Array, file: string): E.Either<string, Rgb8> | undefined {
  const bad = (why: string): E.Either<string, Rgb8> => E.left(`${file}: cannot decode image (${why})`);
  if (buf.length < 33 || SIGNATURE.some((b, i) => buf[i] !== b)) return bad('not a PNG signature');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint32(12) !== IHDR || view.getUint32(8) !== 13) return bad('IHDR is not the first chunk');
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const channels = CHANNELS[buf[25]];
  if (buf[24] !== 8 || channels === undefined || buf[28] !== 0) return undefined;
  if (width === 0 || height === 0) return bad(`image size ${width}×${height}`);
  if (buf[26] !== 0 || buf[27] !== 0) return bad('unknown compression or filter method');

  const parts: Uint8Array[] = [];
  let ended = false;
  for (let p = 8; p + 12 <= buf.length;) {
    const length = view.getUint32(p);
    const end = p + 12 + length;
    if (end > buf.length) return bad('truncated chunk');
    if (crc32(buf.subarray(p + 4, p + 8 + length)) !== view.getUint32(p + 8 + length)) return bad('chunk CRC mismatch');
    const type = view.getUint32(p + 4);
    if (type === IDAT) parts.push(buf.subarray(p + 8, p + 8 + length));
    else if (type === IEND) {
      ended = true;
      break;
    }
    p = end;
  }
  if (!ended) return bad('no IEND chunk');
  if (parts.length === 0) return bad('no image data');
  const stride = width * channels;
  let raw: Uint8Array;
  try {
    // One output chunk of the expected size: zlib then hands back that buffer instead of joining 16 KiB pieces.
    raw = zlib.inflateSync(parts.length === 1 ? parts[0] : Buffer.concat(parts), {
      chunkSize: Math.max(64, (stride + 1) * height),
    });
  } catch (err) {
    return bad((err as Error).message);
  }
  if (raw.length < (stride + 1) * height) return bad('image data too short');
  const problem = unfilter(raw, stride, height, channels);
  if (problem !== undefined) return bad(problem);
  return E.right({ width, height, data: toRgb(raw, width, height, channels) });
}

/**
 * Undoes the row filters of `raw` (per row a filter byte, then `stride` bytes) in place, each row's bytes moved one
 * to the left over its filter byte, so that row y's pixels end at [y·stride, (y + 1)·stride). `bpp` bytes per pixel.
 */
function unfilter(raw: Uint8Array, stride: number, height: number, bpp: number): string | undefined {
  for (let y = 0; y < height; y++) {
    const from = y * (stride + 1) + 1;
    const at = y * stride; // where this row's bytes go; the previous row's start at at − stride
    const filter = raw[from - 1];
    const up = y > 0;
    switch (filter) {
      case 0:
        raw.copyWithin(at, from, from + stride);
        break;
      case 1:
        for (let i = 0; i < stride; i++) raw[at + i] = raw[from + i] + (i >= bpp ? raw[at + i - bpp] : 0);
        break;
      case 2:
        for (let i = 0; i < stride; i++) raw[at + i] = raw[from + i] + (up ? raw[at + i - stride] : 0);
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? raw[at + i - bpp] : 0;
          const b = up ? raw[at + i - stride] : 0;
          raw[at + i] = raw[from + i] + ((a + b) >>> 1);
        }
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? raw[at + i - bpp] : 0;
          const b = up ? raw[at + i - stride] : 0;
          const c = up && i >= bpp ? raw[at + i - stride - bpp] : 0;
          const pa = Math.abs(b - c); // |p − a| with p = a + b − c
          const pb = Math.abs(a - c);
          const pc = Math.abs(a + b - 2 * c);
          raw[at + i] = raw[from + i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
        }
        break;
      default:
        return `unknown filter type ${filter} in row ${y}`;
    }
  }
  return undefined;
}

/** The unfiltered rows (`channels` bytes a pixel) as RGB. */
function toRgb(raw: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  const n = width * height;
  if (channels === 3) return raw.slice(0, 3 * n);
  const out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    if (channels >= 3) {
      out[3 * i] = raw[channels * i];
      out[3 * i + 1] = raw[channels * i + 1];
      out[3 * i + 2] = raw[channels * i + 2];
    } else {
      const g = raw[channels * i];
      out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = g;
    }
  }
  return out;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const b = Buffer.alloc(12 + data.length);
  b.writeUInt32BE(data.length, 0);
  b.write(type, 4, 'latin1');
  b.set(data, 8);
  b.writeUInt32BE(crc32(b.subarray(4, 8 + data.length)), 8 + data.length);
  return b;
}

let crcTable: Uint32Array | undefined;
/** CRC-32 (ISO 3309, as PNG chunks use it), for a Node whose zlib has none (zlib.crc32 came with 20.15 and 22.2). */
function crcOf(data: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const zlibCrc = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
/** The chunk CRC, unsigned. */
const crc32 = (data: Uint8Array): number => (zlibCrc !== undefined ? zlibCrc(data) >>> 0 : crcOf(data));

/** An 8-bit RGB PNG of `img`: every row with the Sub filter, zlib level 6. */
export function encodePngRgb(img: Rgb8): Buffer {
  const { width, height, data } = img;
  const stride = width * 3;
  if (!(width > 0 && height > 0) || data.length !== stride * height)
    throw new RangeError(`encodePng: ${data.length} bytes for a ${width}×${height} RGB image`);
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1);
    const s = y * stride;
    raw[o] = 1; // Sub: each byte minus the same channel of the pixel on its left
    for (let i = 0; i < 3 && i < stride; i++) raw[o + 1 + i] = data[s + i];
    for (let i = 3; i < stride; i++) raw[o + 1 + i] = data[s + i] - data[s + i - 3];
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB; compression, filter method and interlace stay 0
  return Buffer.concat([
    Buffer.from(SIGNATURE),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 6 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}
