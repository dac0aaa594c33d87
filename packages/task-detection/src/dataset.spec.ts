import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { decodeImage, generateShapes, orUsageError, resolveConfig } from '@reward-tune/core-model';
import { detectionConfigSpec } from './config';
import { loadDetectionSplit, splitSeed, writeShapesDataset, type Split } from './dataset';
import { prepareData, syntheticDir } from './setup';

describe('detection datasets on disk', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'det-data-'));
  const opts = { seed: 3, trainImages: 6, valImages: 4, size: 32, maxObjects: 4 };
  writeShapesDataset(dir, opts);

  it('writes the synthetic shapes in COCO format and reads them back through the COCO reader', () => {
    const val = loadDetectionSplit(dir, 'val');
    if (E.isLeft(val)) throw new Error(val.left);
    expect(val.right.examples).toHaveLength(4);
    expect(val.right.coco.categories).toHaveLength(9);
    for (const ex of val.right.examples) {
      expect(ex.boxes.length).toBeGreaterThanOrEqual(1);
      for (const b of ex.boxes) {
        expect(0 <= b.ymin && b.ymin < b.ymax && b.ymax <= 1).toBe(true);
        expect(0 <= b.xmin && b.xmin < b.xmax && b.xmax <= 1).toBe(true);
      }
      const img = val.right.coco.loadImage(ex.image, { height: 16, width: 16 });
      expect(E.isRight(img) && img.right.pixels.length).toBe(16 * 16 * 3);
    }
    const train = loadDetectionSplit(dir, 'train');
    expect(E.isRight(train) && train.right.examples.length).toBe(6);
  });

  it('does not rewrite a dataset with the same options', () => {
    const file = path.join(dir, 'instances_val.json');
    const before = statSync(file).mtimeMs;
    writeShapesDataset(dir, opts);
    expect(statSync(file).mtimeMs).toBe(before);
  });

  it('names the file and field of a bad annotation, and a missing split', () => {
    const bad = mkdtempSync(path.join(tmpdir(), 'det-bad-'));
    writeShapesDataset(bad, { ...opts, trainImages: 1, valImages: 2 });
    const file = path.join(bad, 'instances_val.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    json.annotations[0].bbox = [1, 2, 0, 5];
    writeFileSync(file, JSON.stringify(json));
    expect(loadDetectionSplit(bad, 'val')).toEqual(
      E.left(`${file}: annotations[0].bbox: expected [x, y, w, h] with w > 0 and h > 0`),
    );
    const empty = mkdtempSync(path.join(tmpdir(), 'det-none-'));
    const r = loadDetectionSplit(empty, 'train');
    expect(E.isLeft(r) && r.left.startsWith(`${empty}: no train split`)).toBe(true);
  });
});

describe('syntheticDir', () => {
  it('keeps the old name for the default scene and spells out the scene options that differ', () => {
    const cfg = (sets: string[]) => orUsageError(resolveConfig(detectionConfigSpec, { preset: 'tiny', sets }));
    expect(syntheticDir('runs', cfg([]))).toBe(path.join('runs', 'data', 'shapes-s0-64px-4000x1000-max8'));
    expect(syntheticDir('runs', cfg(['data.synthetic.clutter=false', 'data.synthetic.maxOverlap=0']))).toBe(
      path.join('runs', 'data', 'shapes-s0-64px-4000x1000-max8-clutterfalse-maxOverlap0'),
    );
  });
});

describe('the held-out test split', () => {
  const sha = (bytes: Uint8Array[]): string => {
    const h = createHash('sha256');
    for (const b of bytes) h.update(b);
    return h.digest('hex');
  };
  const pngs = (dir: string, split: Split, n: number): Uint8Array[] =>
    Array.from({ length: n }, (_, i) => readFileSync(path.join(dir, split, `${String(i + 1).padStart(6, '0')}.png`)));
  const tiny = { seed: 0, trainImages: 3, valImages: 3, size: 64, maxObjects: 8 };

  it('leaves train and val as they were: the same pixels and stamp as before the test split existed', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'det-test-split-'));
    writeShapesDataset(dir, { ...tiny, testImages: 3 });
    // sha256 of the decoded RGB pixels of the first 3 train / val images of the demo's data (seed 0, 64 px), taken
    // from files whose PNG bytes were those of a demo run made before the test split existed (the PNG encoder has
    // changed since; the pixels must not).
    const pixels = (split: Split) =>
      pngs(dir, split, 3).map((b, i) => {
        const img = decodeImage(b, `${split} ${i}`);
        if (E.isLeft(img)) throw new Error(img.left);
        return img.right.data;
      });
    expect(sha(pixels('train'))).toBe('535db173d24ffce29e1baf2eadd8f65ba453b63433cc9ef988138eaefaa48282');
    expect(sha(pixels('val'))).toBe('d17144f7d7f74ad5287d295ee83c9e9fc8b0c23ca72f13e69be7085e222eca87');
    expect(readFileSync(path.join(dir, 'synthetic.json'), 'utf8')).toBe(JSON.stringify(tiny));
    const test = loadDetectionSplit(dir, 'test');
    expect(E.isRight(test) && test.right.examples.length).toBe(3);
  });

  it('adds the test split to data written before it without touching train or val', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'det-test-later-'));
    writeShapesDataset(dir, tiny);
    expect(existsSync(path.join(dir, 'instances_test.json'))).toBe(false);
    const before = statSync(path.join(dir, 'instances_val.json')).mtimeMs;
    writeShapesDataset(dir, { ...tiny, testImages: 2 });
    expect(statSync(path.join(dir, 'instances_val.json')).mtimeMs).toBe(before);
    const test = loadDetectionSplit(dir, 'test');
    expect(E.isRight(test) && test.right.examples.length).toBe(2);
  });

  it('shares no image with train or val (100 of each split at 32 px, by pixels)', () => {
    const seen = new Map<string, string>();
    for (const split of ['train', 'val', 'test'] as const) {
      const images = generateShapes({ ...tiny, size: 32, seed: splitSeed(0, split), numImages: 100 });
      for (const im of images) {
        const key = sha([im.rgb]);
        expect([split, seen.get(key)]).toEqual([split, undefined]);
        seen.set(key, split);
      }
    }
    expect(seen.size).toBe(300);
  });

  it('a data directory with no test split (COCO) reports on val, flagged', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'det-no-test-'));
    writeShapesDataset(dir, tiny); // train and val only, as COCO has
    const cfg = orUsageError(resolveConfig(detectionConfigSpec, { preset: 'mu', sets: [`data.dir="${dir}"`] }));
    const data = orUsageError(prepareData(cfg, dir));
    expect([data.testIsVal, data.test]).toEqual([true, data.val]);
  });
});
