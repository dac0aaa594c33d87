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
 * Speed: n-grams are interned to integer ids (`NgramIndex`); a reference set is prepared once into a dense [U, K]
 * table of its vector entries (U distinct n-grams of the set, K references), so a candidate costs one hash probe and
 * one Map lookup per n-gram.
 */

const N = 4;

// Module-level aliases: inside a vm context (Jest) global lookups such as `Math.min` in a hot loop are ~100× slower.
const { min, max, sqrt, exp, log } = Math;

/** Whitespace tokens of an already-normalised caption (Python's `str.split()`). */
function words(caption: string): string[] {
  const t = caption.trim();
  return t === '' ? [] : t.split(/\s+/);
}

/** A caption's n-grams (n = 1..4) with term frequencies, distinct, in first-occurrence order (n, then position). */
export interface NgramCounts {
  /** Id of each n-gram in its `NgramIndex`, or −1 for one the index does not hold (counted without interning). */
  readonly ids: number[];
  readonly tf: number[];
  /** n − 1 of each n-gram. */
  readonly order: number[];
  /** Number of words in the caption. */
  readonly words: number;
}

/**
 * What `prepareIds` (and BLEU) read of a caption's counts: entries start..end−1 of the arrays, so that a caption in
 * a `CountLog` needs no typed-array view of its own.
 */
export interface CountsView {
  readonly ids: ArrayLike<number>;
  readonly tf: ArrayLike<number>;
  readonly order: ArrayLike<number>;
  readonly start: number;
  readonly end: number;
  readonly words: number;
}

/** A caption's own counts as a view. */
export const wholeCounts = (c: NgramCounts): CountsView => ({ ids: c.ids, tf: c.tf, order: c.order, start: 0, end: c.ids.length, words: c.words });

/**
 * Every counted caption's n-grams in three flat typed arrays (caption c owns entries start[c]..start[c + 1]): corpus
 * mode keeps the references' counts from the df pass this way, so preparing them needs no second count, at the cost
 * of a few bytes per n-gram and without 10⁵ small arrays for the garbage collector.
 */
export class CountLog {
  ids = new Int32Array(1 << 16);
  tf = new Int32Array(1 << 16);
  order = new Uint8Array(1 << 16);
  readonly start: number[] = [0];
  readonly words: number[] = [];

  add(c: NgramCounts): void {
    const at = this.start[this.start.length - 1];
    const end = at + c.ids.length;
    if (end > this.ids.length) {
      const cap = max(end, 2 * this.ids.length);
      const [ids, tf, order] = [new Int32Array(cap), new Int32Array(cap), new Uint8Array(cap)];
      ids.set(this.ids);
      tf.set(this.tf);
      order.set(this.order);
      [this.ids, this.tf, this.order] = [ids, tf, order];
    }
    for (let j = 0; j < c.ids.length; j++) {
      this.ids[at + j] = c.ids[j];
      this.tf[at + j] = c.tf[j];
      this.order[at + j] = c.order[j];
    }
    this.start.push(end);
    this.words.push(c.words);
  }

  view(caption: number): CountsView {
    const [a, b] = [this.start[caption], this.start[caption + 1]];
    return { ids: this.ids, tf: this.tf, order: this.order, start: a, end: b, words: this.words[caption] };
  }
}

/**
 * Open-addressing hash table from an (n−1)-gram id and a word id to an n-gram id, in typed arrays: a JS Map would
 * need the pair packed into a number beyond the small-integer range, which V8 boxes on every lookup.
 */
class PairTable {
  private parents = new Int32Array(1 << 12).fill(-2);
  private wordsOf = new Int32Array(1 << 12);
  private values = new Int32Array(1 << 12);
  private used = 0;

  get(parent: number, word: number): number {
    const mask = this.parents.length - 1;
    for (let h = hashPair(parent, word) & mask; ; h = (h + 1) & mask) {
      const p = this.parents[h];
      if (p === -2) return -1;
      if (p === parent && this.wordsOf[h] === word) return this.values[h];
    }
  }

  set(parent: number, word: number, value: number): void {
    if (2 * (this.used + 1) > this.parents.length) this.rehash();
    const mask = this.parents.length - 1;
    let h = hashPair(parent, word) & mask;
    while (this.parents[h] !== -2) h = (h + 1) & mask;
    this.parents[h] = parent;
    this.wordsOf[h] = word;
    this.values[h] = value;
    this.used++;
  }

  private rehash(): void {
    const [parents, wordsOf, values] = [this.parents, this.wordsOf, this.values];
    this.parents = new Int32Array(2 * parents.length).fill(-2);
    this.wordsOf = new Int32Array(2 * parents.length);
    this.values = new Int32Array(2 * parents.length);
    this.used = 0;
    for (let h = 0; h < parents.length; h++) if (parents[h] !== -2) this.set(parents[h], wordsOf[h], values[h]);
  }
}

