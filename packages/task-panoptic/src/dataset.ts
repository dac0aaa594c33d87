/**
 * Panoptic data on disk, in the COCO panoptic format, for both the built-in synthetic scenes and real COCO: the
 * synthetic splits are written as PNGs + JSON and read back through the same reader (core-model
 * `readCocoPanoptic`) a user's COCO download goes through.
 *
 * Layouts `panopticSplitPaths` understands under a data directory (split = train | val | test):
 *   synthetic:  panoptic_<split>.json + panoptic_<split>/ (segment PNGs) + <split>/ (images)   (writeSyntheticPanoptic)
 *   COCO 2017:  annotations/panoptic_<split>2017.json + panoptic_<split>2017/ (or annotations/panoptic_<split>2017/,
 *               where COCO's zip unpacks) + <split>2017/
 * Segment PNGs hold id = R + 256·G + 256²·B per pixel, 0 = void.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import {
  encodePng,
  readCocoPanoptic,
  resizeNearest,
  type CocoPanoptic,
  type ImageSize,
  type ModelImage,
  type PanopticImage as PanopticRecord,
  type SegmentMap,
} from '@reward-tune/core-model';
import type { PanopticImage } from '@reward-tune/rewards-metrics';
import {
  PANOPTIC_SPLITS,
  SCENE_CATEGORIES,
  SCENE_DEFAULTS,
  sceneAt,
  type PanopticSceneOptions,
  type PanopticSplit,
} from './scenes';

export interface SyntheticPanopticOptions extends PanopticSceneOptions {
  readonly seed: number;
  /** Images per split. */
  readonly train: number;
  readonly val: number;
  readonly test: number;
}

/** What `synthetic.json` records: the format and every option, defaults filled in. */
export interface SyntheticManifest {
  readonly format: 'synthetic-panoptic';
  readonly version: 1;
  readonly options: Required<SyntheticPanopticOptions>;
}

const MANIFEST = 'synthetic.json';

export const syntheticManifest = (opts: SyntheticPanopticOptions): SyntheticManifest => ({
  format: 'synthetic-panoptic',
  version: 1,
  options: { ...SCENE_DEFAULTS, ...opts },
});

const fileName = (i: number): string => `${String(i + 1).padStart(6, '0')}.png`;

/** Segment ids → the RGB bytes of a panoptic PNG (R + 256·G + 256²·B). */
export function segmentIdsToRgb(ids: Uint32Array): Uint8Array {
  const out = new Uint8Array(ids.length * 3);
  for (let p = 0; p < ids.length; p++) {
    const id = ids[p];
    out[3 * p] = id & 0xff;
    out[3 * p + 1] = (id >>> 8) & 0xff;
    out[3 * p + 2] = (id >>> 16) & 0xff;
  }
  return out;
}

/** Writes every split into `root` (which must exist and be empty). */
function writeSplits(root: string, manifest: SyntheticManifest, onImage?: (done: number, total: number) => void): void {
  const o = manifest.options;
  const { seed, train, val, test, ...scene } = o;
  const sizes: Record<PanopticSplit, number> = { train, val, test };
  const total = train + val + test;
  const categories = SCENE_CATEGORIES.map((c) => ({
    id: c.id,
    name: c.name,
    supercategory: c.supercategory,
    isthing: c.isthing,
    color: c.color,
  }));
  let done = 0;
  for (const split of PANOPTIC_SPLITS) {
    mkdirSync(path.join(root, split));
    mkdirSync(path.join(root, `panoptic_${split}`));
    const images: object[] = [];
    const annotations: object[] = [];
    for (let i = 0; i < sizes[split]; i++) {
      const s = sceneAt(seed, split, i, scene);
      const name = fileName(i);
      writeFileSync(path.join(root, split, name), encodePng({ width: s.width, height: s.height, data: s.rgb }));
      writeFileSync(
        path.join(root, `panoptic_${split}`, name),
        encodePng({ width: s.width, height: s.height, data: segmentIdsToRgb(s.ids) }),
      );
      images.push({ id: i + 1, file_name: name, width: s.width, height: s.height });
      annotations.push({
        image_id: i + 1,
        file_name: name,
        segments_info: s.segments.map((g) => ({
          id: g.id,
          category_id: g.category_id,
          area: g.area,
          bbox: g.bbox,
          iscrowd: g.iscrowd,
        })),
      });
      onImage?.(++done, total);
    }
    const info = { description: `synthetic panoptic scenes, ${split} split`, generator: manifest };
    writeFileSync(path.join(root, `panoptic_${split}.json`), JSON.stringify({ info, images, annotations, categories }));
  }
  writeFileSync(path.join(root, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
}

const readManifest = (dir: string): string | undefined => {
  try {
    return readFileSync(path.join(dir, MANIFEST), 'utf8');
  } catch {
    return undefined;
  }
};

const removeQuietly = (dir: string): void => {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // Nothing was made there, or it cannot be removed either: the write's own error is the one to report.
  }
};

const isEmptyDir = (dir: string): boolean => {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return false;
  }
};

