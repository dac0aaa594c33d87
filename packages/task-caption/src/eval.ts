/**
 * The captioning evaluation suite: greedy decoding of a split's images (test, or val: `eval.split`), coco-caption's
 * corpus CIDEr-D and BLEU-1..4 (through rewards-metrics, in `CaptionTask.evaluate`), the mean reward (CIDEr-D against
 * each image's own references under the training document frequencies), and the artefacts a run keeps of it under
 * `<dir>/eval/`:
 *
 *   captions.json   COCO results: [{image_id, caption}] in the split's order
 *   metrics.json    {split, images, mean_reward, CIDEr-D, BLEU-1..4, caption_length}
 *   <split>_NNN.png the first `eval.pictures` images, enlarged, and captions.html showing them with the predicted
 *                   caption and the references
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodePng, fromUnitRange, resizeNearest, type EncoderDecoder, type RgbImage } from '@reward-tune/core-model';
import { evaluateGreedy, sequentialBatches, type ImageTable as GenericImageTable } from '@reward-tune/reinforce';
import type { CaptionExample } from './dataset';
import type { CaptionPrediction, CaptionTask } from './task';

/** A split's images at the model's size, [N, H, W, 3] in [−1, 1], loaded once (the CPU demos fit in memory). */
export type ImageTable = GenericImageTable<CaptionExample>;

export interface CaptionEval {
  /** `CaptionTask.evaluate`'s keys (CIDEr-D, BLEU-1..4, caption_length). */
  readonly metrics: Record<string, number>;
  readonly meanReward: number;
  /** One per evaluated image, in table order. */
  readonly predictions: readonly CaptionPrediction[];
  /** The images evaluated. */
  readonly images: ImageTable;
}

/** Greedy captions for every image of `images`, scored; `onBatch` reports progress (images done, total). */
export async function evaluateCaptions(
  model: EncoderDecoder,
  task: CaptionTask,
  images: ImageTable,
  batchSize: number,
  onBatch?: (done: number, total: number) => void,
): Promise<CaptionEval> {
  const predictions: CaptionPrediction[] = [];
  let rewardSum = 0;
  let done = 0;
  for (const batch of sequentialBatches(images, batchSize)) {
    const r = await evaluateGreedy(model, task, [batch]);
    predictions.push(...r.predictions);
    rewardSum += r.rewardMean * r.predictions.length;
    done += r.predictions.length;
    onBatch?.(done, images.examples.length);
  }
  const n = images.examples.length;
  return {
    metrics: task.evaluate(predictions, images.examples),
    meanReward: n > 0 ? rewardSum / n : NaN,
    predictions,
    images,
  };
}

/** Row `index` of a table as an 8-bit image, `scale`× larger (nearest neighbour, so the pixels stay visible). */
export function enlarged(table: ImageTable, index: number, scale = 4): RgbImage {
  const s = table.size;
  const per = s * s * 3;
  const small = fromUnitRange(table.pixels.subarray(index * per, (index + 1) * per), s, s);
  return { width: s * scale, height: s * scale, data: resizeNearest(small.data, s, s, 3, s * scale, s * scale) };
}

export const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** COCO caption results: one {image_id, caption} per evaluated image. */
export const cocoCaptionResults = (ev: CaptionEval): { image_id: number; caption: string }[] =>
  ev.predictions.map((p, i) => ({ image_id: ev.images.examples[i].id, caption: p.caption }));

/**
 * Writes the evaluation's artefacts into `<dir>/eval/` (see the file comment), `split` naming the images evaluated;
 * returns that directory.
 */
export function writeCaptionEval(ev: CaptionEval, dir: string, pictures: number, split = 'val'): string {
  const out = path.join(dir, 'eval');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'captions.json'), JSON.stringify(cocoCaptionResults(ev)));
  const metrics = { split, images: ev.images.examples.length, mean_reward: ev.meanReward, ...ev.metrics };
  writeFileSync(path.join(out, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
  const rows: string[] = [];
  for (let i = 0; i < Math.min(pictures, ev.images.examples.length); i++) {
    const name = `${split}_${String(i).padStart(3, '0')}.png`;
    writeFileSync(path.join(out, name), encodePng(enlarged(ev.images, i)));
    const refs = ev.images.examples[i].references.map((r) => `<li>${escapeHtml(r)}</li>`).join('');
    rows.push(
      `<tr><td><img src="${name}"></td><td><b>${escapeHtml(ev.predictions[i].caption)}</b></td><td><ul>${refs}</ul></td></tr>`,
    );
  }
  writeFileSync(
    path.join(out, 'captions.html'),
    `<!doctype html><meta charset="utf-8"><title>captions</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:4px 10px;border:1px solid #ccc;vertical-align:top}img{image-rendering:pixelated}</style>
<table><tr><th>image</th><th>greedy caption</th><th>references</th></tr>
${rows.join('\n')}</table>
`,
  );
  return out;
}

/** The line a command prints after an evaluation. */
export function summaryLine(name: string, ev: CaptionEval): string {
  const m = ev.metrics;
  return `${name}: CIDEr-D ${m['CIDEr-D'].toFixed(3)}  BLEU-4 ${m['BLEU-4'].toFixed(3)}  mean reward ${ev.meanReward.toFixed(3)}  words/caption ${m.caption_length.toFixed(2)}`;
}

/** The numbers of --json output: corpus CIDEr-D and BLEU-1..4. */
export const jsonStats = (ev: CaptionEval): { 'CIDEr-D': number; BLEU: number[] } => ({
  'CIDEr-D': ev.metrics['CIDEr-D'],
  BLEU: [ev.metrics['BLEU-1'], ev.metrics['BLEU-2'], ev.metrics['BLEU-3'], ev.metrics['BLEU-4']],
});
