// png.ts against pngjs: every kind of PNG it takes, written by pngjs with each row filter, decodes to pngjs's pixels;
// what it leaves to pngjs says so; broken files are one Left naming the file; its encoder's files read back exactly.
import * as E from 'fp-ts/Either';
import { PNG } from 'pngjs';
import { Rng } from '../rng';
import { decodePng8, encodePngRgb } from './png';

/** A w×h RGBA image with smooth areas and noise, so that every filter has work to do. */
function rgba(w: number, h: number, seed: number): Buffer {
  const rng = Rng.fromSeed(seed);
  const d = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = 4 * (y * w + x);
      d[o] = (x * 7 + y * 3) & 255;
      d[o + 1] = x < w / 2 ? 200 : rng.int(256);
      d[o + 2] = (x * y) & 255;
      d[o + 3] = (x + y) & 1 ? 255 : 128;
    }
  return d;
}

/** pngjs's decode of `bytes` as RGB (its RGBA, alpha dropped). */
function viaPngjs(bytes: Buffer): number[] {
  const p = PNG.sync.read(bytes);
  const out: number[] = [];
  for (let i = 0; i < p.width * p.height; i++) out.push(p.data[4 * i], p.data[4 * i + 1], p.data[4 * i + 2]);
  return out;
}

const right = <T>(r: E.Either<string, T> | undefined): T => {
  if (r === undefined || E.isLeft(r)) throw new Error(r === undefined ? 'left to pngjs' : r.left);
  return r.right;
};

function write(w: number, h: number, colorType: 0 | 2 | 4 | 6, filterType: number, seed = 1): Buffer {
  const png = new PNG({ width: w, height: h });
  png.data = rgba(w, h, seed);
  return PNG.sync.write(png, { colorType, filterType, inputColorType: 6, inputHasAlpha: true });
}

describe('decodePng8', () => {
  it.each([0, 2, 4, 6] as const)('colour type %i, each row filter and adaptive, equals pngjs', (colorType) => {
    for (const filterType of [0, 1, 2, 3, 4, -1]) {
      for (const [w, h] of [
        [1, 1],
        [13, 7],
        [64, 64],
      ]) {
        const bytes = write(w, h, colorType, filterType, w + h);
        const got = right(decodePng8(bytes, 'x.png'));
        expect([got.width, got.height]).toEqual([w, h]);
        expect(Array.from(got.data)).toEqual(viaPngjs(bytes));
      }
    }
  });

  it('several IDAT chunks', () => {
    const png = new PNG({ width: 40, height: 30 });
    png.data = rgba(40, 30, 3);
    const one = PNG.sync.write(png, { colorType: 2 });
    // Split the one IDAT into two chunks by hand (pngjs writes one).
    const at = one.indexOf('IDAT') - 4;
    const len = one.readUInt32BE(at);
    const data = one.subarray(at + 8, at + 8 + len);
    const chunk = (d: Buffer) => {
      const c = Buffer.alloc(12 + d.length);
      c.writeUInt32BE(d.length, 0);
      c.write('IDAT', 4, 'latin1');
      d.copy(c, 8);
      c.writeUInt32BE(crc(c.subarray(4, 8 + d.length)), 8 + d.length);
      return c;
    };
    const half = Math.floor(len / 2);
    const two = Buffer.concat([
      one.subarray(0, at),
      chunk(data.subarray(0, half)),
      chunk(data.subarray(half)),
      one.subarray(at + 12 + len),
    ]);
    expect(Array.from(right(decodePng8(two, 'two.png')).data)).toEqual(viaPngjs(one));
  });

  it('leaves palettes, 16 bits and interlacing to pngjs', () => {
    const png = new PNG({ width: 4, height: 4 });
    png.data = rgba(4, 4, 5);
    expect(decodePng8(PNG.sync.write(png, { colorType: 2, bitDepth: 16 }), 'a.png')).toBeUndefined();
    const rgb = PNG.sync.write(png, { colorType: 2 });
    const patched = (offset: number, value: number) => {
      const b = Buffer.from(rgb);
      b[offset] = value;
      b.writeUInt32BE(crc(b.subarray(12, 29)), 29); // IHDR's CRC
      return b;
    };
    expect(decodePng8(patched(25, 3), 'p.png')).toBeUndefined(); // colour type 3: palette
    expect(decodePng8(patched(28, 1), 'i.png')).toBeUndefined(); // Adam7
  });

  it('a broken file is one Left naming it', () => {
    const good = write(8, 8, 2, 1);
    const cases: [string, Buffer, RegExp][] = [
      ['cut short', good.subarray(0, 40), /truncated chunk|no IEND/],
      ['bad CRC', Buffer.concat([good.subarray(0, 30), Buffer.from([good[30] ^ 1]), good.subarray(31)]), /CRC/],
      ['no data', Buffer.concat([good.subarray(0, 33), good.subarray(good.length - 12)]), /no image data/],
    ];
    for (const [, bytes, why] of cases) {
      const r = decodePng8(bytes, 'bad.png');
      expect(r !== undefined && E.isLeft(r)).toBe(true);
      const msg = (r as E.Left<string>).left;
      expect(msg.startsWith('bad.png: cannot decode image (')).toBe(true);
      expect(msg).toMatch(why);
    }
  });
});

describe('encodePngRgb', () => {
  it('writes what pngjs and decodePng8 read back exactly, for any width', () => {
    for (const [w, h] of [
      [1, 1],
      [2, 3],
      [64, 64],
    ]) {
      const data = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37 + Math.floor(i / 5)) & 255);
      const bytes = encodePngRgb({ width: w, height: h, data });
      expect(viaPngjs(bytes)).toEqual(Array.from(data));
      expect(Array.from(right(decodePng8(bytes, 'e.png')).data)).toEqual(Array.from(data));
    }
  });

  it('refuses pixels that do not fill the image', () => {
    expect(() => encodePngRgb({ width: 2, height: 2, data: new Uint8Array(11) })).toThrow(RangeError);
  });
});

/** CRC-32 of PNG chunks, written out here so that the test does not lean on the code under test. */
function crc(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
