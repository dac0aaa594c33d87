/**
 * Caption datasets as per-image reference lists, from either of the two formats COCO captioning uses:
 *   - COCO `captions_*.json`: images[] + annotations[] {image_id, caption};
 *   - Karpathy's `dataset_coco.json`: images[] {filepath, filename, split, cocoid, sentences[] {raw, tokens}},
 *     the split (train / val / test / restval) that captioning papers report on.
 * Both give `CaptionImage`s whose `fileName` is relative to the image root (for Karpathy: `filepath/filename`,
 * e.g. `val2014/COCO_val2014_000000391895.jpg`). Every problem is one line naming the file and the field.
 */
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { z } from 'zod';
import { readJson, zodProblem } from '../input';
import { cocoImageSchema, firstDuplicateId, firstMissingFile, imageLoader, type ImageRef } from './coco-common';
import type { ImageSize, ModelImage } from './image';

export const KARPATHY_SPLITS = ['train', 'val', 'test', 'restval'] as const;
export type KarpathySplit = (typeof KARPATHY_SPLITS)[number];

export interface CaptionImage extends ImageRef {
  /** Karpathy split; absent for COCO captions files. */
  readonly split?: KarpathySplit;
  /** Reference captions as written (`raw` in the Karpathy file). */
  readonly references: readonly string[];
  /** Karpathy's lower-cased tokens per reference (absent for COCO captions files). */
  readonly tokens?: readonly (readonly string[])[];
}

export interface CaptionDataset {
  readonly file: string;
  readonly imageDir?: string;
  readonly images: readonly CaptionImage[];
  loadImage(image: ImageRef, size: ImageSize): E.Either<string, ModelImage>;
}

export interface CaptionOptions {
  /** Image root; when given, every image file must exist under it. */
  readonly imageDir?: string;
}

const captionsSchema = z.object({
  images: z.array(cocoImageSchema),
  annotations: z.array(z.object({ id: z.number().int().optional(), image_id: z.number().int(), caption: z.string() })),
});

const karpathySchema = z.object({
  images: z.array(
    z.object({
      filepath: z.string(),
      filename: z.string().min(1),
      split: z.enum(KARPATHY_SPLITS),
      cocoid: z.number().int(),
      sentences: z.array(z.object({ raw: z.string(), tokens: z.array(z.string()) })),
    }),
  ),
});

function finish(
  file: string,
  images: CaptionImage[],
  options: CaptionOptions,
  nameField: string,
): E.Either<string, CaptionDataset> {
  if (options.imageDir !== undefined) {
    const dir = options.imageDir;
    const missing = firstMissingFile(
      file,
      images.map((im, i) => ({ field: `images[${i}].${nameField}`, path: path.join(dir, im.fileName) })),
    );
    if (missing !== undefined) return E.left(missing);
  }
  return E.right({ file, imageDir: options.imageDir, images, loadImage: imageLoader(options.imageDir, file) });
}

export const readCocoCaptions = (file: string, options: CaptionOptions = {}): E.Either<string, CaptionDataset> =>
  E.chain((json: unknown) => parseCocoCaptions(json, file, options))(readJson(file));

export function parseCocoCaptions(
  json: unknown,
  file: string,
  options: CaptionOptions = {},
): E.Either<string, CaptionDataset> {
  const parsed = captionsSchema.safeParse(json);
  if (!parsed.success) return E.left(zodProblem(parsed.error, file));
  const { images, annotations } = parsed.data;
  if (images.length === 0) return E.left(`${file}: images: dataset has no images`);
  const dup = firstDuplicateId(file, {
    images: images.map((i) => i.id),
    annotations: annotations.flatMap((a) => (a.id === undefined ? [] : [a.id])),
  });
  if (dup !== undefined) return E.left(dup);

  const refs = new Map<number, string[]>(images.map((im) => [im.id, []]));
  for (let i = 0; i < annotations.length; i++) {
    const a = annotations[i];
    const list = refs.get(a.image_id);
    if (list === undefined) return E.left(`${file}: annotations[${i}].image_id: no image with id ${a.image_id}`);
    if (a.caption.trim() === '') return E.left(`${file}: annotations[${i}].caption: empty caption`);
    list.push(a.caption);
  }
  const out: CaptionImage[] = [];
  for (let i = 0; i < images.length; i++) {
    const im = images[i];
    const references = refs.get(im.id) ?? [];
    if (references.length === 0) return E.left(`${file}: images[${i}]: image ${im.id} has no captions`);
    out.push({ id: im.id, fileName: im.file_name, width: im.width, height: im.height, references });
  }
  return finish(file, out, options, 'file_name');
}

export interface KarpathyOptions extends CaptionOptions {
  /** Splits to keep (default all). Papers train on train + restval and report on test. */
  readonly splits?: readonly KarpathySplit[];
}

export const readKarpathySplit = (file: string, options: KarpathyOptions = {}): E.Either<string, CaptionDataset> =>
  E.chain((json: unknown) => parseKarpathySplit(json, file, options))(readJson(file));

export function parseKarpathySplit(
  json: unknown,
  file: string,
  options: KarpathyOptions = {},
): E.Either<string, CaptionDataset> {
  const parsed = karpathySchema.safeParse(json);
  if (!parsed.success) return E.left(zodProblem(parsed.error, file));
  const { images } = parsed.data;
  if (images.length === 0) return E.left(`${file}: images: dataset has no images`);
  const seen = new Map<number, number>();
  const keep = new Set<KarpathySplit>(options.splits ?? KARPATHY_SPLITS);
  const out: CaptionImage[] = [];
  for (let i = 0; i < images.length; i++) {
    const im = images[i];
    const j = seen.get(im.cocoid);
    if (j !== undefined)
      return E.left(`${file}: images[${i}].cocoid: duplicate id ${im.cocoid} (also at images[${j}])`);
    seen.set(im.cocoid, i);
    if (im.sentences.length === 0) return E.left(`${file}: images[${i}].sentences: image ${im.cocoid} has no captions`);
    for (let k = 0; k < im.sentences.length; k++) {
      if (im.sentences[k].raw.trim() === '') return E.left(`${file}: images[${i}].sentences[${k}].raw: empty caption`);
    }
    if (!keep.has(im.split)) continue;
    out.push({
      id: im.cocoid,
      fileName: im.filepath === '' ? im.filename : `${im.filepath}/${im.filename}`,
      split: im.split,
      references: im.sentences.map((s) => s.raw),
      tokens: im.sentences.map((s) => s.tokens),
    });
  }
  if (out.length === 0) return E.left(`${file}: images: no images in split ${[...keep].join(' + ')}`);
  return finish(file, out, options, 'filename');
}
