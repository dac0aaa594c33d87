/**
 * The demo's comparison: the table of the four decoders on the test split (oracle with the true code, zero code,
 * MLE greedy, tuned greedy), and compare.html in the tuned run with the pictures image | ground truth | MLE | tuned
 * (segment outlines).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import type { DemoResults } from '@reward-tune/reinforce';
import type { PanopticConfig } from './config';
import { pqTable, type PanopticEval } from './eval';
import type { PanopticItem } from './setup';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** The table of a demo's test numbers. */
export function demoTable(mle: PanopticEval, tuned: PanopticEval): string {
  return pqTable([
    ['oracle, true code', mle.oracle],
    ['oracle, zero code', mle.zeroCode],
    ['MLE, greedy', mle.greedy],
    ['tuned, greedy', tuned.greedy],
  ]);
}

export function comparison(r: DemoResults<PanopticConfig, PanopticItem, PanopticEval>): {
  table: string;
  page: string;
} {
  const mle = r.mle.ev,
    tuned = r.tuned.ev;
  const table =
    `${demoTable(mle, tuned)}\n` +
    `mean per-image PQ of T=1 samples: MLE ${mle.sampleMeanReward.toFixed(1)}, tuned ${tuned.sampleMeanReward.toFixed(1)}\n` +
    `codebook use of the greedy codes (perplexity): MLE ${mle.codes.greedy.perplexity.toFixed(1)}, tuned ` +
    `${tuned.codes.greedy.perplexity.toFixed(1)}, true codes ${mle.codes.oracle.perplexity.toFixed(1)}`;
  const page = path.join(r.tuned.run.dir, 'compare.html');
  const mlePics = path.relative(r.tuned.run.dir, path.join(r.mle.run.dir, 'eval', 'pictures.png'));
  const tunedPics = path.join('eval', 'pictures.png');
  writeFileSync(
    page,
    `<!doctype html><meta charset="utf-8"><title>task-panoptic demo (${esc(r.preset)})</title>\n` +
      `<h1>Panoptic: MLE vs tuned, ${r.images.examples.length} ${r.split} images</h1>\n<pre>${esc(table)}</pre>\n` +
      `<h2>Pictures: image | ground truth | oracle (true code) | model greedy</h2>\n` +
      `<h3>MLE</h3><img src="${esc(mlePics)}">\n<h3>tuned</h3><img src="${esc(tunedPics)}">\n`,
  );
  return { table, page };
}
