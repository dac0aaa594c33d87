// The pq command's PNG decoder against pngjs (+ rgbToSegmentIds) on every filter type, both colour types, flat and
// noisy maps, widths whose rows do not fall on four-byte boundaries, and the files it must refuse.
import * as E from 'fp-ts/Either';
import { PNG } from 'pngjs';
import { mulberry32 } from '../bench/caption';
import { rgbToSegmentIds } from '../panoptic-quality';
import { decodePanopticPng } from './panoptic-png';

/** A panoptic-like map: rectangles of a few ids over a background, plus `noise` of pixels with random ids. */
function idMap(width: number, height: number, seed: number, noise: number): Uint32Array {
  const rand = mulberry32(seed);
  const ids = new Uint32Array(width * height).fill(0x10203);
  for (let r = 0; r < 12; r++) {
    const id = Math.floor(rand() * 0xffffff);
    const [x0, y0] = [Math.floor(rand() * width), Math.floor(rand() * height)];
    const [x1, y1] = [x0 + Math.floor(rand() * width), y0 + Math.floor(rand() * height)];
    for (let y = y0; y < Math.min(y1, height); y++)
      ids.fill(rand() < 0.1 ? 0 : id, y * width + x0, y * width + Math.min(x1, width));
  }
  for (let i = 0; i < width * height; i++) if (rand() < noise) ids[i] = Math.floor(rand() * 0x1000000);
  return ids;
}

function encode(ids: Uint32Array, width: number, height: number, colorType: 2 | 6, filterType: number): Buffer {
  const png = new PNG({ width, height });
  for (let i = 0; i < ids.length; i++) {
    png.data[4 * i] = ids[i] & 255;
    png.data[4 * i + 1] = (ids[i] >>> 8) & 255;
    png.data[4 * i + 2] = ids[i] >>> 16;
    // RGBA: alpha varies and must not leak into the ids (pngjs would blend it away when writing RGB).
    png.data[4 * i + 3] = colorType === 6 ? 255 - (i % 7) : 255;
  }
  return PNG.sync.write(png, { colorType, filterType });
}

const viaPngjs = (buf: Buffer): Uint32Array => {
  const png = PNG.sync.read(buf);
  return rgbToSegmentIds({ width: png.width, height: png.height, channels: 4, data: png.data });
};

describe('decodePanopticPng', () => {
  // filterType −1: pngjs picks per row (adaptive, as Pillow does), so rows of every type meet in one file.
  const cases: [number, number, 2 | 6, number, number][] = [];
  for (const filterType of [0, 1, 2, 3, 4, -1])
    for (const colorType of [2, 6] as const)
      cases.push([37, 23, colorType, filterType, 0.01], [64, 9, colorType, filterType, 0.3]);
  it.each(cases)(
    '%i×%i, colour type %i, filter %i, noise %f: the ids pngjs decodes',
    (w, h, colorType, filter, noise) => {
      const ids = idMap(w, h, w * 31 + filter + colorType, noise);
      const buf = encode(ids, w, h, colorType, filter);
      const r = decodePanopticPng(buf, 'x.png');
      if (E.isLeft(r)) throw new Error(r.left);
      expect([r.right.width, r.right.height]).toEqual([w, h]);
      expect(Array.from(r.right.ids)).toEqual(Array.from(ids));
      expect(Array.from(r.right.ids)).toEqual(Array.from(viaPngjs(buf)));
    },
  );

  it('decodes into a given array of the right size, and into a new one otherwise', () => {
    const ids = idMap(16, 8, 5, 0.05);
    const buf = encode(ids, 16, 8, 2, -1);
    const out = new Uint32Array(16 * 8);
    const r = decodePanopticPng(buf, 'x.png', out);
    expect(E.isRight(r) && r.right.ids).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(ids));
    const other = decodePanopticPng(buf, 'x.png', new Uint32Array(5));
    expect(E.isRight(other) && other.right.ids.length).toBe(16 * 8);
  });

  it('decodes from a buffer that starts at an odd offset', () => {
    const ids = idMap(9, 7, 8, 0.1);
    const buf = encode(ids, 9, 7, 6, -1);
    const shifted = Buffer.alloc(buf.length + 3);
    buf.copy(shifted, 3);
    const r = decodePanopticPng(shifted.subarray(3), 'x.png');
    expect(E.isRight(r) && Array.from(r.right.ids)).toEqual(Array.from(ids));
  });

  it('refuses what is not an 8-bit RGB(A) PNG, a bad CRC, a bad filter type and truncated data, naming the file', () => {
    const ids = idMap(8, 4, 1, 0);
    const good = encode(ids, 8, 4, 2, 0);
    const left = (b: Uint8Array): string => {
      const r = decodePanopticPng(b, 'p.png');
      return E.isLeft(r) ? r.left : 'decoded';
    };
    expect(left(Buffer.from('hello, world: not an image at all!'))).toBe('p.png: not a PNG image');
    const grey = new PNG({ width: 4, height: 4 });
    grey.data.fill(9);
    expect(left(PNG.sync.write(grey, { colorType: 0 }))).toBe(
      'p.png: expected an 8-bit RGB or RGBA PNG (bit depth 8, colour type 0)',
    );
    // The IDAT chunk starts after the signature (8) and IHDR (25 bytes); flip a byte of its data: CRC mismatch.
    const crc = Buffer.from(good);
    crc[33 + 8] ^= 0xff;
    // (zlib.crc32 is in Node ≥ 20.15; without it the inflater's own checksum refuses the data.)
    expect(left(crc)).toMatch(
      'crc32' in jest.requireActual('node:zlib')
        ? /^p\.png: cannot decode image \(chunk CRC mismatch\)$/
        : /^p\.png: cannot decode image \(/,
    );
    expect(left(good.subarray(0, good.length - 20))).toMatch(/^p\.png: cannot decode image \(/);
  });

  it('reports an unknown row filter type', () => {
    // A hand-made 1×1 RGB file whose only row has filter type 7.
    const zlib = jest.requireActual<typeof import('node:zlib')>('node:zlib');
    const chunk = (type: string, data: Buffer): Buffer => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(zlib.crc32 ? zlib.crc32(body) : 0);
      return Buffer.concat([len, body, crc]);
    };
    const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
    const file = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', zlib.deflateSync(Buffer.from([7, 1, 2, 3]))),
      chunk('IEND', Buffer.alloc(0)),
    ]);
    const r = decodePanopticPng(file, 'f.png');
    expect(E.isLeft(r) && r.left).toBe('f.png: cannot decode image (unknown filter type 7 in row 0)');
  });
});
