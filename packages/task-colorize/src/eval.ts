/**
 * The colorization evaluation suite over a split's first `eval.images` images (test by default):
 *
 *   ground truth  mean colourfulness (Hasler–Süsstrunk M3) and near-grey fraction of the true colours
 *   zero code     the frozen oracle's decoder with an all-zero code (the feed-forward, "averaged" baseline)
 *   true code     the oracle with the code of the true colours (stage I's upper bound)
 *   greedy        the stage II model's greedy code, decoded (the model's prediction)
 *   samples       `eval.samples` codes per image at T = 1 (their means)
 * For each: mean colourfulness, near-grey fraction (Lab chroma ≤ reward.chromaThreshold), PSNR to the ground truth
 * (range 2, big_vision's formula on [−1, 1]) and luma PSNR to the grey input (faithfulness); for greedy and samples
 * also the colour Fréchet distance to the ground truth, a project-defined proxy (Gaussians of 12 per-image colour
 * statistics: mean and std of Cb and Cr, an 8-bin hue histogram), not FID; and greedy's mean reward.
 *
 * Writes `<dir>/eval/`: summary.json (all of the above, plus each image's greedy and ground-truth colourfulness) and
 * pictures.html with the first `eval.pictures` images (grey | ground truth | zero code | greedy | samples).
 *
 * Dimension legend: B batch, S image side, L code length, Dc codeword width.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  encodePng,
  fromUnitRange,
  oracleDecode,
  oracleEncode,
  resizeNearest,
  Rng,
  type EncoderDecoder,
  type FrozenOracle,
  type RgbImage,
} from '@reward-tune/core-model';
import { decodeRows, sequentialBatches, type ImageTable, type Split } from '@reward-tune/reinforce';
import { colorfulnessSigned, colourFrechetDistance, greyFraction } from '@reward-tune/rewards-metrics';
import type { ColorizeConfig } from './config';
import { rgbTensor, type ColourItem } from './data';
import { clippedImages, colourMetrics, type ColorizeTask } from './task';

export interface ColourStats {
  readonly colourfulness: number;
  readonly grey_fraction: number;
  readonly psnr: number;
  readonly luma_psnr: number;
}

export interface ColorizeEval {
  readonly split: Split;
  readonly images: number;
  readonly groundTruth: { readonly colourfulness: number; readonly grey_fraction: number };
  readonly zeroCode: ColourStats;
  readonly trueCode: ColourStats;
  readonly greedy: ColourStats;
  /** T = 1 samples (eval.samples per image); null when eval.samples is 0. */
  readonly samples: (ColourStats & { readonly frechet: number }) | null;
  /** Greedy's colour Fréchet distance to the ground truth (project-defined proxy, not FID). */
  readonly frechet: number;
  /** Greedy's mean reward (the config's reward). */
  readonly reward: number;
  /** Per image: greedy's and the ground truth's colourfulness (histograms). */
  readonly perImage: { readonly greedy: readonly number[]; readonly groundTruth: readonly number[] };
  /** The predictions kept for pictures: the first `eval.pictures` images' greedy outputs and first samples. */
  readonly pictures: {
    readonly greedy: readonly Float32Array[];
    readonly samples: readonly (readonly Float32Array[])[];
    readonly zeroCode: readonly Float32Array[];
  };
}

/** The oracle's decoded images for an all-zero code (zero code) and for the true colours' code (true code). */
export async function oracleOutputs(
  oracle: FrozenOracle,
  items: readonly ColourItem[],
  grey: tf.Tensor4D,
): Promise<{ zeroCode: Float32Array[]; trueCode: Float32Array[] }> {
  const { cfg, params, state } = oracle;
  const b = items.length;
  const zeros = tf.zeros([b, cfg.codeLen, cfg.codewordDim]) as tf.Tensor3D;
  const zeroCode = await clippedImages(oracleDecode(params, state, cfg, { vectors: zeros }, grey));
  zeros.dispose();
  const rgb = rgbTensor(items, grey.shape[1]);
  const enc = await oracleEncode(params, state, cfg, { rgb }, grey);
  tf.dispose([rgb, enc.preQuant, enc.quantised]);
  const trueCode = await clippedImages(oracleDecode(params, state, cfg, enc.codes, grey));
  return { zeroCode, trueCode };
}

