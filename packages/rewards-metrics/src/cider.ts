/**
 * CIDEr-D exactly as coco-caption computes it (pycocoevalcap `cider/cider_scorer.py`, class `Cider`), plus the same
 * score with document frequencies taken once from a training corpus, which is the per-sample reward for RL
 * captioning (SCST-style).
 *
 * For captions already normalised (see caption-normalize.ts) and split on whitespace:
 * - n-grams n = 1..4 with term frequencies tf;
 * - df(g) = number of images whose reference set contains g; refLen = log(number of images in the df corpus);
 * - vector entry tf·(refLen − log(max(1, df))), one vector per n, each with its own L2 norm;
 * - per reference and n: Σ_{g in hyp} min(h_g, r_g)·r_g, divided by ‖h‖‖r‖ only when both norms are non-zero, times
 *   exp(−δ²/(2σ²)) with σ = 6 and δ = (#bigrams of hyp) − (#bigrams of ref) (the reference counts "length" from the
 *   n = 2 entries, i.e. max(0, words − 1));
 * - mean over n, mean over the references, × 10. The corpus score is the mean over images.
 *
 * Corpus mode (`ciderD`) is the df-from-training mode applied to the scored set itself, so both share one scorer.
 * Speed: n-grams are interned to integer ids (`NgramIndex`, ngram-index.ts); a reference set is prepared once into
 * a dense [U, K] table of its vector entries (U distinct n-grams of the set, K references), so a candidate costs one
 * hash probe and one Map lookup per n-gram.
 */

import { CountLog, NgramIndex, wholeCounts, type CountsView, type NgramCounts } from './ngram-index';

const N = 4;

// Module-level aliases: inside a vm context (Jest) global lookups such as `Math.min` in a hot loop are ~100× slower.
const { min, max, sqrt, exp, log } = Math;

/** One image's references, turned into vectors under a scorer's df: the fast path for repeated scoring. */
export interface PreparedRefs {
  /** K: number of references. */
  readonly count: number;
  /** n-gram id → column u of `values`. */
  readonly column: ReadonlyMap<number, number>;
  /** [U, K]: vector entry of n-gram u in reference k (0 where absent). */
  readonly values: Float64Array;
  /** [K, 4]: L2 norm of reference k's n-vector. */
  readonly norms: Float64Array;
  /** [K]: bigram count of reference k. */
  readonly lengths: Int32Array;
}

export interface CiderDOptions {
  /** Standard deviation of the Gaussian length penalty (coco-caption: 6). */
  readonly sigma?: number;
}

export class CiderD {
  /** log(number of images the document frequencies come from). */
  readonly refLen: number;
  readonly sigma: number;
  private readonly index = new NgramIndex();
  /** Per n-gram id: document frequency and weight refLen − log(max(1, df)). */
  private readonly df: number[] = [];
  private readonly idf: number[] = [];
  /** Per id: the last image that counted towards its df (so an image counts once). */
  private readonly lastImage: number[] = [];
  private readonly cache = new WeakMap<readonly string[], PreparedRefs>();

  private constructor(images: number, opts: CiderDOptions) {
    if (!(images > 0)) throw new Error('CiderD.fromReferences: no images');
    this.refLen = log(images);
    this.sigma = opts.sigma ?? 6;
  }

  /**
   * A scorer whose document frequencies come from these reference sets (one array of normalised captions per
   * image), with refLen = log(number of images): the training-corpus df for the RL reward.
   */
  static fromReferences(refsPerImage: ReadonlyArray<readonly string[]>, opts: CiderDOptions = {}): CiderD {
    return CiderD.build(refsPerImage, opts);
  }

  /** The df pass; with `kept`, every reference's counts are kept there (in reference order) for corpus mode. */
  private static build(refsPerImage: ReadonlyArray<readonly string[]>, opts: CiderDOptions, kept?: CountLog): CiderD {
    const scorer = new CiderD(refsPerImage.length, opts);
    // Without a log the counts are not kept: recounting later is cheaper than keeping 10⁵ small arrays alive.
    refsPerImage.forEach((refs, image) =>
      refs.forEach((r) => {
        const c = scorer.toIds(r, image, true);
        kept?.add(c);
      }),
    );
    for (let id = 0; id < scorer.df.length; id++) scorer.idf[id] = scorer.refLen - log(max(1, scorer.df[id]));
    return scorer;
  }

  /** Counts a caption and interns its n-grams; with `image`, each new (image, n-gram) pair adds 1 to df. */
  private toIds(caption: string, image = -1, reuse = false): NgramCounts {
    const c = this.index.count(caption, true, reuse);
    while (this.df.length < this.index.size) {
      this.df.push(0);
      this.lastImage.push(-1);
      this.idf.push(this.refLen); // df 0: only n-grams met after construction keep this
    }
    if (image >= 0) {
      for (let j = 0; j < c.ids.length; j++) {
        const id = c.ids[j];
        if (this.lastImage[id] !== image) {
          this.lastImage[id] = image;
          this.df[id]++;
        }
      }
    }
    return c;
  }

  /**
   * Vectors of one image's references under this scorer's df. n-grams the df corpus lacks join the scorer's index
   * with df 0. `score` caches the result per array object, so do not mutate a references array after scoring it.
   */
  prepare(refs: readonly string[]): PreparedRefs {
    return this.prepareIds(refs.map((r) => wholeCounts(this.toIds(r))));
  }

