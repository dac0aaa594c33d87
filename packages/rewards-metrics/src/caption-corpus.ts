/**
 * Corpus CIDEr-D and BLEU-1..4 of one scored set in one pass per image: what `ciderDAndBleu` (and so the `cider` CLI
 * command) computes. The numbers are bit for bit those of `ciderD` (cider.ts) and `bleu` (bleu.ts): the same
 * n-gram counts, and every floating-point sum taken over the same terms in the same order. Only the bookkeeping
 * differs, for the speed of a whole-corpus run in a fresh process:
 * - words are split and interned straight from the caption's characters (no substrings, no Map), n-grams through
 *   an open-addressing table of (prefix id, word id) pairs, all in typed arrays;
 * - the references are counted once into one flat log, for the document frequencies and again for the scores;
 * - each image's candidate is counted once for both metrics. Its n-grams are interned too, after the references:
 *   an n-gram no reference holds gets df 0, so weight refLen = log(#images), exactly what cider.ts gives an n-gram
 *   its index lacks, and it never matches;
 * - the candidate's n-grams are marked in arrays indexed by n-gram id (a stamp per image and the n-gram's slot), so
 *   the references are read against the candidate without a Map per image.
 *
 * CIDEr-D's numerator sums min(h, r)·r over the candidate's n-grams in their order with r = 0 where a reference lacks
 * the n-gram; cider.ts skips n-grams no reference holds and adds exact zeros for the others, so adding a zero here
 * for every absent one leaves each sum bit for bit the same (all terms are ≥ 0, so no −0 arises). The work is split
 * into small methods that V8 optimises after a few calls, rather than one long loop it must compile on the stack.
 */
import type { CiderDCorpusResult } from './cider';

/** Corpus and per-image BLEU-1..4 (bleu.ts exports it under its own name). */
export interface BleuResult {
  /** [BLEU-1, BLEU-2, BLEU-3, BLEU-4] of the corpus. */
  readonly corpus: [number, number, number, number];
  /** perImage[n − 1][i]: BLEU-n of image i alone. */
  readonly perImage: [Float64Array, Float64Array, Float64Array, Float64Array];
}

const N = 4;
const TINY = 1e-15;
const SMALL = 1e-9;

// Module-level aliases: inside a vm context (Jest) global lookups such as `Math.min` in a hot loop are ~100× slower.
const { min, max, sqrt, exp, log, abs } = Math;

type Ints = Int32Array<ArrayBuffer>;

function grown(a: Ints, size: number, fill = 0): Ints {
  const b = new Int32Array(max(size, 2 * a.length));
  if (fill !== 0) b.fill(fill);
  b.set(a);
  return b;
}

