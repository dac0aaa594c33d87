/**
 * Detection data on disk, in the COCO instances format, for both the built-in synthetic shapes and real COCO:
 * the demo writes its synthetic data as PNGs + `instances_<split>.json` and reads it back through the same
 * reader a user's COCO download goes through.
 *
 * Layouts `loadDetectionSplit` understands under a data directory:
 *   synthetic:  instances_<split>.json + <split>/            (what writeShapesDataset makes)
 *   COCO 2017:  annotations/instances_<split>2017.json + <split>2017/
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

export type Split = 'train' | 'val';

export interface ShapesDatasetOptions extends SceneOptions {
  readonly seed: number;
  readonly trainImages: number;
  readonly valImages: number;
  /** Square image side in pixels. */
  readonly size: number;
  readonly maxObjects: number;
}

/** Per-split seeds: train and val never share an image. */
const splitSeed = (seed: number, split: Split): number => seed * 2 + (split === 'train' ? 0 : 1);

/**
 * Writes the synthetic shapes dataset under `dir` (skipped when `dir/synthetic.json` records the same options, so
 * reruns are free). The JSON files are written last, each atomically, so an interrupted write is regenerated.
 */
export function writeShapesDataset(
  dir: string,
  opts: ShapesDatasetOptions,
  onImage?: (done: number, total: number) => void,
): void {
  const stamp = path.join(dir, 'synthetic.json');
  const wanted = JSON.stringify(opts);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) return;
  const categories = shapeCategories().map((c) => ({ id: c.id, name: c.name, supercategory: 'shape' }));
  const total = opts.trainImages + opts.valImages;
  let done = 0;
  for (const split of ['train', 'val'] as const) {
    const n = split === 'train' ? opts.trainImages : opts.valImages;
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
