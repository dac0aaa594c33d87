/**
 * Detection data on disk, in the COCO instances format, for both the built-in synthetic shapes and real COCO:
 * the demo writes its synthetic data as PNGs + `instances_<split>.json` and reads it back through the same
 * reader a user's COCO download goes through.
 *
 * Layouts `loadDetectionSplit` understands under a data directory:
 *   synthetic:  instances_<split>.json + <split>/            (what writeShapesDataset makes: train, val, test)
 *   COCO 2017:  annotations/instances_<split>2017.json + <split>2017/
 * COCO's test images come without annotations, so a COCO directory has no `test` split (setup.ts then reports on
 * val and says so).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import {
  encodePng,
  generateShapes,
  readCocoInstances,
  shapeCategories,
  writeAtomic,
  type SceneOptions,
  type CocoInstanceImage,
  type CocoInstances,
} from '@reward-tune/core-model';
import type { NormBox } from './sequence';

export type Split = 'train' | 'val' | 'test';

export interface ShapesDatasetOptions extends SceneOptions {
  readonly seed: number;
  readonly trainImages: number;
  readonly valImages: number;
  /** Images of the held-out test split (0 or absent: none written). */
  readonly testImages?: number;
  /** Square image side in pixels. */
  readonly size: number;
  readonly maxObjects: number;
}

/**
 * Per-split seeds (generateShapes draws image i from seed·1000003 + i, mod 2^32): train and val take 2·seed and
 * 2·seed + 1 as they always did, and test 2·seed + 2^31, whose images lie 2^31 seeds away from train's, so no split
 * shares an image with another (for fewer than 2^31 images per split).
 */
export const splitSeed = (seed: number, split: Split): number =>
  seed * 2 + (split === 'train' ? 0 : split === 'val' ? 1 : 2 ** 31);

/**
 * Writes the synthetic shapes dataset under `dir` (skipped when the stamps record the same options, so reruns are
 * free). Train and val are stamped by `dir/synthetic.json` with the options less `testImages`, exactly as before the
 * test split existed, so their files stay where and as they were; the test split has its own stamp
 * (`synthetic-test.json`, every option) and is written when missing. The JSON files are written last, each
 * atomically, so an interrupted write is regenerated.
 */
export function writeShapesDataset(
  dir: string,
  opts: ShapesDatasetOptions,
  onImage?: (done: number, total: number) => void,
): void {
  const { testImages = 0, ...trainVal } = opts;
  writeSplits(dir, ['train', 'val'], path.join(dir, 'synthetic.json'), JSON.stringify(trainVal), opts, onImage);
  if (testImages > 0)
    writeSplits(dir, ['test'], path.join(dir, 'synthetic-test.json'), JSON.stringify(opts), opts, onImage);
}

function writeSplits(
  dir: string,
  splits: readonly Split[],
  stamp: string,
  wanted: string,
  opts: ShapesDatasetOptions,
  onImage?: (done: number, total: number) => void,
): void {
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) return;
  const categories = shapeCategories().map((c) => ({ id: c.id, name: c.name, supercategory: 'shape' }));
  const count = (split: Split): number =>
    split === 'train' ? opts.trainImages : split === 'val' ? opts.valImages : (opts.testImages ?? 0);
  const total = splits.reduce((sum, split) => sum + count(split), 0);
  let done = 0;
  for (const split of splits) {
    const n = count(split);
    mkdirSync(path.join(dir, split), { recursive: true });
    const images: object[] = [];
    const annotations: object[] = [];
    let i = 0;
    for (const im of generateShapes({ ...opts, seed: splitSeed(opts.seed, split), numImages: n })) {
      const id = i + 1;
      const fileName = `${String(id).padStart(6, '0')}.png`;
      writeAtomic(path.join(dir, split, fileName), encodePng({ width: im.width, height: im.height, data: im.rgb }));
      images.push({ id, file_name: fileName, width: im.width, height: im.height });
      for (const o of im.objects) {
        annotations.push({
          id: annotations.length + 1,
          image_id: id,
          category_id: o.categoryId,
          bbox: o.bbox,
          area: o.area,
          iscrowd: 0,
        });
      }
      i++;
      onImage?.(++done, total);
    }
    writeAtomic(path.join(dir, `instances_${split}.json`), JSON.stringify({ images, annotations, categories }));
  }
  writeAtomic(stamp, wanted);
}

/** Where a split's annotation file and image folder are under `dir`, for either layout. */
export function splitPaths(dir: string, split: Split): E.Either<string, { annotations: string; images: string }> {
  const synthetic = { annotations: path.join(dir, `instances_${split}.json`), images: path.join(dir, split) };
  if (existsSync(synthetic.annotations)) return E.right(synthetic);
  const coco = {
    annotations: path.join(dir, 'annotations', `instances_${split}2017.json`),
    images: path.join(dir, `${split}2017`),
  };
  if (existsSync(coco.annotations)) return E.right(coco);
  return E.left(`${dir}: no ${split} split (expected ${synthetic.annotations} or ${coco.annotations})`);
}

/** One detection example: an image record and its non-crowd boxes in normalised coordinates. */
export interface DetectionExample {
  readonly image: CocoInstanceImage;
  /** Targets for the token language (crowd boxes excluded; they stay in the GT for COCO evaluation). */
  readonly boxes: readonly NormBox[];
}

export interface DetectionSplit {
  readonly coco: CocoInstances;
  readonly examples: readonly DetectionExample[];
}

export function toExample(image: CocoInstanceImage): DetectionExample {
  const { width: W, height: H } = image;
  const boxes = image.annotations
    .filter((a) => !a.iscrowd)
    .map(({ bbox: [x, y, w, h], label }) => ({
      ymin: Math.max(0, y / H),
      xmin: Math.max(0, x / W),
      ymax: Math.min(1, (y + h) / H),
      xmax: Math.min(1, (x + w) / W),
      cls: label,
    }));
  return { image, boxes };
}

/** Reads and validates one split; every problem is one line naming the file and the field. */
export function loadDetectionSplit(dir: string, split: Split): E.Either<string, DetectionSplit> {
  return E.chain((p: { annotations: string; images: string }) =>
    E.map((coco: CocoInstances) => ({ coco, examples: coco.images.map(toExample) }))(
      readCocoInstances(p.annotations, { imageDir: p.images }),
    ),
  )(splitPaths(dir, split));
}
