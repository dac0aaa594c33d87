import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { orUsageError, resolveConfig } from '@reward-tune/core-model';
import { detectionConfigSpec } from './config';
import { loadDetectionSplit, writeShapesDataset } from './dataset';
import { syntheticDir } from './setup';

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
