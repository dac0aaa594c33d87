/**
 * What the COCO readers (instances, panoptic, captions) share: the `images[]` entry, duplicate-id and
 * missing-file checks, and the lazy image loader that checks the decoded size against the JSON.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { z } from 'zod';
import { readImage, toModelImage, type ImageSize, type ModelImage, type RgbImage } from './image';

/** COCO's 0/1 flags (iscrowd, isthing). */
export const zeroOrOne = z.union([z.literal(0), z.literal(1)], { error: 'expected 0 or 1' });

export const cocoImageSchema = z.object({
  id: z.number().int(),
  file_name: z.string().min(1),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
});

/** What a lazy loader needs to find and check an image; the size is checked when the annotation file gives it. */
export interface ImageRef {
  readonly id: number;
  /** Relative to the dataset's image directory. */
  readonly fileName: string;
  readonly width?: number;
  readonly height?: number;
}

export type Bbox = readonly [x: number, y: number, w: number, h: number];

export const BBOX_PROBLEM = 'expected [x, y, w, h] with w > 0 and h > 0';

export const isBbox = (b: unknown): b is Bbox =>
  Array.isArray(b) &&
  b.length === 4 &&
  b.every((v) => typeof v === 'number' && Number.isFinite(v)) &&
  b[2] > 0 &&
  b[3] > 0;

/** One entry of `images[]`. */
export interface CocoImageRecord extends ImageRef {
  readonly width: number;
  readonly height: number;
}

/** `<file>: <field>[i].id: duplicate id 7 (also at <field>[j])`, or undefined when all ids are distinct. */
export function duplicateId(ids: readonly number[], file: string, field: string): string | undefined {
  const seen = new Map<number, number>();
  for (let i = 0; i < ids.length; i++) {
    const j = seen.get(ids[i]);
    if (j !== undefined) return `${file}: ${field}[${i}].id: duplicate id ${ids[i]} (also at ${field}[${j}])`;
    seen.set(ids[i], i);
  }
  return undefined;
}

/** The first duplicate-id problem among several id lists (field name → ids), checked in the order given. */
export function firstDuplicateId(file: string, lists: Readonly<Record<string, readonly number[]>>): string | undefined {
  for (const [field, ids] of Object.entries(lists)) {
    const problem = duplicateId(ids, file, field);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** The first entry whose file does not exist: `<file>: <field>: file not found: <path>`. */
export function firstMissingFile(
  file: string,
  entries: readonly { readonly field: string; readonly path: string }[],
): string | undefined {
  for (const e of entries) if (!existsSync(e.path)) return `${file}: ${e.field}: file not found: ${e.path}`;
  return undefined;
}

/**
 * Reads one image lazily and checks it against the size the annotation file declares (boxes and masks are in
 * those coordinates, so a mismatch would silently misplace every target).
 */
export function readDeclaredImage(imagePath: string, record: ImageRef, jsonFile: string): E.Either<string, RgbImage> {
  return E.chain((img: RgbImage) =>
    record.width === undefined ||
    record.height === undefined ||
    (img.width === record.width && img.height === record.height)
      ? E.right(img)
      : E.left(
          `${imagePath}: image is ${img.width}×${img.height} but ${jsonFile} declares ${record.width}×${record.height} for image ${record.id}`,
        ),
  )(readImage(imagePath));
}

export function imageLoader(
  imageDir: string | undefined,
  jsonFile: string,
): (record: ImageRef, size: ImageSize) => E.Either<string, ModelImage> {
  return (record, size) => {
    if (imageDir === undefined) return E.left(`${jsonFile}: no image directory given, cannot load image ${record.id}`);
    return E.map((img: RgbImage) => toModelImage(img, size))(
      readDeclaredImage(path.join(imageDir, record.fileName), record, jsonFile),
    );
  };
}

export const toRecord = (im: z.infer<typeof cocoImageSchema>): CocoImageRecord => ({
  id: im.id,
  fileName: im.file_name,
  width: im.width,
  height: im.height,
});