/** JavaScript's `\s` (what `String.prototype.trim` and `/\s+/` split on), from a character code. */
function isSpace(c: number): boolean {
  if (c > 32 && c < 160) return false;
  return (
    c === 32 ||
    (c >= 9 && c <= 13) ||
    c === 160 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/**
 * Interns words and n-grams (n ≤ 4) of captions to dense ids and counts a caption's distinct n-grams, in first-
 * occurrence order (n, then position) as `NgramIndex.count` lists them, into caller-given arrays.
 */
class Counter {
  // Words: open addressing over word ids (−1 empty); a word's characters live in `chars`.
  private wordSlots: Ints = new Int32Array(1 << 12).fill(-1);
  private wordHash: Ints = new Int32Array(1 << 11);
  private wordStart: Ints = new Int32Array(1 << 11);
  private wordLen: Ints = new Int32Array(1 << 11);
  private chars = new Uint16Array(1 << 14);
  private charsUsed = 0;
  words = 0;
  // n-grams: open addressing over (prefix id, word id) → n-gram id.
  private pairParent: Ints = new Int32Array(1 << 14).fill(-2);
  private pairWord: Ints = new Int32Array(1 << 14);
  private pairValue: Ints = new Int32Array(1 << 14);
  size = 0;
  // Per caption: its word ids, the n-gram ids of the previous order, and the dedup stamps.
  w: Ints = new Int32Array(64);
  private prefix: Ints = new Int32Array(64);
  private stamp: Ints = new Int32Array(1 << 13);
  private slotOf: Ints = new Int32Array(1 << 13);
  private gen = 0;

  /** Splits `s` on JavaScript whitespace into `this.w` (word ids, interned); the number of words. */
  tokenize(s: string): number {
    const n = s.length;
    let L = 0;
    let i = 0;
    for (;;) {
      while (i < n && isSpace(s.charCodeAt(i))) i++;
      if (i >= n) return L;
      const start = i;
      let h = 0x811c9dc5 | 0;
      while (i < n) {
        const c = s.charCodeAt(i);
        if (isSpace(c)) break;
        h = Math.imul(h ^ c, 16777619);
        i++;
      }
      if (L >= this.w.length) {
        this.w = grown(this.w, L + 1);
        this.prefix = grown(this.prefix, L + 1);
      }
      this.w[L++] = this.wordId(s, start, i - start, h);
    }
  }

  private wordId(s: string, start: number, len: number, h: number): number {
    const mask = this.wordSlots.length - 1;
    for (let k = h & mask; ; k = (k + 1) & mask) {
      const id = this.wordSlots[k];
      if (id < 0) return this.newWord(s, start, len, h, k);
      if (this.wordHash[id] === h && this.wordLen[id] === len && this.sameChars(id, s, start, len)) return id;
    }
  }

  private sameChars(id: number, s: string, start: number, len: number): boolean {
    const chars = this.chars;
    const at = this.wordStart[id];
    for (let j = 0; j < len; j++) if (chars[at + j] !== s.charCodeAt(start + j)) return false;
    return true;
  }

  private newWord(s: string, start: number, len: number, h: number, k: number): number {
    const id = this.words++;
    if (id >= this.wordHash.length) {
      this.wordHash = grown(this.wordHash, id + 1);
      this.wordStart = grown(this.wordStart, id + 1);
      this.wordLen = grown(this.wordLen, id + 1);
    }
    if (this.charsUsed + len > this.chars.length) {
      const c = new Uint16Array(max(this.charsUsed + len, 2 * this.chars.length));
      c.set(this.chars);
      this.chars = c;
    }
    for (let j = 0; j < len; j++) this.chars[this.charsUsed + j] = s.charCodeAt(start + j);
    this.wordHash[id] = h;
    this.wordStart[id] = this.charsUsed;
    this.wordLen[id] = len;
    this.charsUsed += len;
    this.wordSlots[k] = id;
    if (2 * this.words > this.wordSlots.length) this.rehashWords();
    return id;
  }

  private rehashWords(): void {
    const slots = new Int32Array(2 * this.wordSlots.length).fill(-1);
    const mask = slots.length - 1;
    for (let id = 0; id < this.words; id++) {
      let k = this.wordHash[id] & mask;
      while (slots[k] >= 0) k = (k + 1) & mask;
      slots[k] = id;
    }
    this.wordSlots = slots;
  }

  /** The id of the n-gram (prefix n-gram `parent`, −1 for none) + `word`, interned. */
  private ngramId(parent: number, word: number): number {
    const mask = this.pairParent.length - 1;
    let k = ((Math.imul(parent + 1, 0x9e3779b1) ^ Math.imul(word, 0x85ebca77)) >>> 0) & mask;
    for (;;) {
      const p = this.pairParent[k];
      if (p === -2) break;
      if (p === parent && this.pairWord[k] === word) return this.pairValue[k];
      k = (k + 1) & mask;
    }
    const id = this.size++;
    this.pairParent[k] = parent;
    this.pairWord[k] = word;
    this.pairValue[k] = id;
    if (id >= this.stamp.length) {
      this.stamp = grown(this.stamp, id + 1);
      this.slotOf = grown(this.slotOf, id + 1);
    }
    if (2 * this.size > this.pairParent.length) this.rehashPairs();
    return id;
  }

  private rehashPairs(): void {
    const [parents, words, values] = [this.pairParent, this.pairWord, this.pairValue];
    this.pairParent = new Int32Array(2 * parents.length).fill(-2);
    this.pairWord = new Int32Array(2 * parents.length);
    this.pairValue = new Int32Array(2 * parents.length);
    const mask = this.pairParent.length - 1;
    for (let h = 0; h < parents.length; h++) {
      if (parents[h] === -2) continue;
      let k = ((Math.imul(parents[h] + 1, 0x9e3779b1) ^ Math.imul(words[h], 0x85ebca77)) >>> 0) & mask;
      while (this.pairParent[k] !== -2) k = (k + 1) & mask;
      this.pairParent[k] = parents[h];
      this.pairWord[k] = words[h];
      this.pairValue[k] = values[h];
    }
  }

  /**
   * The distinct n-grams of the L words in `this.w` into ids/tf/order from `at` on (the arrays must hold 4·L more
   * entries); the number written.
   */
  count(L: number, ids: Ints, tf: Ints, order: Uint8Array, at: number): number {
    const w = this.w;
    const prefix = this.prefix;
    const gen = ++this.gen;
    let u = at;
    for (let n = 1; n <= N; n++) {
      for (let i = 0; i + n <= L; i++) {
        const id = this.ngramId(n === 1 ? -1 : prefix[i], w[i + n - 1]);
        prefix[i] = id;
        if (this.stamp[id] === gen) tf[this.slotOf[id]]++;
        else {
          this.stamp[id] = gen;
          this.slotOf[id] = u;
          ids[u] = id;
          tf[u] = 1;
          order[u] = n - 1;
          u++;
        }
      }
    }
    return u - at;
  }
}

/** Every reference's n-gram counts in flat arrays: reference r owns entries start[r]..start[r + 1]. */
class RefLog {
  ids: Ints = new Int32Array(1 << 16);
  tf: Ints = new Int32Array(1 << 16);
  order = new Uint8Array(1 << 16);
  start: Ints = new Int32Array(1 << 12);
  words: Ints = new Int32Array(1 << 12);
  count = 0;

  /** Room for `entries` more n-grams and one more reference. */
  reserve(entries: number): void {
    const end = this.start[this.count] + entries;
    if (end > this.ids.length) {
      this.ids = grown(this.ids, end);
      this.tf = grown(this.tf, end);
      const o = new Uint8Array(this.ids.length);
      o.set(this.order);
      this.order = o;
    }
    if (this.count + 2 > this.start.length) {
      this.start = grown(this.start, this.count + 2);
      this.words = grown(this.words, this.count + 2);
    }
  }
}

/** Pass 1: counts and interns the references into a log, with df per n-gram id (each image counts once). */
class ReferenceCounter {
  df: Ints = new Int32Array(1 << 14);
  private lastImage: Ints = new Int32Array(1 << 14).fill(-1);

  constructor(
    private readonly counter: Counter,
    private readonly log_: RefLog,
  ) {}

  /** Adds every reference, image by image (a loop of its own, so that V8 compiles it apart from the caller). */
  addAll(refs: ReadonlyArray<readonly string[]>): void {
    for (let i = 0; i < refs.length; i++) {
      const rs = refs[i];
      for (let k = 0; k < rs.length; k++) this.add(rs[k], i);
    }
  }

  /** Adds one reference of image i to the log and to df. */
  add(caption: string, i: number): void {
    const counter = this.counter;
    const log_ = this.log_;
    const L = counter.tokenize(caption);
    log_.reserve(4 * L);
    const at = log_.start[log_.count];
    const end = at + counter.count(L, log_.ids, log_.tf, log_.order, at);
    log_.words[log_.count] = L;
    log_.start[++log_.count] = end;
    if (counter.size > this.df.length) {
      this.df = grown(this.df, counter.size);
      this.lastImage = grown(this.lastImage, counter.size, -1);
    }
    const { ids } = log_;
    const { df, lastImage } = this;
    for (let j = at; j < end; j++) {
      const id = ids[j];
      if (lastImage[id] !== i) {
        lastImage[id] = i;
        df[id]++;
      }
    }
  }
}

/** Pass 2: scores one image at a time against the reference log; holds the scratch space and the corpus sums. */
class ImageScorer {
  // The candidate's n-grams.
  private hIds: Ints = new Int32Array(256);
  private hTf: Ints = new Int32Array(256);
  private hOrder = new Uint8Array(256);
  // Per n-gram id: the image whose candidate holds it last, and its slot there.
  private stamp: Ints;
  private slot: Ints;
  /** Per n-gram id: refLen − log(max(1, df)). */
  private idf: Float64Array<ArrayBuffer>;
  private values = new Float64Array(256); // [slot, K]: CIDEr-D vector entry of the candidate's n-gram in reference k
  private refMax: Ints = new Int32Array(64); // [slot]: its largest count in one reference (BLEU's clipping)
  private norms = new Float64Array(4 * N);
  private lengths: Ints = new Int32Array(4);
  private num = new Float64Array(4 * N);
  private readonly sq = new Float64Array(N);
  private readonly sum = new Float64Array(N);
  private readonly correct = new Float64Array(N);
  private readonly twoSigmaSq: number;
  private ref = 0; // the next reference in the log
  readonly totalGuess = [0, 0, 0, 0];
  readonly totalCorrect = [0, 0, 0, 0];
  totalTest = 0;
  totalRef = 0;

  constructor(
    private readonly counter: Counter,
    private readonly log_: RefLog,
    df: Ints,
    private readonly refLen: number,
    sigma: number,
    readonly perCider: Float64Array,
    readonly perBleu: BleuResult['perImage'],
  ) {
    const size = counter.size;
    this.idf = new Float64Array(max(size, 1024));
    for (let id = 0; id < size; id++) this.idf[id] = refLen - log(max(1, df[id]));
    this.stamp = new Int32Array(this.idf.length).fill(-1);
    this.slot = new Int32Array(this.idf.length);
    this.twoSigmaSq = 2 * sigma * sigma;
  }

  /** Counts candidate i (interning n-grams the references lack, with df 0); its number of words. */
  private countCandidate(candidate: string, i: number): { U: number; words: number } {
    const counter = this.counter;
    const L = counter.tokenize(candidate);
    if (4 * L > this.hIds.length) {
      this.hIds = new Int32Array(8 * L);
      this.hTf = new Int32Array(8 * L);
      this.hOrder = new Uint8Array(8 * L);
    }
    const before = counter.size;
    const U = counter.count(L, this.hIds, this.hTf, this.hOrder, 0);
    if (counter.size > before) this.extend(before, counter.size);
    for (let j = 0; j < U; j++) {
      const id = this.hIds[j];
      this.stamp[id] = i;
      this.slot[id] = j;
    }
    return { U, words: L };
  }

  /** n-grams first met in a candidate: df 0, so weight refLen (cider.ts' weight for an n-gram its index lacks). */
  private extend(from: number, to: number): void {
    if (to > this.idf.length) {
      const cap = max(to, 2 * this.idf.length);
      const idf = new Float64Array(cap);
      idf.set(this.idf);
      this.idf = idf;
      this.stamp = grown(this.stamp, cap, -1);
      this.slot = grown(this.slot, cap);
    }
    for (let id = from; id < to; id++) this.idf[id] = this.refLen;
  }

  /** Reads reference `ref` (the k-th of K) against the candidate's slots; its word count. */
  private readReference(ref: number, k: number, K: number, i: number): number {
    const { ids, tf, order, start, words } = this.log_;
    const idf = this.idf;
    const stamp = this.stamp;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = start[ref], end = start[ref + 1]; j < end; j++) {
      const id = ids[j];
      const t = tf[j];
      const v = t * idf[id];
      const n = order[j];
      if (n === 0) s0 += v * v;
      else if (n === 1) s1 += v * v;
      else if (n === 2) s2 += v * v;
      else s3 += v * v;
      if (stamp[id] === i) {
        const u = this.slot[id];
        this.values[u * K + k] = v;
        if (t > this.refMax[u]) this.refMax[u] = t;
      }
    }
    const norms = this.norms;
    norms[k * N] = sqrt(s0);
    norms[k * N + 1] = sqrt(s1);
    norms[k * N + 2] = sqrt(s2);
    norms[k * N + 3] = sqrt(s3);
    this.lengths[k] = max(0, words[ref] - 1);
    return words[ref];
  }

  /** Scores every image in order; the sum of their CIDEr-D. */
  scoreAll(candidates: readonly string[], refs: ReadonlyArray<readonly string[]>): number {
    let total = 0;
    for (let i = 0; i < candidates.length; i++) {
      this.score(candidates[i], refs[i].length, i);
      total += this.perCider[i];
    }
    return total;
  }

  /** Scores image i (candidate against its K references, the next K in the log). */
  score(candidate: string, K: number, i: number): void {
    if (K === 0) throw new Error('CiderD: an image needs at least one reference');
    const { U, words: testLen } = this.countCandidate(candidate, i);
    if (U * K > this.values.length) this.values = new Float64Array(max(U * K, 2 * this.values.length));
    else this.values.fill(0, 0, U * K);
    if (U > this.refMax.length) this.refMax = new Int32Array(max(U, 2 * this.refMax.length));
    else this.refMax.fill(0, 0, U);
    if (K * N > this.norms.length) {
      this.norms = new Float64Array(2 * K * N);
      this.num = new Float64Array(2 * K * N);
      this.lengths = new Int32Array(2 * K);
    }
    // The references; BLEU's "closest" reference length, ties to the shorter one (bleu.ts' loop from reference 0).
    let closest = 0;
    for (let k = 0; k < K; k++) {
      const words = this.readReference(this.ref++, k, K, i);
      if (k === 0) closest = words;
      else {
        const d = abs(words - testLen);
        const best = abs(closest - testLen);
        if (d < best || (d === best && words < closest)) closest = words;
      }
    }
    this.perCider[i] = this.cider(U, K, testLen);
    this.bleu(U, testLen, closest, i);
  }

  /** CIDEr-D of the candidate: its n-grams in order, as CiderD.score takes them. */
  private cider(U: number, K: number, testLen: number): number {
    const { hIds, hTf, hOrder, idf, values, num, sq, sum, norms, lengths } = this;
    num.fill(0, 0, K * N);
    sq.fill(0);
    for (let j = 0; j < U; j++) {
      const n = hOrder[j];
      const h = hTf[j] * idf[hIds[j]];
      sq[n] += h * h;
      for (let k = 0; k < K; k++) {
        const r = values[j * K + k];
        num[k * N + n] += min(h, r) * r;
      }
    }
    sum.fill(0);
    const hypLength = max(0, testLen - 1);
    for (let k = 0; k < K; k++) {
      const delta = hypLength - lengths[k];
      const penalty = exp(-(delta * delta) / this.twoSigmaSq);
      for (let n = 0; n < N; n++) {
        let v = num[k * N + n];
        const hn = sqrt(sq[n]);
        const rn = norms[k * N + n];
        if (hn !== 0 && rn !== 0) v /= hn * rn;
        sum[n] += v * penalty;
      }
    }
    return ((sum[0] + sum[1] + sum[2] + sum[3]) / N / K) * 10;
  }

  /** BLEU-1..4 of image i, as bleu.ts computes it, and the corpus sums. */
  private bleu(U: number, testLen: number, refLen: number, i: number): void {
    const { hTf, hOrder, refMax, correct } = this;
    correct.fill(0);
    for (let j = 0; j < U; j++) correct[hOrder[j]] += min(refMax[j], hTf[j]);
    this.totalTest += testLen;
    this.totalRef += refLen;
    let prod = 1;
    const ratio = (testLen + TINY) / (refLen + SMALL);
    for (let k = 0; k < N; k++) {
      const guess = max(0, testLen - k);
      this.totalGuess[k] += guess;
      this.totalCorrect[k] += correct[k];
      prod *= (correct[k] + TINY) / (guess + SMALL);
      this.perBleu[k][i] = prod ** (1 / (k + 1)) * (ratio < 1 ? exp(1 - 1 / ratio) : 1);
    }
  }
}

/**
 * CIDEr-D (σ = `sigma`) and BLEU-1..4 of `candidates[i]` against `refs[i]` (normalised captions), df and refLen from
 * these references. Throws like `ciderD` on a length mismatch, no image or an image without references.
 */
export function corpusCiderDAndBleu(
  candidates: readonly string[],
  refs: ReadonlyArray<readonly string[]>,
  sigma = 6,
): { ciderD: CiderDCorpusResult; bleu: BleuResult } {
  const I = candidates.length;
  if (I !== refs.length) throw new Error(`ciderD: ${I} candidates for ${refs.length} reference sets`);
  if (!(I > 0)) throw new Error('CiderD.fromReferences: no images');
  const counter = new Counter();
  const log_ = new RefLog();
  const pass1 = new ReferenceCounter(counter, log_);
  pass1.addAll(refs);
  const df = pass1.df;
  const perCider = new Float64Array(I);
  const perBleu: BleuResult['perImage'] = [
    new Float64Array(I),
    new Float64Array(I),
    new Float64Array(I),
    new Float64Array(I),
  ];
  const scorer = new ImageScorer(counter, log_, df, log(I), sigma, perCider, perBleu);
  const total = scorer.scoreAll(candidates, refs);
  const corpus: BleuResult['corpus'] = [0, 0, 0, 0];
  const ratio = (scorer.totalTest + TINY) / (scorer.totalRef + SMALL);
  let prod = 1;
  for (let k = 0; k < N; k++) {
    prod *= (scorer.totalCorrect[k] + TINY) / (scorer.totalGuess[k] + SMALL);
    corpus[k] = prod ** (1 / (k + 1)) * (ratio < 1 ? exp(1 - 1 / ratio) : 1);
  }
  return { ciderD: { score: total / I, perImage: perCider }, bleu: { corpus, perImage: perBleu } };
}
