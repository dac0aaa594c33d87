/**
 * Corpus CIDEr-D and BLEU-1..4 of one scored set in one pass per image: what `ciderDAndBleu` (and so the `cider` CLI
 * command) computes. The numbers are bit for bit those of `ciderD` (cider.ts) and `bleu` (bleu.ts): the same
 * n-gram counts, and every floating-point sum taken over the same terms in the same order. Only the bookkeeping
 * differs, for the speed of a whole-corpus run in a fresh process:
 * - words are split and interned straight from the caption's characters (no substrings, no Map), n-grams through
 *   an open-addressing table of (prefix id, word id) pairs, all in typed arrays; given raw captions, a plain one is
 *   normalised in the same pass (`Counter.splitRaw`), so the command builds no normalised string for it;
 * - every caption is split before any is counted, so that the log and the scratch arrays get their final sizes
 *   once, from the word counts (an array replaced mid-run makes V8 recompile the code that reads it);
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
import { normalizeCaption } from './caption-normalize';
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

/** FNV-1a over a string's character codes: the hash `Counter` files a word under. */
function fnv(w: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619);
  return h;
}

/**
 * Character classes of a raw caption's ASCII characters for the fused pass (`Counter.splitRaw`): 1 for a word
 * character of a plain caption (`a-z A-Z 0-9 -`, each lower-cased by `| 0x20`), 2 for the space, 0 for any other
 * (the caption then takes `normalizeCaption`). Non-ASCII characters are 0 too.
 */
const RAW_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const word = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45;
  RAW_CLASS[c] = word ? 1 : c === 32 ? 2 : 0;
}

/** Hashes of the words the PTB lexer splits (`cannot` → `can not`, …): a plain caption holding one takes the lexer. */
const SPLIT_WORD_HASHES = ['cannot', 'gonna', 'gotta', 'wanna'].map(fnv);

/** The smallest power of two ≥ max(n, 16). */
function pow2AtLeast(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}

/**
 * Interns words and n-grams (n ≤ 4) of captions to dense ids and counts a caption's distinct n-grams, in first-
 * occurrence order (n, then position) as `NgramIndex.count` lists them, into caller-given arrays. Every caption is
 * split first, into one flat array of word ids, so that the later arrays are sized once from the exact word counts:
 * growing an array mid-run costs little by itself, but V8 then drops and recompiles the optimised code that read it.
 */
class Counter {
  // Words: open addressing over word ids (−1 empty); a word's characters live in `chars`.
  private wordSlots: Ints;
  private wordHash: Ints;
  private wordStart: Ints;
  private wordLen: Ints;
  private chars: Uint16Array<ArrayBuffer>;
  private charsUsed = 0;
  words = 0;
  // n-grams: open addressing over (prefix id, word id) → n-gram id.
  private pairParent: Ints;
  private pairWord: Ints;
  private pairValue: Ints;
  size = 0;
  // Every caption's word ids: caption c owns tokens[tokenStart[c]..tokenStart[c + 1]].
  private tokens: Ints;
  private readonly tokenRoom: number; // the tokens' room for the captions' characters as counted by the caller
  private lengthened = 0; // characters the lexer added to raw captions (splitRaw)
  readonly tokenStart: Ints;
  private captions = 0;
  // Per caption: the n-gram ids of the previous order, and the dedup stamps.
  private prefix: Ints = new Int32Array(64);
  private stamp: Ints;
  private slotOf: Ints;
  private gen = 0;

