import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import * as E from 'fp-ts/Either';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import {
  decodeImage,
  drawRect,
  encodePng,
  fromUnitRange,
  loadModelImage,
  readImage,
  resizeBilinear,
  resizeNearest,
  toModelImage,
  toUnitRange,
  type RgbImage,
} from './image';

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

const right = <A>(e: E.Either<string, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left);
  return e.right;
};

describe('resizeBilinear (half-pixel centres, no antialias)', () => {
  it('upscales 2×2 → 4×4 exactly', () => {
    // Source grid s = (o + 0.5)/2 − 0.5 = −0.25, 0.25, 0.75, 1.25 → clamp to px0, ¼ of the way, ¾ of the way, px1.
    // Row 0 [0, 10] → [0, 2.5, 7.5, 10]; rows move towards row 1 (+20) by 0, ¼, ¾, 1 → +0, +5, +15, +20.
    const out = resizeBilinear([0, 10, 20, 30], 2, 2, 1, 4, 4);
    expect(Array.from(out)).toEqual([0, 2.5, 7.5, 10, 5, 7.5, 12.5, 15, 15, 17.5, 22.5, 25, 20, 22.5, 27.5, 30]);
  });

  it('interpolates at a non-integer scale (1×3 → 1×5)', () => {
    // scale 0.6: s = −0.2, 0.4, 1.0, 1.6, 2.2 → a0, a0 + 0.4(a1 − a0), a1, a1 + 0.6(a2 − a1), a2 (clamped).
    const out = resizeBilinear([0, 50, 200], 1, 3, 1, 1, 5);
    expect(Array.from(out)).toEqual([0, 20, 50, 140, 200].map((v) => Math.fround(v)));
  });

  it('downscales 4 → 2 by averaging the two pixels nearest each centre (no antialias), per channel', () => {
    // s = 0.5 and 2.5: mean of px 0,1 and of px 2,3 along each axis.
    const src: number[] = [];
    for (let i = 0; i < 16; i++) src.push(i, 100 + i);
    const out = resizeBilinear(src, 4, 4, 2, 2, 2);
    // rows {0,1} × cols {0,1}: mean(0,1,4,5) = 2.5; cols {2,3}: 4.5; rows {2,3}: 10.5, 12.5.
    expect(Array.from(out)).toEqual([2.5, 102.5, 4.5, 104.5, 10.5, 110.5, 12.5, 112.5]);
  });

  it('is the identity at the same size', () => {
    const src = [1, 2, 3, 4, 5, 6];
    expect(Array.from(resizeBilinear(src, 1, 2, 3, 1, 2))).toEqual(src);
  });
});

describe('resizeNearest', () => {
  it('picks floor((o + 0.5)·in/out) on both axes', () => {
    // 3 → 2: o=0 → floor(0.75) = 0, o=1 → floor(2.25) = 2.  1 → 3 repeats.
    expect(Array.from(resizeNearest(Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), 3, 3, 1, 2, 2))).toEqual([
      1, 3, 7, 9,
    ]);
    const up = resizeNearest(Uint32Array.from([7]), 1, 1, 1, 2, 3);
    expect(up).toBeInstanceOf(Uint32Array);
    expect(Array.from(up)).toEqual([7, 7, 7, 7, 7, 7]);
  });
});

describe('value range', () => {
  it('maps 0 → −1, 255 → 1, 127.5 → 0 (v/255·2 − 1) and back', () => {
    const v = toUnitRange(Float32Array.from([0, 255, 127.5, 51]));
    expect(Array.from(v)).toEqual([-1, 1, 0, Math.fround(0.2 * 2 - 1)]);
    expect(Array.from(fromUnitRange(Float32Array.from([-1, 1, 0, -2, 2, 0.2]), 1, 2).data)).toEqual([
      0, 255, 128, 0, 255, 153,
    ]);
  });

  it('toModelImage resizes then normalises', () => {
    const img: RgbImage = { width: 2, height: 1, data: Uint8Array.from([0, 0, 0, 255, 255, 255]) };
    const m = toModelImage(img, { height: 1, width: 4 });
    // Columns read s = −0.25, 0.25, 0.75, 1.25 → 0, 63.75, 191.25, 255 → −1, −0.5, 0.5, 1.
    expect(Array.from(m.pixels)).toEqual([-1, -1, -1, -0.5, -0.5, -0.5, 0.5, 0.5, 0.5, 1, 1, 1]);
    expect([m.height, m.width, m.sourceHeight, m.sourceWidth]).toEqual([1, 4, 1, 2]);
  });
});

