/**
 * Caption data on disk, in COCO's real formats, so the synthetic data and real COCO go through the same readers:
 *
 *   <dir>/train/000000.png …     <dir>/captions_train.json   COCO captions: images [{id, file_name, width, height}],
 *   <dir>/val/000000.png …       <dir>/captions_val.json                    annotations [{id, image_id, caption}]
 *   <dir>/test/000000.png …      <dir>/captions_test.json    the held-out test split (scene stream 2)
 *   <dir>/synthetic.json         train and val's generator parameters, written last: present and equal means complete
 *   <dir>/synthetic-test.json    the same for the test split, which came later: train and val stay as they were
 *
 * `writeCaptionDataset` generates it (idempotently). `loadCaptionSplit` reads one split back, through core-model's
 * readers, from a data directory in any layout of ./layouts (this one, COCO 2017 or 2014, Karpathy's
 * `dataset_coco.json`), from any COCO captions file + image directory, or from a Karpathy file + its image root.
 * Every problem is one line naming the file and the field (or, for a directory in no layout, the layouts accepted).
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import {
  encodePng,
  readCocoCaptions,
  readJson,
  readKarpathySplit,
  type CaptionDataset,
  type KarpathySplit,
  type ModelImage,
  writeAtomicE,
} from '@reward-tune/core-model';
import { DEFAULT_MAX_OBJECTS, generateCaptionedScene, NUMBER_WORDS } from './synthetic';
import { captionFile, captionSplitFiles, type CaptionFiles, type CaptionSplitName } from './layouts';

export {
  acceptedLayouts,
  captionFile,
  captionSplitFiles,
  detectCaptionLayout,
  CAPTION_LAYOUTS,
  CAPTION_SPLITS,
  type CaptionFiles,
  type CaptionLayout,
  type CaptionSplitName,
} from './layouts';

/** The splits written together under synthetic.json (the test split has its own marker). */
export const SYNTHETIC_SPLITS = ['train', 'val'] as const;
export type SyntheticSplit = (typeof SYNTHETIC_SPLITS)[number] | 'test';
/** Each split's scene stream (generateCaptionedScene): train 0 and val 1 as always, test 2. */
const STREAMS: Readonly<Record<SyntheticSplit, number>> = { train: 0, val: 1, test: 2 };
/** Bumped whenever the images or the caption grammar change, so that an old dataset on disk is regenerated. */
const GENERATOR = 'task-caption synthetic scenes v1';

export interface SyntheticCaptionParams {
  readonly seed: number;
  readonly trainImages: number;
  readonly valImages: number;
  /** Images of the held-out test split (0 or absent: none written). */
  readonly testImages?: number;
  /** Square image side in pixels. */
  readonly size: number;
  readonly maxObjects?: number;
}

export interface WrittenCaptionDataset {
  readonly dir: string;
  /** False when a complete dataset with the same parameters was already there and nothing was written. */
  readonly generated: boolean;
  /** The captions file of each split written (test only when testImages > 0). */
  readonly captionFiles: Readonly<Partial<Record<SyntheticSplit, string>>>;
}

const imageName = (index: number): string => `${String(index).padStart(6, '0')}.png`;
const IMAGE_NAME = /^\d{6,}\.png$/;

interface Marker {
  readonly generator: string;
  readonly seed: number;
  readonly trainImages: number;
  readonly valImages: number;
  readonly size: number;
  readonly maxObjects: number;
}

/** The test split's marker (synthetic-test.json). */
interface TestMarker {
  readonly generator: string;
  readonly seed: number;
  readonly testImages: number;
  readonly size: number;
  readonly maxObjects: number;
}

function checkParams(p: SyntheticCaptionParams): E.Either<string, Marker> {
  const maxObjects = p.maxObjects ?? DEFAULT_MAX_OBJECTS;
  const checks: [string, number, number, number][] = [
    ['seed', p.seed, 0, 0xffffffff],
    ['trainImages', p.trainImages, 1, 1e7],
    ['valImages', p.valImages, 1, 1e7],
    ['testImages', p.testImages ?? 0, 0, 1e7],
    ['size', p.size, 8, 4096],
    ['maxObjects', maxObjects, 1, NUMBER_WORDS.length - 1],
  ];
  for (const [name, v, lo, hi] of checks) {
    if (!Number.isInteger(v) || v < lo || v > hi)
      return E.left(`synthetic caption data: ${name}: expected an integer in ${lo}..${hi}, got ${v}`);
  }
  return E.right({
    generator: GENERATOR,
    seed: p.seed,
    trainImages: p.trainImages,
    valImages: p.valImages,
    size: p.size,
    maxObjects,
  });
}