export interface EvaluateColorizeInput {
  readonly cfg: ColorizeConfig;
  readonly model: EncoderDecoder;
  readonly task: ColorizeTask;
  readonly oracle: FrozenOracle;
  readonly images: ImageTable<ColourItem>;
  readonly dir: string;
  readonly split: Split;
}

export async function evaluateColorize(input: EvaluateColorizeInput): Promise<ColorizeEval> {
  const { cfg, model, task, oracle, images, dir, split } = input;
  const chromaThreshold = cfg.reward.chromaThreshold;
  const nSamples = cfg.eval.samples;
  const rng = Rng.fromSeed(cfg.seed * 7919 + 17);
  const greedy: Float32Array[] = [];
  const zero: Float32Array[] = [];
  const truth: Float32Array[] = [];
  const sampled: Float32Array[][] = [];
  let rewardSum = 0;
  for (const batch of sequentialBatches(images, cfg.eval.batchSize)) {
    const [b, h, w, c] = batch.images instanceof tf.Tensor ? batch.images.shape : batch.images.shape;
    const grey =
      batch.images instanceof tf.Tensor
        ? batch.images
        : tf.tensor4d((batch.images as { data: Float32Array }).data, [b, h, w, c]);
    try {
      const g = await model.sample(grey, { numSamples: 1, greedy: true });
      const preds = await decodeRows(task, g.tokens, g.length, grey, batch.examples, 1);
      preds.forEach((p, i) => {
        greedy.push(p);
        rewardSum += task.reward([p], batch.examples[i]).rewards[0];
      });
      if (nSamples > 0) {
        const s = await model.sample(grey, { numSamples: nSamples, temperature: 1, rng });
        const rows = await decodeRows(task, s.tokens, s.length, grey, batch.examples, nSamples);
        for (let i = 0; i < b; i++) sampled.push(rows.slice(i * nSamples, (i + 1) * nSamples));
      }
      const o = await oracleOutputs(oracle, batch.examples, grey);
      zero.push(...o.zeroCode);
      truth.push(...o.trueCode);
    } finally {
      if (grey !== batch.images) grey.dispose();
    }
  }
  const examples = images.examples;
  const gt = examples.map((e) => e.rgb);
  const flatSamples = sampled.flat();
  const sampleItems = sampled.flatMap((s, i) => s.map(() => examples[i]));
  const ev: ColorizeEval = {
    split,
    images: examples.length,
    groundTruth: {
      colourfulness: mean(gt.map(colorfulnessSigned)),
      grey_fraction: mean(gt.map((x) => greyFraction(x, { chromaThreshold }))),
    },
    zeroCode: colourMetrics(zero, examples, chromaThreshold),
    trueCode: colourMetrics(truth, examples, chromaThreshold),
    greedy: colourMetrics(greedy, examples, chromaThreshold),
    samples:
      nSamples > 0
        ? {
            ...colourMetrics(flatSamples, sampleItems, chromaThreshold),
            frechet: frechetOrNaN(flatSamples, gt),
          }
        : null,
    frechet: frechetOrNaN(greedy, gt),
    reward: rewardSum / Math.max(1, examples.length),
    perImage: { greedy: greedy.map(colorfulnessSigned), groundTruth: gt.map(colorfulnessSigned) },
    pictures: {
      greedy: greedy.slice(0, cfg.eval.pictures),
      samples: sampled.slice(0, cfg.eval.pictures),
      zeroCode: zero.slice(0, cfg.eval.pictures),
    },
  };
  writeColorizeEval(ev, images, dir);
  return ev;
}

const mean = (xs: readonly number[]): number => (xs.length === 0 ? NaN : xs.reduce((s, x) => s + x, 0) / xs.length);