  /** Room for `captions` captions of `chars` characters in all. */
  constructor(captions: number, chars: number) {
    // A word takes one character and one separator at least.
    const maxWords = (chars + captions) >> 1;
    this.tokens = new Int32Array(maxWords + 1);
    this.tokenRoom = maxWords + 1;
    this.tokenStart = new Int32Array(captions + 1);
    const words = pow2AtLeast(min(maxWords, 1 << 14));
    this.wordSlots = new Int32Array(2 * words).fill(-1);
    this.wordHash = new Int32Array(words);
    this.wordStart = new Int32Array(words);
    this.wordLen = new Int32Array(words);
    this.chars = new Uint16Array(pow2AtLeast(min(chars, 1 << 17)));
    const pairs = pow2AtLeast(min(8 * maxWords, 1 << 14));
    this.pairParent = new Int32Array(pairs).fill(-2);
    this.pairWord = new Int32Array(pairs);
    this.pairValue = new Int32Array(pairs);
    this.stamp = new Int32Array(pairs >> 1);
    this.slotOf = new Int32Array(pairs >> 1);
  }

  /** How many n-gram ids there can be before the tables grow. */
  get capacity(): number {
    return this.stamp.length;
  }

  /** The number of words of caption c. */
  wordsOf(c: number): number {
    return this.tokenStart[c + 1] - this.tokenStart[c];
  }

  /**
   * Splits every reference (image by image), then every candidate, in this order: captions 0, 1, …. With `raw`, the
   * captions are first normalised as `normalizeCaption` does (see `splitRaw`).
   */
  tokenizeAll(refs: ReadonlyArray<readonly string[]>, candidates: readonly string[], raw = false): void {
    for (let i = 0; i < refs.length; i++) {
      const rs = refs[i];
      if (raw) for (let k = 0; k < rs.length; k++) this.splitRaw(rs[k]);
      else for (let k = 0; k < rs.length; k++) this.tokenize(rs[k]);
    }
    if (raw) for (let i = 0; i < candidates.length; i++) this.splitRaw(candidates[i]);
    else for (let i = 0; i < candidates.length; i++) this.tokenize(candidates[i]);
  }

  /** The words of caption c (its interned characters). */
  wordsText(c: number): string[] {
    const out: string[] = [];
    for (let t = this.tokenStart[c]; t < this.tokenStart[c + 1]; t++) {
      const id = this.tokens[t];
      const at = this.wordStart[id];
      out.push(String.fromCharCode(...this.chars.subarray(at, at + this.wordLen[id])));
    }
    return out;
  }

  /**
   * Splits the raw caption `s` into the word ids of `normalizeCaption(s)`, in one pass over its characters when it
   * is plain: ASCII letters, digits, `-` and spaces, at most one `.` after its last word (then only spaces), no
   * `--`, and no word the PTB lexer splits (`cannot`, `gonna`, `gotta`, `wanna`). For such a caption
   * `normalizeCaption` only lower-cases it, drops the final `.` and keeps its space-separated chunks other than a
   * lone `-`; here each word is lower-cased (`| 0x20`, exact on these characters) and interned as it is read. Any
   * other caption is normalised by `normalizeCaption` and then split (all 30,000 captions of the bench corpus are
   * plain; a real corpus's commas, apostrophes and brackets take the lexer).
   */
  private splitRaw(s: string): void {
    const tokens = this.tokens;
    const first = this.tokenStart[this.captions];
    let n = s.length;
    let t = first;
    let i = 0;
    for (;;) {
      while (i < n && s.charCodeAt(i) === 32) i++;
      if (i >= n) break;
      const start = i;
      let h = 0x811c9dc5 | 0;
      let prev = 0;
      while (i < n) {
        const c = s.charCodeAt(i);
        const k = c < 128 ? RAW_CLASS[c] : 0;
        if (k === 1) {
          if (c === 45 && prev === 45) return this.splitNormalized(s); // `--` splits
          h = Math.imul(h ^ (c | 0x20), 16777619);
          prev = c;
          i++;
        } else if (k === 2) break;
        // The final `.`: the caption ends here.
        else if (c === 46 && this.onlySpacesAfter(s, i + 1)) n = i;
        else return this.splitNormalized(s);
      }
      const len = i - start;
      if (len === 0 || (len === 1 && prev === 45)) continue; // a lone `-` is punctuation
      if ((len === 5 || len === 6) && SPLIT_WORD_HASHES.includes(h)) return this.splitNormalized(s);
      tokens[t++] = this.wordId(s, start, len, h, 0x20);
    }
    this.endCaption(first, t);
  }

