import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { encodePng, orUsageError, UsageError, type RgbImage } from '@reward-tune/core-model';
import {
  centreCropResize,
  isGreyscaleImage,
  listColourImages,
  loadColourExample,
  readColourFolder,
} from './colour-folder';
import { toGrayRgb } from './grayscale';

/** A 16×12 baseline JPEG (quality 90): left half red (220, 40, 40), right half blue (30, 60, 210). */
const RED_BLUE_JPEG = Buffer.from(
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wCEAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRQBAwQEBQQFCQUFCRQNCw0UFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFP/AABEIAAwAEAMBEQACEQEDEQH/xAGiAAABBQEBAQEBAQAAAAAAAAAAAQIDBAUGBwgJCgsQAAIBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+gEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoLEQACAQIEBAMEBwUEBAABAncAAQIDEQQFITEGEkFRB2FxEyIygQgUQpGhscEJIzNS8BVictEKFiQ04SXxFxgZGiYnKCkqNTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqCg4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2dri4+Tl5ufo6ery8/T19vf4+fr/2gAMAwEAAhEDEQA/APJK/Lz+8Dzqv9JT/Mc9Fr/No/04POq/0lP8xz//2Q==',
  'base64',
);

const image = (width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): RgbImage => {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(pixel(x, y), (y * width + x) * 3);
  return { width, height, data };
};
const greyImage = (w: number, h: number): RgbImage =>
  image(w, h, (x, y) => [(x * 20 + y) % 256, (x * 20 + y) % 256, (x * 20 + y) % 256]);
const colourImage = (w: number, h: number): RgbImage => image(w, h, (x) => (x < w / 2 ? [200, 30, 30] : [20, 200, 60]));

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'colour-folder-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const write = (rel: string, bytes: Uint8Array | string): string => {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, bytes);
  return p;
};
const left = <A>(e: E.Either<string, A>): string => {
  if (E.isRight(e)) throw new Error('expected a Left');
  return e.left;
};

describe('listColourImages', () => {
  it('finds JPEG and PNG files recursively in sorted order, skipping dot-files', () => {
    write('n02/b.png', encodePng(colourImage(4, 4)));
    write('n01/x.JPEG', RED_BLUE_JPEG);
    write('n01/a.jpg', RED_BLUE_JPEG);
    write('.DS_Store', 'junk');
    write('n01/.hidden/c.txt', 'junk');
    expect(listColourImages(root)).toEqual(
      E.right([path.join(root, 'n01/a.jpg'), path.join(root, 'n01/x.JPEG'), path.join(root, 'n02/b.png')]),
    );
  });

  it('reports a non-image file, an empty folder, a missing folder and a file given as the folder, in one line each', () => {
    write('n01/a.png', encodePng(colourImage(4, 4)));
    write('n01/labels.txt', 'cat');
    expect(left(listColourImages(root))).toBe(
      `${path.join(root, 'n01/labels.txt')}: not a JPEG or PNG image (every file under ${root} must be .jpg, .jpeg or .png)`,
    );
    const empty = path.join(root, 'empty');
    mkdirSync(path.join(empty, 'sub'), { recursive: true });
    expect(left(listColourImages(empty))).toBe(
      `${empty}: no images (expected JPEG or PNG files, searched recursively)`,
    );
    expect(left(listColourImages(path.join(root, 'nope')))).toBe(`${path.join(root, 'nope')}: no such folder`);
    const file = path.join(root, 'n01/a.png');
    expect(left(listColourImages(file))).toBe(`${file}: not a folder (expected a folder of JPEG or PNG images)`);
  });

  it('turns into a one-line UsageError at a command', () => {
    expect(() => orUsageError(listColourImages(path.join(root, 'nope')))).toThrow(UsageError);
  });
});

