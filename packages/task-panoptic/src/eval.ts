/**
 * The panoptic evaluation suite (`eval`, and pretrain's, tune's and the demo's closing numbers): on the first
 * `eval.images` of the split,
 *
 *   - PQ / SQ / RQ for All, Things and Stuff of four decoders: the oracle with the true code (its upper bound), the
 *     oracle with a zero code (what the image alone gives), and the model's greedy code;
 *   - the mean per-image PQ of the greedy outputs and of T = 1 samples;
 *   - codebook health of the greedy codes and of the true codes (perplexity, unused share, largest share);
 *   - pictures: image | ground truth | oracle | model, with segment outlines.
 *
 * The oracle rows do not depend on the model: they are computed once per split and process.
 *
 * Dimension legend: B batch, R rows, L code length, S image side.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  encodePng,
  oracleDecode,
  oracleEncode,
  Rng,
  type EncoderDecoder,
  type FrozenOracle,
  type RgbImage,
} from '@reward-tune/core-model';
import { evaluateGreedy, sequentialBatches, type ImageTable } from '@reward-tune/reinforce';
import type { PanopticClasses } from './classes';
import { enlarge, imageGrid, renderSegments } from './render';
import { evaluatePanoptic, makePanopticReward, panopticReward } from './reward';
import { segmentsFromTwoChannel } from './segments';
import { imageRows, oracleLabels, type PanopticItem } from './setup';
import { flatScores, mapsOfOutputs, type PanopticTask } from './task';
import type { TwoChannelMap } from './two-channel';

/** A decoder's numbers: PQ/SQ/RQ (All), PQ_th…, PQ_st…, in points, and the mean per-image PQ (×100). */
export type PqRow = Record<string, number> & { readonly PQ: number; readonly mean_reward: number };

/** How often each codeword is used, as core-model's codebook health reports it. */
export interface CodeUse {
  readonly perplexity: number;
  readonly unusedFraction: number;
  readonly maxShare: number;
}

export interface PanopticEval {
  readonly split: string;
  readonly images: number;
  readonly oracle: PqRow;
  readonly zeroCode: PqRow;
  readonly greedy: PqRow;
  /** Mean per-image PQ (×100) of T = 1 samples (`samples` per image). */
  readonly sampleMeanReward: number;
  readonly codes: { readonly greedy: CodeUse; readonly oracle: CodeUse };
}

export function codeUse(codes: Int32Array, dictSize: number): CodeUse {
  const counts = new Float64Array(dictSize);
  for (const c of codes) counts[c]++;
  const n = codes.length;
  let h = 0,
    unused = 0,
    max = 0;
  for (const k of counts) {
    if (k === 0) unused++;
    else h -= (k / n) * Math.log(k / n);
    max = Math.max(max, k / n);
  }
  return { perplexity: Math.exp(h), unusedFraction: unused / dictSize, maxShare: max };
}

/** PQ of two-channel predictions against the examples, and their mean per-image PQ, in points. */
export function pqRow(
  preds: readonly TwoChannelMap[],
  items: readonly PanopticItem[],
  classes: PanopticClasses,
): PqRow {
  const segs = preds.map((p) => segmentsFromTwoChannel(p, classes));
  const scores = evaluatePanoptic(
    segs.map((s, i) => [items[i].truth, s] as const),
    classes,
  );
  const mean = segs.reduce((a, s, i) => a + panopticReward(s, items[i].truth, classes), 0) / Math.max(1, segs.length);
  return { ...flatScores(scores), mean_reward: 100 * mean } as PqRow;
}

/** The oracle's outputs with the true code (its encoder's) and with a zero code, and the true codes, batch-wise. */
export async function oracleRows(
  oracle: FrozenOracle,
  table: ImageTable<PanopticItem>,
  classes: PanopticClasses,
  instances: number,
  batchSize: number,
): Promise<{ trueMaps: TwoChannelMap[]; zeroMaps: TwoChannelMap[]; codes: Int32Array }> {
  const n = table.examples.length;
  const trueMaps: TwoChannelMap[] = [];
  const zeroMaps: TwoChannelMap[] = [];
  const codes = new Int32Array(n * oracle.cfg.codeLen);
  for (let s = 0; s < n; s += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, n - s) }, (_, i) => s + i);
    const items = idx.map((i) => table.examples[i]);
    const ctx = imageRows(table, idx);
    const labels = oracleLabels(items, classes, instances, table.size);
    try {
      const enc = await oracleEncode(oracle.params, oracle.state, oracle.cfg, labels, ctx);
      codes.set(enc.codes, s * oracle.cfg.codeLen);
      const withCode = oracleDecode(oracle.params, oracle.state, oracle.cfg, enc.codes, ctx);
      trueMaps.push(...(await mapsOfOutputs(withCode)));
      tf.dispose(Object.values(withCode));
      const zeros = tf.zeros([idx.length, oracle.cfg.codeLen, oracle.cfg.codewordDim]) as tf.Tensor3D;
      const without = oracleDecode(oracle.params, oracle.state, oracle.cfg, { vectors: zeros }, ctx);
      zeros.dispose();
      zeroMaps.push(...(await mapsOfOutputs(without)));
      tf.dispose(Object.values(without));
    } finally {
      tf.dispose([ctx, labels.semantics, labels.instances]);
    }
  }
  return { trueMaps, zeroMaps, codes };
}

