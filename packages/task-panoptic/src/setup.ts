/**
 * From a resolved config to what the task runner takes: the data (the synthetic scenes written in COCO panoptic form
 * on first use and read back through the COCO reader, or a user's COCO panoptic directory), the examples with their
 * UViM labels at the model's size, stage I's tables (one-hot label maps, context images, thing-weighted pixels), and
 * the stage II model. Every split is read and checked when the config is set up, so a bad dataset is one line before
 * any run directory exists.
 *
 * Dimension legend: B batch, S image side, K semantic classes (void + categories), I instance ids.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/Either';
import {
  createModel,
  orUsageError,
  ORACLE_PRESETS,
  stageTwoProcessors,
  type CocoPanoptic,
  type EncoderDecoder,
  type OracleBatch,
} from '@reward-tune/core-model';
import { loadCounter, type ImageTable, type OracleTable, type Split } from '@reward-tune/reinforce';
import { panopticClasses, type PanopticClasses } from './classes';
import type { PanopticConfig } from './config';
import {
  ensureSyntheticPanoptic,
  loadPanopticExample,
  loadPanopticSplit,
  panopticSplitPaths,
  resizeTruth,
  type GroundTruth,
} from './dataset';
import { labelWeights, panopticLabels, type PanopticLabels } from './labels';

/** One example: its index in the split, the ground truth and the two-channel labels at the model's size. */
export interface PanopticItem {
  readonly index: number;
  readonly truth: GroundTruth;
  readonly labels: PanopticLabels;
}

export interface PanopticData {
  /** The data directory (the synthetic one written under the output root, or --data). */
  readonly dir: string;
  readonly classes: PanopticClasses;
  readonly splits: Readonly<Record<Split, ImageTable<PanopticItem>>>;
  /** True where the data has no test split of its own (COCO 2017): test is val. */
  readonly testIsVal: boolean;
}

/** Where the synthetic data of a config lives under the output root (shared by runs with the same data). */
export function syntheticDir(outRoot: string, cfg: PanopticConfig): string {
  const s = cfg.data.synthetic;
  return path.join(
    outRoot,
    'data',
    `panoptic-s${s.seed}-${s.size}px-${s.trainImages}x${s.valImages}x${s.testImages}` +
      `-things${s.minThings}-${s.maxThings}-twin${s.twinProb}-crowd${s.crowdProb}`,
  );
}

const imageSizeOf = (cfg: PanopticConfig): number =>
  cfg.oracle.model.imageSize ?? ORACLE_PRESETS[cfg.oracle.preset].imageSize;

/** A split's examples and images at size S; each problem (a bad PNG id, an empty segment, …) one line. */
function loadSplit(
  ds: CocoPanoptic,
  classes: PanopticClasses,
  size: number,
  instances: number,
  label: string,
): E.Either<string, ImageTable<PanopticItem>> {
  const n = ds.images.length;
  const pixels = new Float32Array(n * size * size * 3);
  const examples: PanopticItem[] = [];
  const count = loadCounter(label);
  for (let i = 0; i < n; i++) {
    const record = ds.images[i];
    const ex = loadPanopticExample(ds, record, { height: size, width: size });
    if (E.isLeft(ex)) return ex;
    const bad = ex.right.truth.segments.find((s) => !classes.semanticOf.has(s.category_id));
    if (bad !== undefined)
      return E.left(
        `${ds.file}: annotations[${record.annotationIndex}]: segment ${bad.id} has unknown category_id ${bad.category_id}`,
      );
    const truth = resizeTruth(ex.right.truth, { height: size, width: size });
    pixels.set(ex.right.image.pixels, i * size * size * 3);
    examples.push({ index: i, truth, labels: panopticLabels(truth, classes, instances) });
    count(i + 1, n);
  }
  return E.right({ examples, size, pixels });
}

/**
 * Reads (and for synthetic data first writes) the three splits; a directory with no test split (COCO 2017) reports
 * on val, flagged `testIsVal`. The categories are the train split's; the other splits must use the same.
 */
export function prepareData(cfg: PanopticConfig, outRoot: string): E.Either<string, PanopticData> {
  const s = cfg.data.synthetic;
  const dir = cfg.data.dir ?? syntheticDir(outRoot, cfg);
  if (cfg.data.dir === undefined) {
    const written = ensureSyntheticPanoptic(
      dir,
      {
        seed: s.seed,
        train: s.trainImages,
        val: s.valImages,
        test: s.testImages,
        size: s.size,
        minThings: s.minThings,
        maxThings: s.maxThings,
        twinProb: s.twinProb,
        crowdProb: s.crowdProb,
      },
      loadCounter('writing synthetic panoptic scenes'),
    );
    if (E.isLeft(written)) return written;
  }
  const size = imageSizeOf(cfg);
  const testIsVal = E.isLeft(panopticSplitPaths(dir, 'test'));
  const train = loadPanopticSplit(dir, 'train');
  if (E.isLeft(train)) return train;
  const categories = train.right.categories.map((c) => ({ id: c.id, name: c.name, isthing: c.isthing }));
  const classes = panopticClasses(categories);
  const tables: Partial<Record<Split, ImageTable<PanopticItem>>> = {};
  for (const split of testIsVal ? (['train', 'val'] as const) : (['train', 'val', 'test'] as const)) {
    const ds = split === 'train' ? train : loadPanopticSplit(dir, split);
    if (E.isLeft(ds)) return ds;
    const t = loadSplit(ds.right, classes, size, cfg.panoptic.instances, `reading the ${split} split`);
    if (E.isLeft(t)) return t;
    if (t.right.examples.length === 0) return E.left(`${ds.right.file}: the ${split} split has no images`);
    tables[split] = t.right;
  }
  const val = tables.val!;
  return E.right({ dir, classes, splits: { train: tables.train!, val, test: tables.test ?? val }, testIsVal });
}

