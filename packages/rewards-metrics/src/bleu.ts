/**
 * BLEU-1..4 exactly as coco-caption computes them (pycocoevalcap `bleu/bleu_scorer.py`, called by `Bleu` with
 * option "closest"), for captions already normalised (see caption-normalize.ts):
 * - clipped n-gram matches: per n-gram, min(count in candidate, max count in any one reference);
 * - "guess" = max(0, len − n + 1) n-grams in the candidate;
 * - effective reference length = the reference length closest to the candidate's (ties → the shorter one);
 * - corpus BLEU-n = (Π_{k≤n} (Σcorrect_k + 1e-15)/(Σguess_k + 1e-9))^{1/n}, times the corpus brevity penalty
 *   exp(1 − 1/ratio) when ratio = (Σlen + 1e-15)/(Σreflen + 1e-9) < 1;
 * - per-image BLEU-n: the same formula on that image's own counts and lengths.
 */

import { corpusCiderDAndBleu, type BleuResult } from './caption-corpus';
import type { CiderDCorpusResult, CiderDOptions } from './cider';
import { NgramIndex, wholeCounts, type CountsView } from './ngram-index';

// BleuResult lives beside the one-pass corpus scorer that fills it (no import cycle); this module's public name.
export type { BleuResult };

const N = 4;

const TINY = 1e-15;
const SMALL = 1e-9;

function grow(a: Int32Array, size: number): Int32Array {
  const b = new Int32Array(size);
  b.set(a);
  return b;
}

/** Scores `candidates[i]` against `refs[i]` (normalised captions); corpus and per-image BLEU-1..4. */
export function bleu(candidates: readonly string[], refs: ReadonlyArray<readonly string[]>): BleuResult {
  const index = new NgramIndex();
  return bleuCounted(candidates, refs, (i, k) => wholeCounts(index.count(refs[i][k], true, true)), index);
}

/**
 * Corpus CIDEr-D and BLEU-1..4 of the same scored set, counting each reference's n-grams once for both (what
 * `rewards-metrics cider` reports). Identical to `ciderD` and `bleu` called separately.
 */
export function ciderDAndBleu(
  candidates: readonly string[],
  refs: ReadonlyArray<readonly string[]>,
  opts: CiderDOptions = {},
): { ciderD: CiderDCorpusResult; bleu: BleuResult } {
  return corpusCiderDAndBleu(candidates, refs, opts.sigma ?? 6);
}

/**
 * BLEU with the references' counts from `refCounts(i, k)` (consumed before the next call, so scratch counts do) in
 * `index`; candidates are counted in `index` without interning.
 */
function bleuCounted(
  candidates: readonly string[],
  refs: ReadonlyArray<readonly string[]>,
  refCounts: (image: number, ref: number) => CountsView,
  index: NgramIndex,
): BleuResult {
  if (candidates.length !== refs.length)
    throw new Error(`bleu: ${candidates.length} candidates for ${refs.length} reference sets`);
  const I = candidates.length;
  const perImage: BleuResult['perImage'] = [
    new Float64Array(I),
    new Float64Array(I),
    new Float64Array(I),
    new Float64Array(I),
  ];
  const totalGuess = [0, 0, 0, 0];
  const totalCorrect = [0, 0, 0, 0];
  let totalTest = 0;
  let totalRef = 0;
  // maxRef[id]: the largest count of n-gram id in one reference of the current image (valid where stamp[id] === i + 1).
  let maxRef: Int32Array = new Int32Array(1 << 12);
  let stamp: Int32Array = new Int32Array(1 << 12);
  for (let i = 0; i < I; i++) {
    if (refs[i].length === 0) throw new Error(`bleu: image ${i} has no references`);
    const refLens: number[] = [];
    for (let k = 0; k < refs[i].length; k++) {
      const { ids, tf, start, end, words } = refCounts(i, k);
      refLens.push(words);
      if (index.size > maxRef.length) {
        const cap = Math.max(index.size, 2 * maxRef.length);
        [maxRef, stamp] = [grow(maxRef, cap), grow(stamp, cap)];
      }
      for (let j = start; j < end; j++) {
        const id = ids[j];
        if (stamp[id] !== i + 1) {
          stamp[id] = i + 1;
          maxRef[id] = tf[j];
        } else if (tf[j] > maxRef[id]) maxRef[id] = tf[j];
      }
    }
    const hyp = index.count(candidates[i], false, true);
    const testLen = hyp.words;
    let refLen = refLens[0];
    for (const l of refLens) {
      const d = Math.abs(l - testLen);
      const best = Math.abs(refLen - testLen);
      if (d < best || (d === best && l < refLen)) refLen = l;
    }
    const correct = [0, 0, 0, 0];
    for (let j = 0; j < hyp.ids.length; j++) {
      const id = hyp.ids[j];
      if (id >= 0 && id < stamp.length && stamp[id] === i + 1) correct[hyp.order[j]] += Math.min(maxRef[id], hyp.tf[j]);
    }
    const guess = [0, 1, 2, 3].map((k) => Math.max(0, testLen - k));
    totalTest += testLen;
    totalRef += refLen;
    let prod = 1;
    const ratio = (testLen + TINY) / (refLen + SMALL);
    for (let k = 0; k < N; k++) {
      totalGuess[k] += guess[k];
      totalCorrect[k] += correct[k];
      prod *= (correct[k] + TINY) / (guess[k] + SMALL);
      perImage[k][i] = prod ** (1 / (k + 1)) * (ratio < 1 ? Math.exp(1 - 1 / ratio) : 1);
    }
  }
  const corpus: BleuResult['corpus'] = [0, 0, 0, 0];
  const ratio = (totalTest + TINY) / (totalRef + SMALL);
  let prod = 1;
  for (let k = 0; k < N; k++) {
    prod *= (totalCorrect[k] + TINY) / (totalGuess[k] + SMALL);
    corpus[k] = prod ** (1 / (k + 1)) * (ratio < 1 ? Math.exp(1 - 1 / ratio) : 1);
  }
  return { corpus, perImage };
}