/** Mean per-image PQ of `samples` T = 1 samples per image (×100). */
async function sampleReward(
  model: EncoderDecoder,
  task: PanopticTask,
  table: ImageTable<PanopticItem>,
  batchSize: number,
  samples: number,
  seed: number,
): Promise<number> {
  if (samples === 0) return NaN;
  const imagePqOf = makePanopticReward(task.classes);
  const rng = Rng.fromSeed(seed);
  let sum = 0,
    n = 0;
  for (const batch of sequentialBatches(table, Math.max(1, Math.floor(batchSize / samples)))) {
    const img =
      batch.images instanceof tf.Tensor ? batch.images : tf.tensor4d(batch.images.data, [...batch.images.shape]);
    try {
      const s = await model.sample(img, { numSamples: samples, rng, temperature: 1 });
      const B = batch.examples.length;
      const L = s.length;
      const [, H, W, C] = img.shape;
      const tiled = tf.tidy(
        () => tf.reshape(tf.tile(tf.expandDims(img, 1), [1, samples, 1, 1, 1]), [B * samples, H, W, C]) as tf.Tensor4D,
      );
      const rows = batch.examples.flatMap((e) => Array.from({ length: samples }, () => e));
      const preds = await task.decodeBatch(s.tokens.subarray(0, B * samples * L), rows, tiled);
      tiled.dispose();
      // Per-image PQ whatever the tuning reward (config `reward`), as the greedy rows report it.
      preds.forEach((p, i) => (sum += imagePqOf(p, rows[i].truth)));
      n += B * samples;
    } finally {
      if (!(batch.images instanceof tf.Tensor)) img.dispose();
    }
  }
  return (100 * sum) / n;
}

const oracleCache = new WeakMap<object, Map<string, Awaited<ReturnType<typeof oracleRows>>>>();

export interface EvalContext {
  readonly oracle: FrozenOracle;
  readonly task: PanopticTask;
  readonly classes: PanopticClasses;
  readonly instances: number;
  readonly batchSize: number;
  readonly pictures: number;
  readonly samples: number;
  readonly seed: number;
}

/** The suite on `table` (split `split`), pictures and eval.json into `<dir>/eval/`. */
export async function evaluatePanopticModel(
  ctx: EvalContext,
  model: EncoderDecoder,
  dir: string,
  table: ImageTable<PanopticItem>,
  split: string,
): Promise<PanopticEval> {
  const { oracle, task, classes } = ctx;
  let byOracle = oracleCache.get(oracle);
  if (byOracle === undefined) oracleCache.set(oracle, (byOracle = new Map()));
  const key = `${split}:${table.examples.length}`;
  let o = byOracle.get(key);
  if (o === undefined) byOracle.set(key, (o = await oracleRows(oracle, table, classes, ctx.instances, ctx.batchSize)));
  const greedyBatches = sequentialBatches(table, ctx.batchSize);
  const g = await evaluateGreedy(model, task, greedyBatches);
  // The greedy codes, for their use of the codebook.
  const codes: number[] = [];
  for (const batch of greedyBatches) {
    const img =
      batch.images instanceof tf.Tensor ? batch.images : tf.tensor4d(batch.images.data, [...batch.images.shape]);
    const s = await model.sample(img, { numSamples: 1, greedy: true });
    for (const t of s.tokens.subarray(0, batch.examples.length * s.length)) codes.push(t - 1);
    if (!(batch.images instanceof tf.Tensor)) img.dispose();
  }
  const ev: PanopticEval = {
    split,
    images: table.examples.length,
    oracle: pqRow(o.trueMaps, table.examples, classes),
    zeroCode: pqRow(o.zeroMaps, table.examples, classes),
    greedy: pqRow(g.predictions, table.examples, classes),
    sampleMeanReward: await sampleReward(model, task, table, ctx.batchSize, ctx.samples, ctx.seed),
    codes: {
      greedy: codeUse(Int32Array.from(codes), oracle.cfg.dictSize),
      oracle: codeUse(o.codes, oracle.cfg.dictSize),
    },
  };
  const out = path.join(dir, 'eval');
  await import('node:fs').then((fs) => fs.mkdirSync(out, { recursive: true }));
  writeFileSync(path.join(out, 'eval.json'), `${JSON.stringify(ev, null, 2)}\n`);
  writePictures(out, table, classes, ctx.pictures, o.trueMaps, g.predictions);
  return ev;
}