/** The first `limit` rows of a table (0 = all). */
export function firstRows<T>(table: ImageTable<T>, limit: number): ImageTable<T> {
  if (limit <= 0 || limit >= table.examples.length) return table;
  const per = table.size * table.size * 3;
  return { examples: table.examples.slice(0, limit), size: table.size, pixels: table.pixels.subarray(0, limit * per) };
}

/** One-hot maps [B, S, S, C] of a channel of the examples' labels (ids outside 0..C−1, e.g. −1, are all zeros). */
export function oneHotLabels(
  items: readonly PanopticItem[],
  channel: 'semantics' | 'instances',
  channels: number,
  size: number,
): tf.Tensor4D {
  const P = size * size;
  const data = new Float32Array(items.length * P * channels);
  items.forEach((it, b) => {
    const v = it.labels[channel];
    for (let p = 0; p < P; p++) {
      const c = v[p];
      if (c >= 0 && c < channels) data[(b * P + p) * channels + c] = 1;
    }
  });
  return tf.tensor4d(data, [items.length, size, size, channels]);
}

/** The images [B, S, S, 3] of rows of a table. */
export function imageRows<T>(table: ImageTable<T>, indices: readonly number[]): tf.Tensor4D {
  const per = table.size * table.size * 3;
  const data = new Float32Array(indices.length * per);
  indices.forEach((r, i) => data.set(table.pixels.subarray(r * per, (r + 1) * per), i * per));
  return tf.tensor4d(data, [indices.length, table.size, table.size, 3]);
}

/** The oracle's label maps of examples: `semantics` [B, S, S, K] and `instances` [B, S, S, I]. */
export function oracleLabels(
  items: readonly PanopticItem[],
  classes: PanopticClasses,
  instances: number,
  size: number,
): { semantics: tf.Tensor4D; instances: tf.Tensor4D } {
  return {
    semantics: oneHotLabels(items, 'semantics', classes.numClasses, size),
    instances: oneHotLabels(items, 'instances', instances, size),
  };
}

/** Stage I's examples of a table: the two one-hot maps, the image as context, thing pixels weighted. */
export function panopticOracleTable(
  table: ImageTable<PanopticItem>,
  classes: PanopticClasses,
  instances: number,
  thingWeight: number,
): OracleTable {
  const S = table.size;
  return {
    size: table.examples.length,
    batch: (indices): OracleBatch => {
      const items = indices.map((i) => table.examples[i]);
      const w = new Float32Array(items.length * S * S);
      items.forEach((it, b) => w.set(labelWeights(it.labels, classes, thingWeight), b * S * S));
      return {
        labels: oracleLabels(items, classes, instances, S),
        ctx: imageRows(table, indices),
        weights: { semantics: tf.tensor3d(w, [items.length, S, S]), instances: tf.tensor3d(w, [items.length, S, S]) },
      };
    },
  };
}

/** The oracle's two output keys. */
export const oracleOutputs = (classes: number, instances: number) =>
  [
    { name: 'semantics', channels: classes, loss: 'xent' },
    { name: 'instances', channels: instances, loss: 'xent' },
  ] as const;

/** The stage II model: vocabulary dictSize + 1 (token 0 never drawn), length = the code length. */
export function buildStageTwoModel(cfg: PanopticConfig, seed: number): EncoderDecoder {
  const preset = ORACLE_PRESETS[cfg.oracle.preset];
  const dict = cfg.oracle.model.dictSize ?? preset.dictSize;
  const codeLen = cfg.oracle.model.codeLen ?? preset.codeLen;
  return createModel(cfg.model, dict + 1, codeLen, seed, stageTwoProcessors());
}

/** prepareData, once per process per (output root, config); a UsageError for bad data. */
const cache = new Map<string, PanopticData>();
export function dataOf(cfg: PanopticConfig, outRoot: string): PanopticData {
  const key = JSON.stringify([
    path.resolve(outRoot),
    cfg.data,
    cfg.oracle.preset,
    cfg.oracle.model.imageSize,
    cfg.panoptic,
  ]);
  let d = cache.get(key);
  if (d === undefined) cache.set(key, (d = orUsageError(prepareData(cfg, outRoot))));
  return d;
}