  /** Closes the caption whose word ids fill tokens[first..t), and makes the per-caption scratch room for them. */
  private endCaption(first: number, t: number): void {
    this.tokenStart[++this.captions] = t;
    if (t - first > this.prefix.length) this.prefix = new Int32Array(2 * (t - first));
  }

  private onlySpacesAfter(s: string, from: number): boolean {
    for (let j = from; j < s.length; j++) if (s.charCodeAt(j) !== 32) return false;
    return true;
  }

  /** `splitRaw`'s way for a caption that is not plain: `normalizeCaption`, then the split on whitespace. */
  private splitNormalized(s: string): void {
    const text = normalizeCaption(s);
    // The token array was sized from the raw characters (a word takes one and a separator at least); the lexer may
    // lengthen a caption (`(` → `-lrb-`, `don't` → `do n't`): room for every such excess so far.
    if (text.length > s.length) {
      this.lengthened += text.length - s.length + 1;
      if (this.tokenRoom + this.lengthened > this.tokens.length) {
        this.tokens = grown(this.tokens, this.tokenRoom + this.lengthened);
      }
    }
    this.tokenize(text);
  }

  /** Splits `s`, the next caption, on JavaScript whitespace into word ids (interned). */
  private tokenize(s: string): void {
    const tokens = this.tokens;
    const first = this.tokenStart[this.captions];
    const n = s.length;
    let t = first;
    let i = 0;
    for (;;) {
      while (i < n && isSpace(s.charCodeAt(i))) i++;
      if (i >= n) break;
      const start = i;
      let h = 0x811c9dc5 | 0;
      while (i < n) {
        const c = s.charCodeAt(i);
        if (isSpace(c)) break;
        h = Math.imul(h ^ c, 16777619);
        i++;
      }
      tokens[t++] = this.wordId(s, start, i - start, h);
    }
    this.endCaption(first, t);
  }

  /**
   * The id of the word s[start, start + len) with its characters OR-ed with `or` (0: as they are; 0x20: lower-cased,
   * exact on `splitRaw`'s plain characters), `h` the hash of those characters; interned when new.
   */
  private wordId(s: string, start: number, len: number, h: number, or = 0): number {
    const mask = this.wordSlots.length - 1;
    for (let k = h & mask; ; k = (k + 1) & mask) {
      const id = this.wordSlots[k];
      if (id < 0) return this.newWord(s, start, len, h, k, or);
      if (this.wordHash[id] === h && this.wordLen[id] === len && this.sameChars(id, s, start, len, or)) return id;
    }
  }

  private sameChars(id: number, s: string, start: number, len: number, or: number): boolean {
    const chars = this.chars;
    const at = this.wordStart[id];
    for (let j = 0; j < len; j++) if (chars[at + j] !== (s.charCodeAt(start + j) | or)) return false;
    return true;
  }

  private newWord(s: string, start: number, len: number, h: number, k: number, or: number): number {
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
    for (let j = 0; j < len; j++) this.chars[this.charsUsed + j] = s.charCodeAt(start + j) | or;
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
    if (2 * this.size > this.pairParent.length) this.rehashPairs();
    return id;
  }

