/**
 * Reader for COCO object-detection annotations (`instances_*.json`): validated, with per-image box lists, the
 * category id ↔ contiguous label maps the token language needs, and images loaded lazily.
 *
 * Every problem is one line naming the file and the field, e.g.
 * `instances_val.json: annotations[12].bbox: expected [x, y, w, h] with w > 0 and h > 0`.
 * Fields a detector does not use (segmentation, licenses, info) are ignored.
 */
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { z } from 'zod';
import { readJson, zodProblem } from '../input';
import {
  BBOX_PROBLEM,
  cocoImageSchema,
  zeroOrOne,
  firstDuplicateId,
  firstMissingFile,
  imageLoader,
  isBbox,
  toRecord,
  type Bbox,
  type CocoImageRecord,
} from './coco-common';
import type { ImageSize, ModelImage } from './image';

export interface CocoBox {
  readonly id: number;
  readonly categoryId: number;
  /** Contiguous label in [0, categories.length): the category's rank by id. */
  readonly label: number;
  /** [x, y, w, h] in pixels of the original image. */
  readonly bbox: Bbox;
  readonly area: number;
  readonly iscrowd: boolean;
}

export interface CocoInstanceImage extends CocoImageRecord {
  readonly annotations: readonly CocoBox[];
}

export interface CocoCategory {
  readonly id: number;
  readonly name: string;
  readonly supercategory?: string;
  /** Contiguous label (categories sorted by id: COCO's 80 ids 1..90 with gaps → 0..79). */
  readonly index: number;
}

export interface CocoInstances {
  readonly file: string;
  readonly imageDir?: string;
  readonly images: readonly CocoInstanceImage[];
  /** Sorted by id; `categories[k].index === k`. */
  readonly categories: readonly CocoCategory[];
  /** category id → contiguous label. */
  readonly labelOf: ReadonlyMap<number, number>;
  /** Loads one image from `imageDir`, resized to `size`, values in [−1, 1]. */
  loadImage(image: CocoImageRecord, size: ImageSize): E.Either<string, ModelImage>;
}

export interface CocoInstancesOptions {
  /** Folder of the image files; when given, every `file_name` must exist there. */
  readonly imageDir?: string;
  /** How far (pixels) a box may reach outside its image before it is an error. Default 1. */
  readonly bboxTolerance?: number;
}

const schema = z.object({
  images: z.array(cocoImageSchema),
  categories: z.array(z.object({ id: z.number().int(), name: z.string(), supercategory: z.string().optional() })),
  annotations: z.array(
    z.object({
      id: z.number().int(),
      image_id: z.number().int(),
      category_id: z.number().int(),
      bbox: z.unknown(),
      area: z.number().nonnegative(),
      iscrowd: zeroOrOne,
    }),
  ),
});

export function readCocoInstances(file: string, options: CocoInstancesOptions = {}): E.Either<string, CocoInstances> {
  return E.chain((json: unknown) => parseCocoInstances(json, file, options))(readJson(file));
}

/** Validates already-parsed JSON; `file` names the source in messages. */
export function parseCocoInstances(
  json: unknown,
  file: string,
  options: CocoInstancesOptions = {},
): E.Either<string, CocoInstances> {
  const parsed = schema.safeParse(json);
  if (!parsed.success) return E.left(zodProblem(parsed.error, file));
  const { images, categories, annotations } = parsed.data;
  const tol = options.bboxTolerance ?? 1;

  if (images.length === 0) return E.left(`${file}: images: dataset has no images`);
  const dup = firstDuplicateId(file, {
    images: images.map((i) => i.id),
    categories: categories.map((c) => c.id),
    annotations: annotations.map((a) => a.id),
  });
  if (dup !== undefined) return E.left(dup);

  const sortedCats = [...categories].sort((a, b) => a.id - b.id);
  const labelOf = new Map(sortedCats.map((c, k) => [c.id, k]));
  const cats: CocoCategory[] = sortedCats.map((c, k) => ({
    id: c.id,
    name: c.name,
    supercategory: c.supercategory,
    index: k,
  }));

  const byId = new Map<number, { record: CocoImageRecord; boxes: CocoBox[] }>();
  for (const im of images) byId.set(im.id, { record: toRecord(im), boxes: [] });

  for (let i = 0; i < annotations.length; i++) {
    const a = annotations[i];
    const where = `${file}: annotations[${i}]`;
    const entry = byId.get(a.image_id);
    if (entry === undefined) return E.left(`${where}.image_id: no image with id ${a.image_id}`);
    const label = labelOf.get(a.category_id);
    if (label === undefined) return E.left(`${where}.category_id: no category with id ${a.category_id}`);
    if (!isBbox(a.bbox)) return E.left(`${where}.bbox: ${BBOX_PROBLEM}`);
    const [x, y, w, h] = a.bbox;
    const { width, height } = entry.record;
    if (x < -tol || y < -tol || x + w > width + tol || y + h > height + tol) {
      return E.left(
        `${where}.bbox: [${a.bbox.join(', ')}] reaches outside image ${a.image_id} (${width}×${height}) by more than ${tol} px`,
      );
    }
    entry.boxes.push({
      id: a.id,
      categoryId: a.category_id,
      label,
      bbox: [x, y, w, h],
      area: a.area,
      iscrowd: a.iscrowd === 1,
    });
  }

  if (options.imageDir !== undefined) {
    const dir = options.imageDir;
    const missing = firstMissingFile(
      file,
      images.map((im, i) => ({ field: `images[${i}].file_name`, path: path.join(dir, im.file_name) })),
    );
    if (missing !== undefined) return E.left(missing);
  }

  return E.right({
    file,
    imageDir: options.imageDir,
    images: [...byId.values()].map(({ record, boxes }) => ({ ...record, annotations: boxes })),
    categories: cats,
    labelOf,
    loadImage: imageLoader(options.imageDir, file),
  });
}
