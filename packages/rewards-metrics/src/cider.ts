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
 * Speed: n-grams are interned to integer ids once; a reference set is prepared once into a dense [U, K] table of
 * its vector entries (U distinct n-grams of the set, K references) so a candidate costs one Map lookup per n-gram.
 */

const N = 4;

// Module-level aliases: inside a vm context (Jest) global lookups such as `Math.min` in a hot loop are ~100× slower.
const { min, sqrt, exp, log } = Math;

/** Whitespace tokens of an already-normalised caption (Python's `str.split()`). */
function words(caption: string): string[] {
  const t = caption.trim();
  return t === '' ? [] : t.split(/\s+/);
}

/** n-gram term frequencies in the reference's order: n = 1..4, then position (keys are the words joined by ' '). */
interface NgramCounts {
  readonly keys: string[];
  readonly tf: number[];
  /** n − 1 of each key. */
  readonly order: number[];
  /** max(0, words − 1): the reference's "length" (count of bigram occurrences). */
  readonly length: number;
}

function countNgrams(ws: readonly string[], index: Map<string, number>): NgramCounts {
  index.clear();
  const keys: string[] = [];
  const tf: number[] = [];
  const order: number[] = [];
  const prev: string[] = ws.slice();
  for (let n = 1; n <= N; n++) {
    for (let i = 0; i + n <= ws.length; i++) {
      const key = n === 1 ? ws[i] : `${prev[i]} ${ws[i + n - 1]}`;
      prev[i] = key;
      const j = index.get(key);
      if (j === undefined) {
        index.set(key, keys.length);
        keys.push(key);
        tf.push(1);
        order.push(n - 1);
      } else tf[j]++;
    }
  }
  return { keys, tf, order, length: Math.max(0, ws.length - 1) };
}

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
  private readonly ids = new Map<string, number>();
  /** Per id: refLen − log(max(1, df)). Ids added after construction (n-grams unseen in the df corpus) get refLen. */
  private readonly idf: number[] = [];
  private readonly scratch = new Map<string, number>();
  private readonly cache = new WeakMap<readonly string[], PreparedRefs>();

  private constructor(df: ReadonlyMap<string, number>, images: number, opts: CiderDOptions) {
    this.refLen = log(images);
    this.sigma = opts.sigma ?? 6;
    for (const [key, d] of df) {
      this.ids.set(key, this.idf.length);
      this.idf.push(this.refLen - log(Math.max(1, d)));
    }
  }

  /**
   * A scorer whose document frequencies come from these reference sets (one array of normalised captions per
   * image), with refLen = log(number of images): the training-corpus df for the RL reward.
   */
  static fromReferences(refsPerImage: ReadonlyArray<readonly string[]>, opts: CiderDOptions = {}): CiderD {
    if (refsPerImage.length === 0) throw new Error('CiderD.fromReferences: no images');
    const df = new Map<string, number>();
    const scratch = new Map<string, number>();
    const seen = new Set<string>();
    for (const refs of refsPerImage) {
      seen.clear();
      for (const ref of refs) for (const key of countNgrams(words(ref), scratch).keys) seen.add(key);
      for (const key of seen) df.set(key, (df.get(key) ?? 0) + 1);
    }
    return new CiderD(df, refsPerImage.length, opts);
  }

  /** Vectors of one image's references under this scorer's df (cached per array object by `score`). */
  prepare(refs: readonly string[]): PreparedRefs {
    if (refs.length === 0) throw new Error('CiderD: an image needs at least one reference');
    const K = refs.length;
    const counted = refs.map((r) => countNgrams(words(r), this.scratch));
    const column = new Map<number, number>();
    for (const c of counted) for (const key of c.keys) {
      const id = this.intern(key);
      if (!column.has(id)) column.set(id, column.size);
    }
    const values = new Float64Array(column.size * K);
    const norms = new Float64Array(K * N);
    const lengths = new Int32Array(K);
    counted.forEach((c, k) => {
      const sq = [0, 0, 0, 0];
      for (let j = 0; j < c.keys.length; j++) {
        const id = this.ids.get(c.keys[j]) as number;
        const v = c.tf[j] * this.idf[id];
        values[(column.get(id) as number) * K + k] = v;
        sq[c.order[j]] += v * v;
      }
      for (let n = 0; n < N; n++) norms[k * N + n] = sqrt(sq[n]);
      lengths[k] = c.length;
    });
    return { count: K, column, values, norms, lengths };
  }

  /**
   * CIDEr-D of one normalised candidate against one image's references (normalised captions, or `prepare`d). A
   * references array is prepared once and cached by identity, so pass the same array again for the fast path.
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
    const hyp = countNgrams(words(candidate), this.scratch);
    const num = new Float64Array(K * N);
    const sq = [0, 0, 0, 0];
    for (let j = 0; j < hyp.keys.length; j++) {
      const n = hyp.order[j];
      const id = this.ids.get(hyp.keys[j]);
      const h = hyp.tf[j] * (id === undefined ? this.refLen : this.idf[id]);
      sq[n] += h * h;
      const u = id === undefined ? undefined : prepared.column.get(id);
      if (u === undefined) continue;
      for (let k = 0; k < K; k++) {
        const r = prepared.values[u * K + k];
        num[k * N + n] += min(h, r) * r;
      }
    }
    const twoSigmaSq = 2 * this.sigma * this.sigma;
    const sum = [0, 0, 0, 0];
    for (let k = 0; k < K; k++) {
      const delta = hyp.length - prepared.lengths[k];
      const penalty = exp(-(delta * delta) / twoSigmaSq);
      for (let n = 0; n < N; n++) {
        let v = num[k * N + n];
        const hn = sqrt(sq[n]);
        const rn = prepared.norms[k * N + n];
        if (hn !== 0 && rn !== 0) v /= hn * rn;
        sum[n] += v * penalty;
      }
    }
    return (((sum[0] + sum[1] + sum[2] + sum[3]) / N) / K) * 10;
  }

  private intern(key: string): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.idf.length;
      this.ids.set(key, id);
      this.idf.push(this.refLen);
    }
    return id;
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
export function ciderD(candidates: readonly string[], refs: ReadonlyArray<readonly string[]>, opts: CiderDOptions = {}): CiderDCorpusResult {
  if (candidates.length !== refs.length) throw new Error(`ciderD: ${candidates.length} candidates for ${refs.length} reference sets`);
  const scorer = CiderD.fromReferences(refs, opts);
  const perImage = new Float64Array(candidates.length);
  let total = 0;
  for (let i = 0; i < candidates.length; i++) {
    perImage[i] = scorer.score(candidates[i], refs[i]);
    total += perImage[i];
  }
  return { score: total / candidates.length, perImage };
}
