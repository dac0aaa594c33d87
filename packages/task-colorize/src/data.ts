/**
 * The colorization data of a config: built-in scenes (scenes.ts) or a folder of colour images (colour-folder.ts), as
 * three splits of examples plus the model's inputs (the grey images) and stage I's batches.
 *
 * A folder (`--data <dir>`, config `data.dir`) is split one of two ways, checked in this order:
 * 1. `<dir>/train` is a folder: `<dir>/train`, `<dir>/val` (required) and `<dir>/test` (optional; without it the
 *    test split is val, and every report says so), each read recursively.
 * 2. Otherwise every image under `<dir>` is assigned by a hash of its path relative to `<dir>` (FNV-1a, 32 bits):
 *    hash mod 10 = 0 → test, 1 → val, else train. The assignment depends on the file's name only, so adding images
 *    never moves another one between splits.
 * A non-image file, an empty folder or split, or a training split of greyscale images only is one line (exit 2),
 * before any run directory exists.
 *
 * Synthetic examples hold no pixels: a scene is regenerated from (seed, split, index) when its colours are needed,
 * so a large training split costs only its grey images (the model's input table).
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/Either';
import type { OracleBatch } from '@reward-tune/core-model';
import type { ImageTable, OracleTable, Split } from '@reward-tune/reinforce';
import { listColourImages, loadColourExample, requireColour, type ColourExample } from './colour-folder';
import type { ColorizeConfig } from './config';
import { oracleImageSize } from './config';
import { toGrayRgb } from './grayscale';
import { colourSceneAt, type ColourSceneOptions } from './scenes';

/** One example: an id and its colour image [S·S·3] in [−1, 1] (the target; the grey input is its luma ×3). */
export interface ColourItem {
  /** `<split>/<index>` for a scene, the file's path for a folder image. */
  readonly id: string;
  readonly rgb: Float32Array;
}

/** A built-in scene, regenerated on each read of `rgb`. */
export class SceneItem implements ColourItem {
  constructor(
    readonly seed: number,
    readonly split: Split,
    readonly index: number,
    readonly options: ColourSceneOptions,
  ) {}
  get id(): string {
    return `${this.split}/${this.index}`;
  }
  get rgb(): Float32Array {
    return colourSceneAt(this.seed, this.split, this.index, this.options).rgb;
  }
}

/** A folder image, decoded once. */
class FolderItem implements ColourItem {
  constructor(private readonly ex: ColourExample) {}
  get id(): string {
    return this.ex.file;
  }
  get rgb(): Float32Array {
    return this.ex.rgb;
  }
}

export interface ColourData {
  /** Where the data came from: a folder, or `synthetic scenes (seed s)`. */
  readonly source: string;
  readonly size: number;
  readonly splits: Readonly<Record<Split, readonly ColourItem[]>>;
  /** The folder has no test split: test = val. */
  readonly testIsVal: boolean;
}

/** FNV-1a (32 bits) of a string's UTF-16 code units. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The split of a file under a folder without split subfolders (see the file comment). */
export function hashSplit(relative: string): Split {
  const r = fnv1a(relative.split(path.sep).join('/')) % 10;
  return r === 0 ? 'test' : r === 1 ? 'val' : 'train';
}

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();

function loadFiles(files: readonly string[], size: number, limit: number): E.Either<string, ColourExample[]> {
  const out: ColourExample[] = [];
  for (const f of limit > 0 ? files.slice(0, limit) : files) {
    const ex = loadColourExample(f, size);
    if (E.isLeft(ex)) return ex;
    out.push(ex.right);
  }
  return E.right(out);
}