describe('centreCropResize', () => {
  it('keeps the centred square of a wide image', () => {
    // 6×2: columns 0, 1, 4, 5 black, 2–3 white; the centred 2×2 square is all white.
    const img = image(6, 2, (x) => (x === 2 || x === 3 ? [255, 255, 255] : [0, 0, 0]));
    expect(Array.from(centreCropResize(img, 2))).toEqual(Array(12).fill(1));
  });

  it('box-averages by the integer factor before resizing (no aliasing of fine detail)', () => {
    // A 1-pixel checkerboard of black and white, 64×48, to 8×8: every output pixel is mid grey, not black or white.
    const img = image(64, 48, (x, y) => ((x + y) % 2 === 0 ? [0, 0, 0] : [255, 255, 255]));
    const out = centreCropResize(img, 8);
    for (const v of out) expect(v).toBeCloseTo(0, 6);
  });

  it('maps 0..255 to [−1, 1] and upsamples small images', () => {
    const out = centreCropResize(
      image(2, 2, () => [0, 255, 51]),
      4,
    );
    expect(out).toHaveLength(4 * 4 * 3);
    expect(Array.from(out.subarray(0, 3))).toEqual([-1, 1, expect.closeTo(-0.6, 6)]);
  });
});

describe('loadColourExample / readColourFolder', () => {
  it('decodes a JPEG of any size into a size × size colour example and its grey input', () => {
    const f = write('a/red-blue.jpg', RED_BLUE_JPEG);
    const ex = E.getOrElseW((e: string) => {
      throw new Error(e);
    })(loadColourExample(f, 8));
    expect([ex.sourceWidth, ex.sourceHeight, ex.size, ex.greyscale]).toEqual([16, 12, 8, false]);
    expect(ex.rgb).toHaveLength(8 * 8 * 3);
    expect(Array.from(ex.grey)).toEqual(Array.from(toGrayRgb(ex.rgb)));
    // Left column red, right column blue (JPEG-approximate).
    expect(ex.rgb[0]).toBeGreaterThan(0.5);
    expect(ex.rgb[2]).toBeLessThan(-0.4);
    expect(ex.rgb[7 * 3 + 2]).toBeGreaterThan(0.4);
  });

  it('reports an image file that does not decode', () => {
    const f = write('a/broken.png', 'not really a png');
    expect(left(loadColourExample(f, 8))).toBe(`${f}: not a PNG or JPEG file (unknown signature)`);
    expect(left(readColourFolder(root, { size: 8 }))).toBe(`${f}: not a PNG or JPEG file (unknown signature)`);
  });

  it('refuses a greyscale-only folder for training, but reads it for evaluation', () => {
    write('g/1.png', encodePng(greyImage(10, 10)));
    write('g/2.png', encodePng(greyImage(12, 9)));
    expect(isGreyscaleImage(greyImage(3, 3))).toBe(true);
    expect(left(readColourFolder(root, { size: 4, forTraining: true }))).toBe(
      `${root}: all 2 images are greyscale; training colorization needs colour images`,
    );
    const ev = readColourFolder(root, { size: 4 });
    expect(E.isRight(ev) && ev.right.map((e) => e.greyscale)).toEqual([true, true]);
    // One colour image among them is enough.
    write('g/3.png', encodePng(colourImage(8, 8)));
    const tr = readColourFolder(root, { size: 4, forTraining: true });
    expect(E.isRight(tr) && tr.right.length).toBe(3);
    const first = readColourFolder(root, { size: 4, maxImages: 1 });
    expect(E.isRight(first) && first.right.map((e) => path.basename(e.file))).toEqual(['1.png']);
  });

  it('tolerates JPEG-sized chroma noise in a greyscale image, not a visible colour', () => {
    expect(isGreyscaleImage(image(2, 1, () => [100, 104, 96]))).toBe(true);
    expect(isGreyscaleImage(image(2, 1, (x) => (x === 0 ? [100, 100, 100] : [100, 120, 100])))).toBe(false);
  });
});
