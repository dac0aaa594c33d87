/**
 * The n-grams (n = 1..4) of normalised captions with their term frequencies, words and n-grams interned to dense
 * integer ids (`NgramIndex`), and a flat log of counted captions (`CountLog`): what CIDEr-D (cider.ts) and BLEU
 * (bleu.ts) score from. Captions are split on whitespace, as Python's `str.split()` does.
 */

const N = 4;

// Module-level alias: inside a vm context (Jest) global lookups such as `Math.max` in a hot loop are ~100× slower.
const { max } = Math;

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
export const wholeCounts = (c: NgramCounts): CountsView => ({
  ids: c.ids,
  tf: c.tf,
  order: c.order,
  start: 0,
  end: c.ids.length,
  words: c.words,
});

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

const hashPair = (parent: number, word: number): number =>
  (Math.imul(parent + 1, 0x9e3779b1) ^ Math.imul(word, 0x85ebca77)) >>> 0;

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