  private prepareIds(counted: readonly CountsView[]): PreparedRefs {
    if (counted.length === 0) throw new Error('CiderD: an image needs at least one reference');
    const K = counted.length;
    const column = new Map<number, number>();
    for (const c of counted)
      for (let j = c.start; j < c.end; j++) if (!column.has(c.ids[j])) column.set(c.ids[j], column.size);
    const values = new Float64Array(column.size * K);
    const norms = new Float64Array(K * N);
    const lengths = new Int32Array(K);
    for (let k = 0; k < K; k++) {
      const c = counted[k];
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let j = c.start; j < c.end; j++) {
        const id = c.ids[j];
        const v = c.tf[j] * this.idf[id];
        values[(column.get(id) as number) * K + k] = v;
        const n = c.order[j];
        if (n === 0) s0 += v * v;
        else if (n === 1) s1 += v * v;
        else if (n === 2) s2 += v * v;
        else s3 += v * v;
      }
      norms[k * N] = sqrt(s0);
      norms[k * N + 1] = sqrt(s1);
      norms[k * N + 2] = sqrt(s2);
      norms[k * N + 3] = sqrt(s3);
      lengths[k] = max(0, c.words - 1);
    }
    return { count: K, column, values, norms, lengths };
  }

  /**
   * CIDEr-D of one normalised candidate against one image's references (normalised captions, or `prepare`d). A
   * references array is prepared once and cached by identity, so pass the same array again for the fast path.
   * Scoring does not grow the scorer's index: n-grams it does not hold cannot match and weigh refLen.
   */
  score(candidate: string, refs: readonly string[] | PreparedRefs): number {
    let prepared: PreparedRefs;
    if (isPrepared(refs)) prepared = refs;
    else {
      const hit = this.cache.get(refs);
      prepared = hit ?? this.prepare(refs);
      if (!hit) this.cache.set(refs, prepared);
    }
    const K = prepared.count;
    const hyp = this.index.count(candidate, false, true);
    const hypLength = max(0, hyp.words - 1);
    const num = new Float64Array(K * N);
    const sq = [0, 0, 0, 0];
    for (let j = 0; j < hyp.ids.length; j++) {
      const n = hyp.order[j];
      const id = hyp.ids[j];
      const h = hyp.tf[j] * (id < 0 ? this.refLen : this.idf[id]);
      sq[n] += h * h;
      const u = id < 0 ? undefined : prepared.column.get(id);
      if (u === undefined) continue;
      for (let k = 0; k < K; k++) {
        const r = prepared.values[u * K + k];
        num[k * N + n] += min(h, r) * r;
      }
    }
    const twoSigmaSq = 2 * this.sigma * this.sigma;
    const sum = [0, 0, 0, 0];
    for (let k = 0; k < K; k++) {
      const delta = hypLength - prepared.lengths[k];
      const penalty = exp(-(delta * delta) / twoSigmaSq);
      for (let n = 0; n < N; n++) {
        let v = num[k * N + n];
        const hn = sqrt(sq[n]);
        const rn = prepared.norms[k * N + n];
        if (hn !== 0 && rn !== 0) v /= hn * rn;
        sum[n] += v * penalty;
      }
    }
    return ((sum[0] + sum[1] + sum[2] + sum[3]) / N / K) * 10;
  }

  /** coco-caption's corpus CIDEr-D (see `ciderD`). */
  static corpus(
    candidates: readonly string[],
    refs: ReadonlyArray<readonly string[]>,
    opts: CiderDOptions = {},
  ): CiderDCorpusResult {
    return CiderD.corpusCounted(candidates, refs, opts).result;
  }

  /**
   * Corpus CIDEr-D plus what it counted: every reference's n-grams (in reference order) and the index that holds
   * them, so that BLEU over the same set need not count the references again (see `ciderDAndBleu`).
   */
  static corpusCounted(
    candidates: readonly string[],
    refs: ReadonlyArray<readonly string[]>,
    opts: CiderDOptions = {},
  ): { result: CiderDCorpusResult; counts: CountLog; index: NgramIndex } {
    if (candidates.length !== refs.length)
      throw new Error(`ciderD: ${candidates.length} candidates for ${refs.length} reference sets`);
    const kept = new CountLog();
    const scorer = CiderD.build(refs, opts, kept);
    const perImage = new Float64Array(candidates.length);
    let total = 0;
    let caption = 0;
    for (let i = 0; i < candidates.length; i++) {
      const counted: CountsView[] = [];
      for (let k = 0; k < refs[i].length; k++) counted.push(kept.view(caption++));
      perImage[i] = scorer.score(candidates[i], scorer.prepareIds(counted));
      total += perImage[i];
    }
    return { result: { score: total / candidates.length, perImage }, counts: kept, index: scorer.index };
  }
}

function isPrepared(r: readonly string[] | PreparedRefs): r is PreparedRefs {
  return !Array.isArray(r);
}

export interface CiderDCorpusResult {
  /** Mean of `perImage`. */
  readonly score: number;
  /** [I]: CIDEr-D of each image's candidate. */
  readonly perImage: Float64Array;
}

/**
 * coco-caption's CIDEr-D of a scored set: one normalised candidate per image, df and refLen from this set's own
 * references. `candidates[i]` is scored against `refs[i]`.
 */
export function ciderD(
  candidates: readonly string[],
  refs: ReadonlyArray<readonly string[]>,
  opts: CiderDOptions = {},
): CiderDCorpusResult {
  return CiderD.corpus(candidates, refs, opts);
}