/**
 * Makes sure `dir` holds the synthetic panoptic dataset of `opts`: reused when its `synthetic.json` records the same
 * options (returns false), else written (returns true). Everything is written into a hidden temp directory beside
 * `dir` and renamed into place at the end, so an interrupted write leaves no half-written dataset under `dir`. An
 * existing `dir` is replaced only when it is empty or an earlier synthetic dataset; anything else is refused
 * (a Left, one line), as is a write the file system refuses. An error thrown by `onImage` (e.g. a stop request)
 * removes the temp directory and is rethrown.
 */
export function ensureSyntheticPanoptic(
  dir: string,
  opts: SyntheticPanopticOptions,
  onImage?: (done: number, total: number) => void,
): E.Either<string, boolean> {
  const manifest = syntheticManifest(opts);
  for (const k of ['train', 'val', 'test'] as const) {
    if (!Number.isInteger(opts[k]) || opts[k] < 0)
      return E.left(`${dir}: ${k} must be a non-negative integer number of images, got ${opts[k]}`);
  }
  const wanted = JSON.stringify(manifest, null, 2) + '\n';
  const existing = existsSync(dir) ? readManifest(dir) : undefined;
  if (existing === wanted) return E.right(false);
  if (existsSync(dir) && existing === undefined && !isEmptyDir(dir)) {
    return E.left(`${dir}: exists and is not a synthetic panoptic dataset (no ${MANIFEST}); choose another directory`);
  }
  const parent = path.dirname(path.resolve(dir));
  const stamp = `${process.pid}-${Date.now().toString(36)}`;
  const tmp = path.join(parent, `.${path.basename(dir)}.tmp-${stamp}`);
  try {
    mkdirSync(parent, { recursive: true });
    mkdirSync(tmp);
    writeSplits(tmp, manifest, onImage);
    if (existsSync(dir)) {
      const old = path.join(parent, `.${path.basename(dir)}.old-${stamp}`);
      renameSync(dir, old);
      try {
        renameSync(tmp, dir);
      } catch (err) {
        renameSync(old, dir);
        throw err;
      }
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, dir);
    }
  } catch (err) {
    removeQuietly(tmp);
    // A file-system failure is the user's to fix (one line); anything else (an abort from `onImage`) goes on up.
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code !== 'string') throw err;
    return E.left(`${dir}: cannot write the synthetic panoptic dataset (${code})`);
  }
  return E.right(true);
}

export interface PanopticSplitPaths {
  readonly annotations: string;
  /** The folder of the segment PNGs. */
  readonly pngs: string;
  readonly images: string;
}

