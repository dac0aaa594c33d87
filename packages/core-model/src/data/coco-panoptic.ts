/**
 * Reader for COCO panoptic annotations (panopticapi format): `panoptic_*.json` with images[], categories[]
 * {id, name, isthing} and annotations[] {image_id, file_name, segments_info[] {id, category_id, iscrowd, bbox,
 * area}}, plus a folder of PNGs in which each pixel's segment id is R + 256·G + 256²·B (0 = unlabelled).
 *
 * Validation is eager for the JSON (one line naming file and field) and lazy for the PNGs: loading an image's
 * segment map checks its size and that every id in it is described in segments_info (the check panopticapi's
 * evaluation makes).
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
  readDeclaredImage,
  toRecord,
  type Bbox,
  type CocoImageRecord,
} from './coco-common';
import type { ImageSize, ModelImage, RgbImage } from './image';

export interface PanopticSegment {
  readonly id: number;
  readonly categoryId: number;
  /** Contiguous label (categories sorted by id). */
  readonly label: number;
  readonly isthing: boolean;
  readonly iscrowd: boolean;
  readonly bbox: Bbox;
  readonly area: number;
}

export interface PanopticImage extends CocoImageRecord {
  /** The segment PNG's name in the PNG folder. */
  readonly pngName: string;
  readonly segments: readonly PanopticSegment[];
  /** Index of this image's entry in annotations[] (for messages). */
  readonly annotationIndex: number;
}

export interface PanopticCategory {
  readonly id: number;
  readonly name: string;
  readonly isthing: boolean;
  readonly index: number;
}

/** Segment ids [H·W] at the image's original resolution (resize with `resizeNearest` if needed). */
export interface SegmentMap {
  readonly height: number;
  readonly width: number;
  readonly ids: Uint32Array;
}

export interface CocoPanoptic {
  readonly file: string;
  readonly imageDir?: string;
  readonly pngDir?: string;
  readonly images: readonly PanopticImage[];
  /** Sorted by id; `categories[k].index === k`. */
  readonly categories: readonly PanopticCategory[];
  readonly labelOf: ReadonlyMap<number, number>;
  loadImage(image: PanopticImage, size: ImageSize): E.Either<string, ModelImage>;
  loadSegments(image: PanopticImage): E.Either<string, SegmentMap>;
}

export interface CocoPanopticOptions {
  /** Folder of the images (e.g. val2017/); when given, every file must exist. */
  readonly imageDir?: string;
  /** Folder of the segment PNGs (e.g. panoptic_val2017/); when given, every PNG must exist. */
  readonly pngDir?: string;
}

const schema = z.object({
  images: z.array(cocoImageSchema),
  categories: z.array(z.object({ id: z.number().int(), name: z.string(), isthing: zeroOrOne })),
  annotations: z.array(
    z.object({
      image_id: z.number().int(),
      file_name: z.string().min(1),
      segments_info: z.array(
        z.object({
          id: z.number().int(),
          category_id: z.number().int(),
          iscrowd: zeroOrOne,
          bbox: z.unknown(),
          area: z.number().nonnegative(),
        }),
      ),
    }),
  ),
});

/** panopticapi's rgb2id. */
export const rgbToSegmentId = (r: number, g: number, b: number): number => r + 256 * g + 65536 * b;

export const readCocoPanoptic = (file: string, options: CocoPanopticOptions = {}): E.Either<string, CocoPanoptic> =>
  E.chain((json: unknown) => parseCocoPanoptic(json, file, options))(readJson(file));