const hashPair = (parent: number, word: number): number => (Math.imul(parent + 1, 0x9e3779b1) ^ Math.imul(word, 0x85ebca77)) >>> 0;

/**
 * Interns words and n-grams (n ≤ 4) of normalised captions to dense integer ids. An n-gram's id is looked up from
 * its (n−1)-prefix's id and its last word's id, so counting a caption costs one hash-table probe per n-gram and
 * builds no n-gram strings. Counting without interning (candidates scored for a reward) leaves the index unchanged:
 * n-grams it does not hold get id −1 and are told apart by their words.
 */
export class NgramIndex {
  private readonly wordIds = new Map<string, number>();
  private readonly children = new PairTable();
  private size_ = 0;
  private readonly unknown = new Map<string, number>();
  /** Scratch: stamp[id] === gen marks an id seen in the current caption, at output slot slotOf[id]. */
  private stamp = new Int32Array(1024);
  private slotOf = new Int32Array(1024);
  private gen = 0;
  private readonly scratchIds: number[] = [];
  private readonly scratchTf: number[] = [];
  private readonly scratchOrder: number[] = [];
  private w = new Int32Array(64);
  private prefix = new Int32Array(64);

  /** Number of n-gram ids handed out. */
  get size(): number {
    return this.size_;
  }

  /**
   * Counts a caption's n-grams, interning new ones when `intern`. With `reuse`, the returned arrays are scratch space
   * overwritten by the next counting call (no allocation on hot paths that consume the counts at once).
   */
  count(caption: string, intern: boolean, reuse = false): NgramCounts {
    const ws = words(caption);
    const L = ws.length;
    if (L > this.w.length) {
      this.w = new Int32Array(2 * L);
      this.prefix = new Int32Array(2 * L);
    }
    const w = this.w;
    const prefix = this.prefix; // id of the n-gram starting at i from the previous pass (−1: unknown)
    for (let i = 0; i < L; i++) {
      let id = this.wordIds.get(ws[i]);
      if (id === undefined) {
        if (intern) {
          id = this.wordIds.size;
          this.wordIds.set(ws[i], id);
        } else id = -1;
      }
      w[i] = id;
    }
    const [ids, tf, order] = reuse ? [this.scratchIds, this.scratchTf, this.scratchOrder] : [[], [], []];
    ids.length = 0;
    tf.length = 0;
    order.length = 0;
    const gen = ++this.gen;
    this.unknown.clear();
    for (let n = 1; n <= N; n++) {
      for (let i = 0; i + n <= L; i++) {
        const parent = n === 1 ? -1 : prefix[i];
        const word = w[i + n - 1];
        let id = -1;
        if ((n === 1 || parent >= 0) && word >= 0) {
          id = this.children.get(parent, word);
          if (id < 0 && intern) {
            id = this.size_++;
            this.children.set(parent, word, id);
            if (id >= this.stamp.length) this.grow(id + 1);
          }
        }
        prefix[i] = id;
        if (id >= 0) {
          if (this.stamp[id] === gen) tf[this.slotOf[id]]++;
          else {
            this.stamp[id] = gen;
            this.slotOf[id] = ids.length;
            ids.push(id);
            tf.push(1);
            order.push(n - 1);
          }
        } else {
          // Rare path (an n-gram the index does not hold): tell such n-grams apart by their words.
          const key = `${n} ${ws.slice(i, i + n).join(' ')}`;
          const j = this.unknown.get(key);
          if (j !== undefined) tf[j]++;
          else {
            this.unknown.set(key, ids.length);
            ids.push(-1);
            tf.push(1);
            order.push(n - 1);
          }
        }
      }
    }
    return { ids, tf, order, words: L };
  }

  private grow(size: number): void {
    const cap = max(size, 2 * this.stamp.length);
    const stamp = new Int32Array(cap);
    stamp.set(this.stamp);
    this.stamp = stamp;
    const slotOf = new Int32Array(cap);
    slotOf.set(this.slotOf);
    this.slotOf = slotOf;
  }
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
    for (const c of counted) for (let j = c.start; j < c.end; j++) if (!column.has(c.ids[j])) column.set(c.ids[j], column.size);
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
    return (((sum[0] + sum[1] + sum[2] + sum[3]) / N) / K) * 10;
  }

  /** coco-caption's corpus CIDEr-D (see `ciderD`). */
  static corpus(candidates: readonly string[], refs: ReadonlyArray<readonly string[]>, opts: CiderDOptions = {}): CiderDCorpusResult {
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
    if (candidates.length !== refs.length) throw new Error(`ciderD: ${candidates.length} candidates for ${refs.length} reference sets`);
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
export function ciderD(candidates: readonly string[], refs: ReadonlyArray<readonly string[]>, opts: CiderDOptions = {}): CiderDCorpusResult {
  return CiderD.corpus(candidates, refs, opts);
}