  private rehashPairs(): void {
    const [parents, words, values] = [this.pairParent, this.pairWord, this.pairValue];
    this.pairParent = new Int32Array(2 * parents.length).fill(-2);
    this.pairWord = new Int32Array(2 * parents.length);
    this.pairValue = new Int32Array(2 * parents.length);
    this.stamp = grown(this.stamp, parents.length);
    this.slotOf = grown(this.slotOf, parents.length);
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
   * The distinct n-grams of caption c into ids/tf/order from `at` on (the arrays must hold 4·L more entries, L its
   * number of words); the number written.
   */
  count(c: number, ids: Ints, tf: Ints, order: Uint8Array, at: number): number {
    const w = this.tokens;
    const first = this.tokenStart[c];
    const L = this.tokenStart[c + 1] - first;
    const prefix = this.prefix;
    const gen = ++this.gen;
    let u = at;
    for (let n = 1; n <= N; n++) {
      for (let i = 0; i + n <= L; i++) {
        const id = this.ngramId(n === 1 ? -1 : prefix[i], w[first + i + n - 1]);
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
  readonly ids: Ints;
  readonly tf: Ints;
  readonly order: Uint8Array<ArrayBuffer>;
  readonly start: Ints;
  readonly words: Ints;
  count = 0;

  /** Room for `refs` references of `words` words in all (a word starts at most 4 n-grams). */
  constructor(refs: number, words: number) {
    this.ids = new Int32Array(4 * words);
    this.tf = new Int32Array(4 * words);
    this.order = new Uint8Array(4 * words);
    this.start = new Int32Array(refs + 1);
    this.words = new Int32Array(refs);
  }
}

/** Pass 1: counts and interns the references into a log, with df per n-gram id (each image counts once). */
class ReferenceCounter {
  df: Ints;
  private lastImage: Ints;

  constructor(
    private readonly counter: Counter,
    private readonly log_: RefLog,
  ) {
    this.df = new Int32Array(counter.capacity);
    this.lastImage = new Int32Array(counter.capacity).fill(-1);
  }

  /** Adds every reference, image by image (a loop of its own, so that V8 compiles it apart from the caller). */
  addAll(refs: ReadonlyArray<readonly string[]>): void {
    for (let i = 0; i < refs.length; i++) {
      const K = refs[i].length;
      for (let k = 0; k < K; k++) this.add(i);
    }
  }

  /** Adds the next reference, one of image i, to the log and to df. */
  add(i: number): void {
    const counter = this.counter;
    const log_ = this.log_;
    const r = log_.count;
    const at = log_.start[r];
    const end = at + counter.count(r, log_.ids, log_.tf, log_.order, at);
    log_.words[r] = counter.wordsOf(r);
    log_.start[r + 1] = end;
    log_.count = r + 1;
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
  private readonly hIds: Ints;
  private readonly hTf: Ints;
  private readonly hOrder: Uint8Array<ArrayBuffer>;
  // Per n-gram id: the image whose candidate holds it last, and its slot there.
  private readonly stamp: Ints;
  private readonly slot: Ints;
  /** Per n-gram id: refLen − log(max(1, df)). */
  private readonly idf: Float64Array<ArrayBuffer>;
  private readonly values: Float64Array<ArrayBuffer>; // [slot, K]: the candidate's n-gram's entry in reference k
  private readonly refMax: Ints; // [slot]: its largest count in one reference (BLEU's clipping)
  private readonly norms: Float64Array<ArrayBuffer>;
  private readonly lengths: Ints;
  private readonly num: Float64Array<ArrayBuffer>;
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
    sizes: { readonly candidateWords: number; readonly longestCandidate: number; readonly mostRefs: number },
    readonly perCider: Float64Array,
    readonly perBleu: BleuResult['perImage'],
  ) {
    // Every array has its final size here: none is replaced later (see Counter).
    const U = 4 * max(1, sizes.longestCandidate);
    const K = sizes.mostRefs;
    this.hIds = new Int32Array(U);
    this.hTf = new Int32Array(U);
    this.hOrder = new Uint8Array(U);
    this.values = new Float64Array(U * K);
    this.refMax = new Int32Array(U);
    this.norms = new Float64Array(K * N);
    this.num = new Float64Array(K * N);
    this.lengths = new Int32Array(K);
    const size = counter.size;
    // Room for every n-gram the candidates may add (at most 4 a word), so that `extend` never grows the arrays.
    this.idf = new Float64Array(size + 4 * sizes.candidateWords);
    for (let id = 0; id < size; id++) this.idf[id] = refLen - log(max(1, df[id]));
    this.stamp = new Int32Array(this.idf.length).fill(-1);
    this.slot = new Int32Array(this.idf.length);
    this.twoSigmaSq = 2 * sigma * sigma;
  }

  /** Counts candidate i, caption c (interning n-grams the references lack, with df 0); its number of words. */
  private countCandidate(c: number, i: number): { U: number; words: number } {
    const counter = this.counter;
    const L = counter.wordsOf(c);
    const before = counter.size;
    const U = counter.count(c, this.hIds, this.hTf, this.hOrder, 0);
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

  /** Scores every image in order (candidate i is caption firstCandidate + i); the sum of their CIDEr-D. */
  scoreAll(refs: ReadonlyArray<readonly string[]>, firstCandidate: number): number {
    let total = 0;
    for (let i = 0; i < refs.length; i++) {
      this.score(firstCandidate + i, refs[i].length, i);
      total += this.perCider[i];
    }
    return total;
  }

  /** Scores image i (candidate, caption c, against its K references, the next K in the log). */
  score(c: number, K: number, i: number): void {
    const { U, words: testLen } = this.countCandidate(c, i);
    this.values.fill(0, 0, U * K);
    this.refMax.fill(0, 0, U);
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
 * these references. With `normalize`, the captions are raw and each is scored as `normalizeCaption` gives it (the
 * same numbers as normalising them first), most of them without building the normalised string. Throws like
 * `ciderD` on a length mismatch, no image or an image without references.
 */
export function corpusCiderDAndBleu(
  candidates: readonly string[],
  refs: ReadonlyArray<readonly string[]>,
  sigma = 6,
  normalize = false,
): { ciderD: CiderDCorpusResult; bleu: BleuResult } {
  const I = candidates.length;
  if (I !== refs.length) throw new Error(`ciderD: ${I} candidates for ${refs.length} reference sets`);
  if (!(I > 0)) throw new Error('CiderD.fromReferences: no images');
  let R = 0;
  let chars = 0;
  let mostRefs = 0;
  for (let i = 0; i < I; i++) {
    const rs = refs[i];
    if (rs.length === 0) throw new Error('CiderD: an image needs at least one reference');
    R += rs.length;
    mostRefs = max(mostRefs, rs.length);
    for (let k = 0; k < rs.length; k++) chars += rs[k].length;
    chars += candidates[i].length;
  }
  const counter = new Counter(R + I, chars);
  counter.tokenizeAll(refs, candidates, normalize);
  const log_ = new RefLog(R, counter.tokenStart[R]);
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
  let longestCandidate = 0;
  for (let i = 0; i < I; i++) longestCandidate = max(longestCandidate, counter.wordsOf(R + i));
  const sizes = { candidateWords: counter.tokenStart[R + I] - counter.tokenStart[R], longestCandidate, mostRefs };
  const scorer = new ImageScorer(counter, log_, df, log(I), sigma, sizes, perCider, perBleu);
  const total = scorer.scoreAll(refs, R);
  const corpus: BleuResult['corpus'] = [0, 0, 0, 0];
  const ratio = (scorer.totalTest + TINY) / (scorer.totalRef + SMALL);
  let prod = 1;
  for (let k = 0; k < N; k++) {
    prod *= (scorer.totalCorrect[k] + TINY) / (scorer.totalGuess[k] + SMALL);
    corpus[k] = prod ** (1 / (k + 1)) * (ratio < 1 ? exp(1 - 1 / ratio) : 1);
  }
  return { ciderD: { score: total / I, perImage: perCider }, bleu: { corpus, perImage: perBleu } };
}

/**
 * The words `corpusCiderDAndBleu(…, normalize = true)` scores for each caption: those of
 * `normalizeCaption(caption).split(' ')` (none for an empty result). For tests.
 */
export function normalizedWords(captions: readonly string[]): string[][] {
  let chars = 0;
  for (const c of captions) chars += c.length;
  const counter = new Counter(captions.length, chars);
  counter.tokenizeAll([captions], [], true);
  return captions.map((_, c) => counter.wordsText(c));
}