/** The image of a table row as RGB bytes. */
export function rowImage(table: ImageTable<unknown>, r: number): RgbImage {
  const S = table.size;
  const per = S * S * 3;
  const data = new Uint8Array(per);
  const px = table.pixels.subarray(r * per, (r + 1) * per);
  for (let i = 0; i < per; i++) data[i] = Math.max(0, Math.min(255, Math.round((px[i] + 1) * 127.5)));
  return { width: S, height: S, data };
}

/** pictures.png: per row image | ground truth | columns (each a list of predictions). */
export function pictureGrid(
  table: ImageTable<PanopticItem>,
  classes: PanopticClasses,
  count: number,
  columns: readonly (readonly TwoChannelMap[])[],
): RgbImage | undefined {
  const n = Math.min(count, table.examples.length);
  if (n === 0) return undefined;
  const factor = Math.max(1, Math.round(128 / table.size));
  const rows = Array.from({ length: n }, (_, r) => [
    enlarge(rowImage(table, r), factor),
    enlarge(renderSegments(table.examples[r].truth, classes), factor),
    ...columns.map((c) => enlarge(renderSegments(segmentsFromTwoChannel(c[r], classes), classes), factor)),
  ]);
  return imageGrid(rows);
}

function writePictures(
  out: string,
  table: ImageTable<PanopticItem>,
  classes: PanopticClasses,
  count: number,
  oracle: readonly TwoChannelMap[],
  greedy: readonly TwoChannelMap[],
): void {
  const grid = pictureGrid(table, classes, count, [oracle, greedy]);
  if (grid !== undefined) writeFileSync(path.join(out, 'pictures.png'), encodePng(grid));
}

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '–');

/** The table of the four (or three) rows: PQ SQ RQ | PQ_th SQ_th RQ_th | PQ_st SQ_st RQ_st | mean per-image PQ. */
export function pqTable(rows: readonly (readonly [string, PqRow])[]): string {
  const head = `${'decoder'.padEnd(24)}  PQ    SQ    RQ   | PQth  SQth  RQth | PQst  SQst  RQst | img PQ`;
  const line = ([name, r]: readonly [string, PqRow]) =>
    `${name.padEnd(24)}${[r.PQ, r.SQ, r.RQ].map((v) => f1(v).padStart(6)).join('')} |` +
    `${[r.PQ_th, r.SQ_th, r.RQ_th].map((v) => f1(v).padStart(6)).join('')} |` +
    `${[r.PQ_st, r.SQ_st, r.RQ_st].map((v) => f1(v).padStart(6)).join('')} | ${f1(r.mean_reward).padStart(6)}`;
  return [head, ...rows.map(line)].join('\n');
}

export const summaryLine = (name: string, ev: PanopticEval): string =>
  `${name}: PQ ${f1(ev.greedy.PQ)} (things ${f1(ev.greedy.PQ_th)}, stuff ${f1(ev.greedy.PQ_st)}); ` +
  `oracle true code ${f1(ev.oracle.PQ)}, zero code ${f1(ev.zeroCode.PQ)}; ${ev.images} ${ev.split} images`;

/** PQ, SQ and RQ (All) of a row. */
export const pqr = (r: PqRow) => ({ PQ: r.PQ, SQ: r.SQ, RQ: r.RQ });

export const jsonStats = (ev: PanopticEval): Record<string, unknown> => ({
  PQ: ev.greedy.PQ,
  SQ: ev.greedy.SQ,
  RQ: ev.greedy.RQ,
  PQ_th: ev.greedy.PQ_th,
  PQ_st: ev.greedy.PQ_st,
  mean_reward: ev.greedy.mean_reward,
  sample_mean_reward: ev.sampleMeanReward,
  oracle: pqr(ev.oracle),
  zero_code: pqr(ev.zeroCode),
  codebook: ev.codes,
});