/** The colour Fréchet proxy, NaN for fewer than 2 images on either side. */
function frechetOrNaN(preds: readonly Float32Array[], truth: readonly Float32Array[]): number {
  return preds.length >= 2 && truth.length >= 2 ? colourFrechetDistance(preds, truth) : NaN;
}

/** An image [S·S·3] in [−1, 1] as an enlarged RGB picture. */
export function picture(pixels: Float32Array, size: number, scale = 3): RgbImage {
  const small = fromUnitRange(pixels, size, size);
  return {
    width: size * scale,
    height: size * scale,
    data: resizeNearest(small.data, size, size, 3, size * scale, size * scale),
  };
}

/** Writes a picture as `<dir>/<name>.png` and returns its `<img>` tag (relative to `dir`). */
export function pictureTag(dir: string, name: string, pixels: Float32Array, size: number): string {
  writeFileSync(path.join(dir, `${name}.png`), encodePng(picture(pixels, size)));
  return `<img src="${name}.png" alt="${name}">`;
}

/** The JSON summary of an evaluation (no pixels). */
export function evalSummary(ev: ColorizeEval): Record<string, unknown> {
  const { pictures: _pictures, ...rest } = ev;
  return rest;
}

function writeColorizeEval(ev: ColorizeEval, images: ImageTable<ColourItem>, dir: string): void {
  const out = path.join(dir, 'eval');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'summary.json'), `${JSON.stringify(evalSummary(ev), null, 1)}\n`);
  const s = images.size;
  const per = s * s * 3;
  const rows = ev.pictures.greedy.map((g, i) => {
    const cells = [
      pictureTag(out, `${ev.split}_${i}_grey`, images.pixels.slice(i * per, (i + 1) * per), s),
      pictureTag(out, `${ev.split}_${i}_truth`, images.examples[i].rgb, s),
      pictureTag(out, `${ev.split}_${i}_zero`, ev.pictures.zeroCode[i], s),
      pictureTag(out, `${ev.split}_${i}_greedy`, g, s),
      ...(ev.pictures.samples[i] ?? []).map((x, k) => pictureTag(out, `${ev.split}_${i}_sample${k}`, x, s)),
    ];
    return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  const f = (x: number) => x.toFixed(2);
  const row = (name: string, st: ColourStats) =>
    `<tr><td>${name}</td><td>${f(st.colourfulness)}</td><td>${f(100 * st.grey_fraction)}</td><td>${f(st.psnr)}</td><td>${f(st.luma_psnr)}</td></tr>`;
  const html = `<!doctype html><meta charset="utf-8"><title>task-colorize evaluation</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:3px 8px;border:1px solid #ccc}img{image-rendering:pixelated}</style>
<h1>Colorization on the ${ev.split} split (${ev.images} images)</h1>
<table><tr><th></th><th>colourfulness</th><th>near-grey %</th><th>PSNR dB</th><th>luma PSNR dB</th></tr>
<tr><td>ground truth</td><td>${f(ev.groundTruth.colourfulness)}</td><td>${f(100 * ev.groundTruth.grey_fraction)}</td><td></td><td></td></tr>
${row('oracle, true code', ev.trueCode)}
${row('oracle, zero code', ev.zeroCode)}
${row('greedy', ev.greedy)}
${ev.samples ? row('samples (T = 1)', ev.samples) : ''}
</table>
<p>Colour Fréchet distance to the ground truth (a project-defined proxy, not FID): greedy ${f(ev.frechet)}${ev.samples ? `, samples ${f(ev.samples.frechet)}` : ''}.</p>
<table><tr><th>grey input</th><th>ground truth</th><th>zero code</th><th>greedy</th>${(ev.pictures.samples[0] ?? []).map((_, k) => `<th>sample ${k + 1}</th>`).join('')}</tr>
${rows.join('\n')}
</table>
`;
  writeFileSync(path.join(out, 'pictures.html'), html);
}