/** Where a split's annotation file and folders are under `dir`, for either layout. */
export function panopticSplitPaths(dir: string, split: PanopticSplit): E.Either<string, PanopticSplitPaths> {
  const synthetic = {
    annotations: path.join(dir, `panoptic_${split}.json`),
    pngs: path.join(dir, `panoptic_${split}`),
    images: path.join(dir, split),
  };
  if (existsSync(synthetic.annotations)) return E.right(synthetic);
  const cocoJson = path.join(dir, 'annotations', `panoptic_${split}2017.json`);
  if (existsSync(cocoJson)) {
    const top = path.join(dir, `panoptic_${split}2017`);
    const inAnnotations = path.join(dir, 'annotations', `panoptic_${split}2017`);
    return E.right({
      annotations: cocoJson,
      pngs: existsSync(top) || !existsSync(inAnnotations) ? top : inAnnotations,
      images: path.join(dir, `${split}2017`),
    });
  }
  return E.left(`${dir}: no ${split} split (expected ${synthetic.annotations} or ${cocoJson})`);
}

/**
 * Reads and validates one split's JSON (every image and PNG must exist); each problem is one line naming file and
 * field.
 */
export const loadPanopticSplit = (dir: string, split: PanopticSplit): E.Either<string, CocoPanoptic> =>
  E.chain((p: PanopticSplitPaths) => readCocoPanoptic(p.annotations, { imageDir: p.images, pngDir: p.pngs }))(
    panopticSplitPaths(dir, split),
  );

/** A ground-truth panoptic map with COCO's segment fields, for labels (`panopticLabels`) and PQ. */
export interface GroundTruth extends PanopticImage {
  readonly segments: readonly {
    readonly id: number;
    readonly category_id: number;
    readonly iscrowd: number;
    readonly isthing: boolean;
  }[];
}

/**
 * One image's ground truth from its segment PNG. Checks what the reader leaves to the PNG: an id in the PNG that
 * segments_info lacks (the reader's own check) and a segment of segments_info with no pixel in the PNG; each is
 * one line naming the file and the field.
 */
export function loadPanopticTruth(ds: CocoPanoptic, image: PanopticRecord): E.Either<string, GroundTruth> {
  return E.chain((map: SegmentMap): E.Either<string, GroundTruth> => {
    const present = new Set<number>();
    let last = 0;
    for (const id of map.ids) {
      if (id !== last) {
        present.add(id);
        last = id;
      }
    }
    const k = image.segments.findIndex((s) => !present.has(s.id));
    if (k >= 0) {
      const png = ds.pngDir === undefined ? image.pngName : path.join(ds.pngDir, image.pngName);
      return E.left(
        `${ds.file}: annotations[${image.annotationIndex}].segments_info[${k}]: segment ${image.segments[k].id} has no pixels in ${png}`,
      );
    }
    return E.right({
      width: map.width,
      height: map.height,
      ids: map.ids,
      segments: image.segments.map((s) => ({
        id: s.id,
        category_id: s.categoryId,
        iscrowd: s.iscrowd ? 1 : 0,
        isthing: s.isthing,
      })),
    });
  })(ds.loadSegments(image));
}

/** One example: the model's image and the ground truth at the file's resolution. */
export interface PanopticExample {
  readonly record: PanopticRecord;
  readonly image: ModelImage;
  readonly truth: GroundTruth;
}

export const loadPanopticExample = (
  ds: CocoPanoptic,
  record: PanopticRecord,
  size: ImageSize,
): E.Either<string, PanopticExample> =>
  E.chain((image: ModelImage) =>
    E.map((truth: GroundTruth): PanopticExample => ({ record, image, truth }))(loadPanopticTruth(ds, record)),
  )(ds.loadImage(record, size));

/**
 * The ground truth resized to `size` with nearest-neighbour sampling (labels must not blend), for training labels
 * at the model's resolution; segments left with no pixel are dropped.
 */
export function resizeTruth(truth: GroundTruth, size: ImageSize): GroundTruth {
  if (truth.height === size.height && truth.width === size.width) return truth;
  const ids = resizeNearest(truth.ids, truth.height, truth.width, 1, size.height, size.width);
  const present = new Set(ids);
  return { width: size.width, height: size.height, ids, segments: truth.segments.filter((s) => present.has(s.id)) };
}
