/**
 * The caption token language around the word vocabulary: building it from the training references, keeping it
 * with the run (`<run>/vocabulary.json`, so that eval and tune decode with exactly the ids pretraining used),
 * MLE targets (one reference drawn per example per step, as captioning MLE usually does) and decoding.
 *
 * Shapes: B examples, L caption length in tokens (words, then END, then PAD).
 */
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { z } from 'zod';
import { readJsonAs, type Rng, writeAtomicE } from '@reward-tune/core-model';
import { buildVocabulary, decodeCaption, encodeCaption, vocabularyFromWords, type Vocabulary } from './vocabulary';

export const VOCABULARY_FILE = 'vocabulary.json';
const FORMAT = 'reward-tune caption vocabulary';

/** Builds the vocabulary from every reference of the training examples (normalised when the split was read). */
export function buildCaptionVocabulary(examples: Iterable<{ readonly references: readonly string[] }>, minCount = 1): Vocabulary {
  function* refs(): Generator<string> {
    for (const e of examples) yield* e.references;
  }
  return buildVocabulary(refs(), minCount);
}

/** The length L that fits the longest reference plus END. */
export function captionLength(examples: Iterable<{ readonly references: readonly string[] }>): number {
  let longest = 0;
  for (const e of examples) for (const r of e.references) longest = Math.max(longest, r.split(' ').filter(Boolean).length);
  return longest + 1;
}

const vocabularySchema = z
  .object({
    format: z.literal(FORMAT),
    minCount: z.number().int().positive(),
    words: z.array(z.string().regex(/^\S+$/, 'expected one word with no spaces')),
  })
  .strict();

/** Writes `<runDir>/vocabulary.json` atomically; returns its path. */
export function saveVocabulary(runDir: string, v: Vocabulary, minCount: number): E.Either<string, string> {
  const body = { format: FORMAT, minCount, words: v.words };
  return writeAtomicE(path.join(runDir, VOCABULARY_FILE), `${JSON.stringify(body, null, 1)}\n`);
}

/** Reads and checks `<runDir>/vocabulary.json`. */
export const loadVocabulary = (runDir: string): E.Either<string, Vocabulary> => loadVocabularyFile(path.join(runDir, VOCABULARY_FILE));

/** Reads and checks a vocabulary file (as `saveVocabulary` writes it). */
export function loadVocabularyFile(file: string): E.Either<string, Vocabulary> {
  return E.chain((json: z.output<typeof vocabularySchema>): E.Either<string, Vocabulary> => {
    const seen = new Map<string, number>();
    for (let i = 0; i < json.words.length; i++) {
      const j = seen.get(json.words[i]);
      if (j !== undefined) return E.left(`${file}: words[${i}]: duplicate word "${json.words[i]}" (also at words[${j}])`);
      seen.set(json.words[i], i);
    }
    return E.right(vocabularyFromWords(json.words));
  })(readJsonAs(vocabularySchema, file));
}

/**
 * MLE targets for a batch: for each example one of its references, drawn uniformly with `rng` (one draw per
 * example, in order, so a resumed run draws the same), encoded to L tokens. Returns [B·L] row-major.
 */
export function sampleTargets(v: Vocabulary, references: readonly (readonly string[])[], length: number, rng: Rng): Int32Array {
  const out = new Int32Array(references.length * length); // [B, L]
  references.forEach((refs, b) => {
    if (refs.length === 0) throw new RangeError(`sampleTargets: example ${b} has no references`);
    out.set(encodeCaption(v, refs[rng.int(refs.length)], length), b * length);
  });
  return out;
}

/** Decodes [B·L] row-major token ids to B captions (each up to its first END or PAD). */
export function decodeCaptions(v: Vocabulary, tokens: Int32Array, length: number): string[] {
  if (length < 1 || tokens.length % length !== 0) throw new RangeError(`decodeCaptions: ${tokens.length} tokens is not a multiple of L = ${length}`);
  const out: string[] = [];
  for (let b = 0; b < tokens.length / length; b++) out.push(decodeCaption(v, tokens.subarray(b * length, (b + 1) * length)));
  return out;
}