/** A folder's three splits (see the file comment). */
export function readFolderData(dir: string, size: number, limit = 0): E.Either<string, ColourData> {
  const root = path.resolve(dir);
  const files: Record<Split, string[]> = { train: [], val: [], test: [] };
  let testIsVal = false;
  if (isDir(path.join(root, 'train'))) {
    for (const split of ['train', 'val', 'test'] as const) {
      const sub = path.join(root, split);
      if (split === 'test' && !existsSync(sub)) {
        testIsVal = true;
        continue;
      }
      if (split === 'val' && !isDir(sub)) return E.left(`${sub}: no such folder (a folder with train/ needs val/)`);
      const listed = listColourImages(sub);
      if (E.isLeft(listed)) return listed;
      files[split] = listed.right;
    }
  } else {
    const listed = listColourImages(root);
    if (E.isLeft(listed)) return listed;
    for (const f of listed.right) files[hashSplit(path.relative(root, f))].push(f);
    for (const split of ['train', 'val', 'test'] as const)
      if (files[split].length === 0)
        return E.left(
          `${root}: no image falls in the ${split} split (${listed.right.length} images split by a hash of their paths); give train/, val/ and test/ subfolders instead`,
        );
  }
  const loaded: Partial<Record<Split, ColourExample[]>> = {};
  for (const split of ['train', 'val', 'test'] as const) {
    if (split === 'test' && testIsVal) continue;
    const r = loadFiles(files[split], size, limit);
    if (E.isLeft(r)) return r;
    loaded[split] = r.right;
  }
  const colour = requireColour(isDir(path.join(root, 'train')) ? path.join(root, 'train') : root, loaded.train!);
  if (E.isLeft(colour)) return colour;
  const items = (xs: readonly ColourExample[]) => xs.map((x) => new FolderItem(x));
  const val = items(loaded.val!);
  return E.right({
    source: root,
    size,
    splits: { train: items(loaded.train!), val, test: loaded.test ? items(loaded.test) : val },
    testIsVal,
  });
}

/** The built-in scenes of a config (nothing generated yet). */
export function syntheticData(cfg: ColorizeConfig): ColourData {
  const s = cfg.data.synthetic;
  const size = oracleImageSize(cfg.oracle);
  const options: ColourSceneOptions = { size, greyProbability: s.greyProbability, chroma: s.chroma };
  const make = (split: Split, n: number) =>
    Array.from({ length: n }, (_, i) => new SceneItem(s.seed, split, i, options));
  return {
    source: `synthetic scenes (seed ${s.seed})`,
    size,
    splits: { train: make('train', s.trainImages), val: make('val', s.valImages), test: make('test', s.testImages) },
    testIsVal: false,
  };
}

/** The data a config reads. */
export function colourData(cfg: ColorizeConfig): E.Either<string, ColourData> {
  return cfg.data.dir === undefined
    ? E.right(syntheticData(cfg))
    : readFolderData(cfg.data.dir, oracleImageSize(cfg.oracle), cfg.data.maxImages);
}

/** Stacks per-example images [S·S·3] into one array [N·S·S·3]. */
export function stack(images: readonly Float32Array[]): Float32Array {
  const per = images[0]?.length ?? 0;
  const out = new Float32Array(images.length * per);
  images.forEach((im, i) => out.set(im, i * per));
  return out;
}

/** The model's inputs (grey images) of the first `limit` examples of a split (0 = all). */
export function greyTable(items: readonly ColourItem[], size: number, limit = 0): ImageTable<ColourItem> {
  const examples = limit > 0 ? items.slice(0, limit) : items;
  return { examples, size, pixels: stack(examples.map((e) => toGrayRgb(e.rgb))) };
}

/** The colour targets [B, S, S, 3] of examples. */
export function rgbTensor(items: readonly ColourItem[], size: number): tf.Tensor4D {
  return tf.tensor4d(stack(items.map((e) => e.rgb)), [items.length, size, size, 3]);
}

/** Stage I's examples of a split: labels `rgb` and the grey context, built per batch. */
export function oracleTable(items: readonly ColourItem[], size: number, limit = 0): OracleTable {
  const examples = limit > 0 ? items.slice(0, limit) : items;
  return {
    size: examples.length,
    batch: (indices): OracleBatch => {
      const rgb = indices.map((i) => examples[i].rgb);
      const b = indices.length;
      return {
        labels: { rgb: tf.tensor4d(stack(rgb), [b, size, size, 3]) },
        ctx: tf.tensor4d(stack(rgb.map(toGrayRgb)), [b, size, size, 3]),
      };
    },
  };
}
