/**
 * Word-level caption vocabulary, built from (already normalised) training captions.
 *
 * Ids: 0 = pad / BOS (the decoder shifts right with 0), 1 = end of caption, 2 = unknown word, then words by
 * descending frequency (ties alphabetical, so the same corpus always gives the same ids). Words seen fewer than
 * `minCount` times map to the unknown id.
 */
export const PAD = 0;
export const END = 1;
export const UNK = 2;
const FIRST_WORD = 3;

export interface Vocabulary {
  readonly words: readonly string[]; // id − 3 → word
  readonly index: ReadonlyMap<string, number>;
}

export function buildVocabulary(captions: Iterable<string>, minCount = 1): Vocabulary {
  const counts = new Map<string, number>();
  for (const c of captions) for (const w of c.split(' ')) if (w) counts.set(w, (counts.get(w) ?? 0) + 1);
  const words = [...counts]
    .filter(([, n]) => n >= minCount)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([w]) => w);
  return vocabularyFromWords(words);
}

/** The vocabulary whose words (in id order, from id 3) are `words`, e.g. as saved with a run. */
export function vocabularyFromWords(words: readonly string[]): Vocabulary {
  return { words: [...words], index: new Map(words.map((w, i) => [w, i + FIRST_WORD])) };
}

/** Vocabulary size including the special ids: the decoder's output width V. */
export const vocabularySize = (v: Vocabulary): number => v.words.length + FIRST_WORD;

/** Encodes a caption as ids ending with END, padded with PAD (or cut) to exactly `length` tokens. */
export function encodeCaption(v: Vocabulary, caption: string, length: number): Int32Array {
  const out = new Int32Array(length);
  const ids = caption
    .split(' ')
    .filter(Boolean)
    .map((w) => v.index.get(w) ?? UNK);
  const n = Math.min(ids.length, length - 1);
  for (let i = 0; i < n; i++) out[i] = ids[i];
  out[n] = END;
  return out;
}

/** Decodes ids up to the first END or PAD; unknown ids read as "<unk>". */
export function decodeCaption(v: Vocabulary, ids: ArrayLike<number>): string {
  const words: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id === END || id === PAD) break;
    words.push(id >= FIRST_WORD && id - FIRST_WORD < v.words.length ? v.words[id - FIRST_WORD] : '<unk>');
  }
  return words.join(' ');
}