describe('decode / encode', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cm-image-'));
  const img: RgbImage = {
    width: 3,
    height: 2,
    data: Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 1, 2, 3, 4, 5, 6, 250, 251, 252]),
  };

  it('round-trips RGB through PNG exactly and recognises it by signature, whatever the name', () => {
    const f = path.join(dir, 'really-a-png.jpg');
    writeFileSync(f, encodePng(img));
    const back = right(readImage(f));
    expect([back.width, back.height]).toEqual([3, 2]);
    expect(Array.from(back.data)).toEqual(Array.from(img.data));
  });

  it('expands grayscale and 16-bit PNGs to 8-bit RGB', () => {
    const gray = new PNG({ width: 2, height: 1, colorType: 0, inputColorType: 0, inputHasAlpha: false });
    gray.data = Buffer.from([10, 200]);
    const g = right(
      decodeImage(PNG.sync.write(gray, { colorType: 0, inputColorType: 0, inputHasAlpha: false }), 'g.png'),
    );
    expect(Array.from(g.data)).toEqual([10, 10, 10, 200, 200, 200]);
    // 16-bit RGB: 0xFFFF → 255, 0x0000 → 0, 0x8080 → 128 (pngjs rescales by 255/65535: 32896·255/65535 = 128).
    // Built by hand (IHDR: 1×1, depth 16, colour type 2; IDAT: filter byte 0 + three big-endian samples).
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(1, 0);
    ihdr.writeUInt32BE(1, 4);
    ihdr.set([16, 2, 0, 0, 0], 8);
    const idat = deflateSync(Buffer.from([0, 0xff, 0xff, 0x00, 0x00, 0x80, 0x80]));
    const bytes = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', idat),
      chunk('IEND', Buffer.alloc(0)),
    ]);
    const d = right(decodeImage(bytes, 'd.png'));
    expect(Array.from(d.data)).toEqual([255, 0, 128]);
  });

  it('decodes a JPEG (lossy: within a few levels for a flat colour)', () => {
    const w = 16;
    const rgba = Buffer.alloc(w * w * 4);
    for (let i = 0; i < w * w; i++) rgba.set([200, 100, 50, 255], 4 * i);
    const bytes = jpeg.encode({ data: rgba, width: w, height: w }, 100).data;
    const back = right(decodeImage(bytes, 'x.jpg'));
    expect([back.width, back.height, back.data.length]).toEqual([w, w, w * w * 3]);
    for (let i = 0; i < w * w; i++) {
      expect(Math.abs(back.data[3 * i] - 200)).toBeLessThanOrEqual(3);
      expect(Math.abs(back.data[3 * i + 1] - 100)).toBeLessThanOrEqual(3);
      expect(Math.abs(back.data[3 * i + 2] - 50)).toBeLessThanOrEqual(3);
    }
  });

  it('names the file for unknown, truncated and missing images', () => {
    expect(decodeImage(Uint8Array.from([1, 2, 3, 4]), 'a.bin')).toEqual(
      E.left('a.bin: not a PNG or JPEG file (unknown signature)'),
    );
    const png = encodePng(img);
    const r = decodeImage(png.subarray(0, 30), 'cut.png');
    expect(E.isLeft(r) && r.left.startsWith('cut.png: cannot decode image (')).toBe(true);
    expect(readImage(path.join(dir, 'none.png'))).toEqual(
      E.left(`${path.join(dir, 'none.png')}: cannot read file (ENOENT)`),
    );
  });

  it('loadModelImage reads, resizes and normalises a file', () => {
    const f = path.join(dir, 'm.png');
    writeFileSync(f, encodePng(img));
    const m = right(loadModelImage(f, { height: 2, width: 3 }));
    expect(m.pixels[0]).toBe(1);
    expect(m.pixels[1]).toBe(-1);
    expect(m.pixels.length).toBe(18);
  });
});

describe('drawRect', () => {
  const blank = (w: number, h: number): RgbImage => ({ width: w, height: h, data: new Uint8Array(w * h * 3) });
  const mask = (img: RgbImage): string[] => {
    const rows: string[] = [];
    for (let r = 0; r < img.height; r++) {
      let s = '';
      for (let c = 0; c < img.width; c++) s += img.data[(r * img.width + c) * 3] ? '#' : '.';
      rows.push(s);
    }
    return rows;
  };

  it('outlines [x, y, w, h] over columns round(x)..round(x+w)−1 in the given colour', () => {
    const img = drawRect(blank(6, 5), [1, 1, 4, 3], [255, 128, 7]);
    expect(mask(img)).toEqual(['......', '.####.', '.#..#.', '.####.', '......']);
    expect(Array.from(img.data.subarray((1 * 6 + 1) * 3, (1 * 6 + 1) * 3 + 3))).toEqual([255, 128, 7]);
  });

  it('clips to the image and supports thickness', () => {
    expect(mask(drawRect(blank(4, 4), [-2, -2, 5.4, 5.4], [9, 9, 9]))).toEqual(['..#.', '..#.', '###.', '....']);
    expect(mask(drawRect(blank(5, 5), [0, 0, 5, 5], [9, 9, 9], 2))).toEqual([
      '#####',
      '#####',
      '##.##',
      '#####',
      '#####',
    ]);
  });
});