const count = (m: Marker | TestMarker, split: SyntheticSplit): number =>
  'testImages' in m ? m.testImages : split === 'train' ? m.trainImages : m.valImages;

/** Whether `markerFile` records `want` and every split's captions file and images are there. */
function isComplete(
  dir: string,
  markerFile: string,
  want: Marker | TestMarker,
  splits: readonly SyntheticSplit[],
): boolean {
  const found = readJson(path.join(dir, markerFile));
  if (E.isLeft(found) || JSON.stringify(found.right) !== JSON.stringify(want)) return false;
  return splits.every((s) => {
    if (!existsSync(captionFile(dir, s))) return false;
    for (let i = 0; i < count(want, s); i++) if (!existsSync(path.join(dir, s, imageName(i)))) return false;
    return true;
  });
}

/**
 * Writes (or finds already written) the synthetic caption dataset: per split, each scene's PNG and its 5
 * references in a COCO captions file. Scene i of a split depends only on (seed, split, i, size, maxObjects), so a
 * larger dataset extends a smaller one. `onImage` reports progress (images written so far, total).
 */
export function writeCaptionDataset(
  dir: string,
  params: SyntheticCaptionParams,
  onImage?: (done: number, total: number) => void,
): E.Either<string, WrittenCaptionDataset> {
  const checked = checkParams(params);
  if (E.isLeft(checked)) return checked;
  const marker = checked.right;
  const testImages = params.testImages ?? 0;
  const { generator, seed, size, maxObjects } = marker;
  const parts: { file: string; marker: Marker | TestMarker; splits: readonly SyntheticSplit[] }[] = [
    { file: 'synthetic.json', marker, splits: SYNTHETIC_SPLITS },
  ];
  if (testImages > 0)
    parts.push({
      file: 'synthetic-test.json',
      marker: { generator, seed, testImages, size, maxObjects },
      splits: ['test'],
    });
  const captionFiles = Object.fromEntries(
    parts.flatMap((p) => p.splits).map((s) => [s, captionFile(dir, s)]),
  ) as Partial<Record<SyntheticSplit, string>>;
  const missing = parts.filter((p) => !isComplete(dir, p.file, p.marker, p.splits));
  const total = missing.reduce((sum, p) => sum + p.splits.reduce((n, s) => n + count(p.marker, s), 0), 0);
  let done = 0;
  for (const part of missing) {
    const written = writeSplits(dir, part.file, part.marker, part.splits, () => onImage?.(++done, total));
    if (E.isLeft(written)) return written;
  }
  return E.right({ dir, generated: missing.length > 0, captionFiles });
}

