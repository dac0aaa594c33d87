// The data: synthetic splits regenerate the scenes (disjoint, deterministic), stage I batches carry the colours as
// labels and the grey image as context, and a folder is split by subfolders or by a hash of each path, with its
// problems as one line.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/Either';
import { encodePng, initBackend, type RgbImage } from '@reward-tune/core-model';
import { colorizeConfigSchema, colorizePresets } from './config';
import { colourData, fnv1a, greyTable, hashSplit, oracleTable, readFolderData, syntheticData } from './data';
import { toGrayRgb } from './grayscale';
import { colourSceneAt } from './scenes';

const mu = colorizeConfigSchema.parse(colorizePresets.mu);

beforeAll(() => initBackend('cpu', { quiet: true }));

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'colorize-data-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const png = (colour: boolean, shade = 0): Buffer => {
  const data = new Uint8Array(20 * 20 * 3);
  for (let p = 0; p < 400; p++) data.set(colour ? [200, 40 + shade, 30] : [90 + shade, 90 + shade, 90 + shade], 3 * p);
  return encodePng({ width: 20, height: 20, data } as RgbImage);
};
const write = (rel: string, bytes: Uint8Array | string) => {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, bytes);
};
const left = (r: E.Either<string, unknown>): string => (E.isLeft(r) ? r.left : 'Right');

describe('synthetic data', () => {
  it('is the scenes of the config’s seed at the oracle’s size, three splits of the configured sizes', () => {
    const d = syntheticData(mu);
    expect(d.size).toBe(16);
    expect([d.splits.train.length, d.splits.val.length, d.splits.test.length]).toEqual([32, 8, 8]);
    expect(d.splits.test[3].rgb).toEqual(colourSceneAt(0, 'test', 3, { size: 16 }).rgb);
    expect(d.splits.val[0].rgb).not.toEqual(d.splits.test[0].rgb);
  });

  it('the model input is the grey image; stage I batches hold the colours and the grey context', async () => {
    const d = syntheticData(mu);
    const t = greyTable(d.splits.val, d.size, 3);
    expect(t.examples).toHaveLength(3);
    expect(t.pixels.subarray(16 * 16 * 3, 2 * 16 * 16 * 3)).toEqual(toGrayRgb(d.splits.val[1].rgb));
    const b = oracleTable(d.splits.val, d.size).batch([2, 0]);
    expect(b.labels.rgb.shape).toEqual([2, 16, 16, 3]);
    expect(Float32Array.from(await b.labels.rgb.data()).subarray(0, 768)).toEqual(d.splits.val[2].rgb);
    expect(Float32Array.from(await b.ctx!.data()).subarray(768)).toEqual(toGrayRgb(d.splits.val[0].rgb));
    tf.dispose([b.labels.rgb, b.ctx!]);
  });
});

describe('a folder of images', () => {
  it('with train/ and val/ (no test/): the subfolders, test = val', () => {
    write('train/a.png', png(true));
    write('train/b.png', png(false));
    write('val/c.png', png(true, 20));
    const d = readFolderData(root, 16);
    expect(E.isRight(d)).toBe(true);
    if (E.isLeft(d)) return;
    expect(d.right.splits.train.map((x) => path.basename(x.id))).toEqual(['a.png', 'b.png']);
    expect(d.right.testIsVal).toBe(true);
    expect(d.right.splits.test).toBe(d.right.splits.val);
    expect(d.right.splits.train[0].rgb).toHaveLength(16 * 16 * 3);
  });

  it('without split folders: each image by a hash of its relative path (0 test, 1 val, else train)', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c); // the published FNV-1a test vector
    const names = Array.from({ length: 40 }, (_, i) => `img${i}.png`);
    names.forEach((n, i) => write(n, png(true, i)));
    const d = readFolderData(root, 8);
    if (E.isLeft(d)) throw new Error(d.left);
    for (const split of ['train', 'val', 'test'] as const)
      for (const x of d.right.splits[split]) expect(hashSplit(path.relative(root, x.id))).toBe(split);
    expect(d.right.splits.train.length + d.right.splits.val.length + d.right.splits.test.length).toBe(40);
  });

  it('refuses a non-image file, an empty folder, a greyscale-only training split and a missing val/', () => {
    write('train/a.png', png(true));
    write('train/notes.txt', 'hello');
    write('val/b.png', png(true));
    expect(left(readFolderData(root, 16))).toMatch(/notes\.txt/);
    rmSync(path.join(root, 'train', 'notes.txt'));
    rmSync(path.join(root, 'train', 'a.png'));
    expect(left(readFolderData(root, 16))).toMatch(/train/);
    write('train/g.png', png(false));
    expect(left(readFolderData(root, 16))).toMatch(/greyscale; training colorization needs colour images/);
    rmSync(path.join(root, 'val'), { recursive: true });
    write('train/c.png', png(true));
    expect(left(readFolderData(root, 16))).toMatch(/val.*no such folder/);
  });

  it('a config with data.dir reads the folder at the oracle’s size', () => {
    write('train/a.png', png(true));
    write('val/b.png', png(true));
    write('test/c.png', png(true));
    const d = colourData({ ...mu, data: { ...mu.data, dir: root } });
    if (E.isLeft(d)) throw new Error(d.left);
    expect(d.right.size).toBe(16);
    expect(d.right.testIsVal).toBe(false);
  });
});