export function parseCocoPanoptic(
  json: unknown,
  file: string,
  options: CocoPanopticOptions = {},
): E.Either<string, CocoPanoptic> {
  const parsed = schema.safeParse(json);
  if (!parsed.success) return E.left(zodProblem(parsed.error, file));
  const { images, categories, annotations } = parsed.data;
  if (images.length === 0) return E.left(`${file}: images: dataset has no images`);
  const dup = firstDuplicateId(file, {
    images: images.map((i) => i.id),
    categories: categories.map((c) => c.id),
  });
  if (dup !== undefined) return E.left(dup);

  const sortedCats = [...categories].sort((a, b) => a.id - b.id);
  const labelOf = new Map(sortedCats.map((c, k) => [c.id, k]));
  const cats: PanopticCategory[] = sortedCats.map((c, k) => ({
    id: c.id,
    name: c.name,
    isthing: c.isthing === 1,
    index: k,
  }));
  const isthing = new Map(cats.map((c) => [c.id, c.isthing]));
  const imageIds = new Set(images.map((i) => i.id));

  const byImage = new Map<number, { annotationIndex: number; pngName: string; segments: PanopticSegment[] }>();
  for (let i = 0; i < annotations.length; i++) {
    const a = annotations[i];
    const where = `${file}: annotations[${i}]`;
    if (!imageIds.has(a.image_id)) return E.left(`${where}.image_id: no image with id ${a.image_id}`);
    const earlier = byImage.get(a.image_id);
    if (earlier !== undefined)
      return E.left(
        `${where}.image_id: second annotation for image ${a.image_id} (also at annotations[${earlier.annotationIndex}])`,
      );
    const seen = new Map<number, number>();
    const segments: PanopticSegment[] = [];
    for (let k = 0; k < a.segments_info.length; k++) {
      const s = a.segments_info[k];
      const at = `${where}.segments_info[${k}]`;
      if (s.id <= 0 || s.id >= 256 ** 3)
        return E.left(`${at}.id: expected an id in [1, 16777215] (0 marks unlabelled pixels), got ${s.id}`);
      const j = seen.get(s.id);
      if (j !== undefined) return E.left(`${at}.id: duplicate segment id ${s.id} (also at segments_info[${j}])`);
      seen.set(s.id, k);
      const label = labelOf.get(s.category_id);
      if (label === undefined) return E.left(`${at}.category_id: no category with id ${s.category_id}`);
      if (!isBbox(s.bbox)) return E.left(`${at}.bbox: ${BBOX_PROBLEM}`);
      const [x, y, w, h] = s.bbox;
      segments.push({
        id: s.id,
        categoryId: s.category_id,
        label,
        isthing: isthing.get(s.category_id) === true,
        iscrowd: s.iscrowd === 1,
        bbox: [x, y, w, h],
        area: s.area,
      });
    }
    byImage.set(a.image_id, { annotationIndex: i, pngName: a.file_name, segments });
  }

  const out: PanopticImage[] = [];
  for (let i = 0; i < images.length; i++) {
    const ann = byImage.get(images[i].id);
    if (ann === undefined) return E.left(`${file}: images[${i}]: no annotation for image ${images[i].id}`);
    out.push({ ...toRecord(images[i]), ...ann });
  }

  const { imageDir, pngDir } = options;
  const missing =
    (imageDir === undefined
      ? undefined
      : firstMissingFile(
          file,
          out.map((im, i) => ({ field: `images[${i}].file_name`, path: path.join(imageDir, im.fileName) })),
        )) ??
    (pngDir === undefined
      ? undefined
      : firstMissingFile(
          file,
          out.map((im) => ({
            field: `annotations[${im.annotationIndex}].file_name`,
            path: path.join(pngDir, im.pngName),
          })),
        ));
  if (missing !== undefined) return E.left(missing);

  const loadSegments = (image: PanopticImage): E.Either<string, SegmentMap> => {
    if (pngDir === undefined)
      return E.left(`${file}: no PNG directory given, cannot load segments of image ${image.id}`);
    const png = path.join(pngDir, image.pngName);
    return E.chain((rgb: RgbImage): E.Either<string, SegmentMap> => {
      const n = rgb.width * rgb.height;
      const ids = new Uint32Array(n);
      const known = new Set(image.segments.map((s) => s.id));
      for (let p = 0; p < n; p++) {
        const id = rgbToSegmentId(rgb.data[3 * p], rgb.data[3 * p + 1], rgb.data[3 * p + 2]);
        if (id !== 0 && !known.has(id)) {
          return E.left(
            `${png}: segment id ${id} (pixel ${p % rgb.width}, ${Math.floor(p / rgb.width)}) is not in annotations[${image.annotationIndex}].segments_info`,
          );
        }
        ids[p] = id;
      }
      return E.right({ height: rgb.height, width: rgb.width, ids });
    })(readDeclaredImage(png, image, file));
  };

  return E.right({
    file,
    imageDir,
    pngDir,
    images: out,
    categories: cats,
    labelOf,
    loadImage: imageLoader(imageDir, file),
    loadSegments,
  });
}