/** Writes `splits` (each scene's PNG, then the captions file) and then their marker `markerFile`. */
function writeSplits(
  dir: string,
  markerFile: string,
  marker: Marker | TestMarker,
  splits: readonly SyntheticSplit[],
  onImage: () => void,
): E.Either<string, void> {
  const markerPath = path.join(dir, markerFile);
  try {
    // The marker goes first, so that a run interrupted below never looks complete.
    rmSync(markerPath, { force: true });
    for (const s of splits) mkdirSync(path.join(dir, s), { recursive: true });
  } catch (err) {
    return E.left(
      `${dir}: cannot prepare the dataset directory (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  for (const split of splits) {
    const n = count(marker, split);
    const images: { id: number; file_name: string; width: number; height: number }[] = [];
    const annotations: { id: number; image_id: number; caption: string }[] = [];
    for (let i = 0; i < n; i++) {
      const { image, captions } = generateCaptionedScene(
        { seed: marker.seed, stream: STREAMS[split], size: marker.size, maxObjects: marker.maxObjects },
        i,
      );
      const fileName = imageName(i);
      const written = writeAtomicE(
        path.join(dir, split, fileName),
        encodePng({ width: image.width, height: image.height, data: image.rgb }),
      );
      if (E.isLeft(written)) return written;
      const id = i + 1; // COCO ids start at 1
      images.push({ id, file_name: fileName, width: image.width, height: image.height });
      for (const caption of captions) annotations.push({ id: annotations.length + 1, image_id: id, caption });
      onImage();
    }
    // Images left over from an earlier, larger dataset would sit unreferenced: remove them.
    for (const f of readdirSync(path.join(dir, split))) {
      if (IMAGE_NAME.test(f) && Number(f.slice(0, -4)) >= n) rmSync(path.join(dir, split, f), { force: true });
    }
    const json = writeAtomicE(
      captionFile(dir, split),
      JSON.stringify({ info: { description: GENERATOR }, images, annotations }),
    );
    if (E.isLeft(json)) return json;
  }
  return E.map(() => undefined)(writeAtomicE(markerPath, `${JSON.stringify(marker, null, 2)}\n`));
}

// ---- reading ---------------------------------------------------------------------------------------------------

/** Where one split comes from. */
export type CaptionSource =
  /**
   * A data directory in any accepted layout (./layouts): the one `writeCaptionDataset` writes, COCO 2017 or 2014,
   * or Karpathy's. `test` exists in the synthetic layout and in Karpathy's.
   */
  | { readonly dir: string; readonly split: CaptionSplitName }
  /**
   * A COCO captions file (e.g. annotations/captions_val2014.json) and the directory its file_names are in; or
   * Karpathy's dataset_coco.json and the COCO root its filepaths are relative to, where `train` reads train +
   * restval (what captioning papers train on) and `val` and `test` read those splits.
   */
  | CaptionFiles;

export interface CaptionExample {
  readonly id: number;
  /** Relative to the split's image directory. */
  readonly fileName: string;
  /** The reference captions, normalised. */
  readonly references: readonly string[];
}

export interface CaptionSplit {
  /** The annotation file read. */
  readonly file: string;
  readonly examples: readonly CaptionExample[];
  /** Square side the images are loaded at. */
  readonly imageSize: number;
  /** Decodes example `index`'s image, resized to imageSize × imageSize, pixels [H, W, 3] in [−1, 1]. */
  loadImage(index: number): E.Either<string, ModelImage>;
}

export interface CaptionSplitOptions {
  /** Model input side in pixels. */
  readonly imageSize: number;
  /**
   * Applied to every reference once, here, so all later users (vocabulary, targets, CIDEr) see the same text.
   * Real COCO captions need rewards-metrics' caption normaliser; the synthetic ones are already normal.
   */
  readonly normalize?: (caption: string) => string;
}

const KARPATHY_READS: Readonly<Record<CaptionSplitName, readonly KarpathySplit[]>> = {
  train: ['train', 'restval'],
  val: ['val'],
  test: ['test'],
};

function readFiles(files: CaptionFiles): E.Either<string, CaptionDataset> {
  if ('annotations' in files) return readCocoCaptions(files.annotations, { imageDir: files.imageDir });
  return readKarpathySplit(files.karpathy, { imageDir: files.imageDir, splits: KARPATHY_READS[files.split] });
}

const readSource = (source: CaptionSource): E.Either<string, CaptionDataset> =>
  'dir' in source ? E.chain(readFiles)(captionSplitFiles(source.dir, source.split)) : readFiles(source);

/** Reads one split: its references (checked, normalised) now, its images lazily. */
export function loadCaptionSplit(source: CaptionSource, options: CaptionSplitOptions): E.Either<string, CaptionSplit> {
  const { imageSize, normalize = (c: string) => c } = options;
  if (!Number.isInteger(imageSize) || imageSize < 1)
    throw new RangeError(`loadCaptionSplit: imageSize must be a positive integer, got ${imageSize}`);
  return E.chain((data: CaptionDataset): E.Either<string, CaptionSplit> => {
    const examples: CaptionExample[] = [];
    for (const im of data.images) {
      const references = im.references.map(normalize);
      const empty = references.findIndex((r) => r.trim() === '');
      if (empty >= 0)
        return E.left(
          `${data.file}: image ${im.id}: reference ${empty} ("${im.references[empty]}") is empty after normalisation`,
        );
      examples.push({ id: im.id, fileName: im.fileName, references });
    }
    const size = { height: imageSize, width: imageSize };
    return E.right({
      file: data.file,
      examples,
      imageSize,
      loadImage: (index: number) => {
        if (!(index >= 0 && index < data.images.length))
          throw new RangeError(`loadImage: index ${index} outside 0..${data.images.length - 1}`);
        return data.loadImage(data.images[index], size);
      },
    });
  })(readSource(source));
}
