/**
 * The caption token language around the word vocabulary: building it from the training references, keeping it
 * with the run (`<run>/vocabulary.json`, so that eval and tune decode with exactly the ids pretraining used),
 * MLE targets (one reference drawn per example per step, as captioning MLE usually does) and decoding.
 *
 * Shapes: B examples, L caption length in tokens (words, then END, then PAD).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { z } from 'zod';
import { orUsageError, readJsonAs, type Rng, UsageError, writeAtomicE } from '@reward-tune/core-model';
import { runOfCheckpoint } from '@reward-tune/reinforce';
import { buildVocabulary, decodeCaption, encodeCaption, vocabularyFromWords, type Vocabulary } from './vocabulary';

export const VOCABULARY_FILE = 'vocabulary.json';
const FORMAT = 'reward-tune caption vocabulary';

/** Builds the vocabulary from every reference of the training examples (normalised when the split was read). */
export function buildCaptionVocabulary(
  examples: Iterable<{ readonly references: readonly string[] }>,
  minCount = 1,
): Vocabulary {
  function* refs(): Generator<string> {
    for (const e of examples) yield* e.references;
  }
  return buildVocabulary(refs(), minCount);
}

/** The length L that fits the longest reference plus END. */
export function captionLength(examples: Iterable<{ readonly references: readonly string[] }>): number {
  let longest = 0;
  for (const e of examples)
    for (const r of e.references) longest = Math.max(longest, r.split(' ').filter(Boolean).length);
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
export const loadVocabulary = (runDir: string): E.Either<string, Vocabulary> =>
  loadVocabularyFile(path.join(runDir, VOCABULARY_FILE));

/** Reads and checks a vocabulary file (as `saveVocabulary` writes it). */
export function loadVocabularyFile(file: string): E.Either<string, Vocabulary> {
  return E.chain((json: z.output<typeof vocabularySchema>): E.Either<string, Vocabulary> => {
    const seen = new Map<string, number>();
    for (let i = 0; i < json.words.length; i++) {
      const j = seen.get(json.words[i]);
      if (j !== undefined)
        return E.left(`${file}: words[${i}]: duplicate word "${json.words[i]}" (also at words[${j}])`);
      seen.set(json.words[i], i);
    }
    return E.right(vocabularyFromWords(json.words));
  })(readJsonAs(vocabularySchema, file));
}

/**
 * MLE targets for a batch: for each example one of its references, drawn uniformly with `rng` (one draw per
 * example, in order, so a resumed run draws the same), encoded to L tokens. Returns [B·L] row-major.
 */
export function sampleTargets(
  v: Vocabulary,
  references: readonly (readonly string[])[],
  length: number,
  rng: Rng,
): Int32Array {
  const out = new Int32Array(references.length * length); // [B, L]
  references.forEach((refs, b) => {
    if (refs.length === 0) throw new RangeError(`sampleTargets: example ${b} has no references`);
    out.set(encodeCaption(v, refs[rng.int(refs.length)], length), b * length);
  });
  return out;
}

/** Decodes [B·L] row-major token ids to B captions (each up to its first END or PAD). */
export function decodeCaptions(v: Vocabulary, tokens: Int32Array, length: number): string[] {
  if (length < 1 || tokens.length % length !== 0)
    throw new RangeError(`decodeCaptions: ${tokens.length} tokens is not a multiple of L = ${length}`);
  const out: string[] = [];
  for (let b = 0; b < tokens.length / length; b++)
    out.push(decodeCaption(v, tokens.subarray(b * length, (b + 1) * length)));
  return out;
}

/**
 * The vocabulary file that goes with a checkpoint: `<run>/vocabulary.json` for a run's checkpoint, or
 * `<name>.vocabulary.json` beside a lone checkpoint file `<name>.safetensors` (e.g. a shipped one).
 */
export function vocabularyFileOf(checkpoint: string): string {
  const inRun = path.join(runOfCheckpoint(checkpoint), VOCABULARY_FILE);
  return existsSync(inRun) ? inRun : checkpoint.replace(/\.safetensors$/, '') + `.${VOCABULARY_FILE}`;
}

/** A UsageError unless the vocabulary saved with `checkpoint` is `vocab` word for word. */
export function checkVocabulary(checkpoint: string, vocab: Vocabulary): void {
  const file = vocabularyFileOf(checkpoint);
  if (!existsSync(file))
    throw new UsageError(
      `${checkpoint}: no ${VOCABULARY_FILE} in its run directory ${runOfCheckpoint(checkpoint)} (pretrain saves it there)`,
    );
  const saved = orUsageError(loadVocabularyFile(file));
  const i = saved.words.findIndex((w, k) => w !== vocab.words[k]);
  const other = (j: number) => (vocab.words[j] === undefined ? 'no word there' : `"${vocab.words[j]}"`);
  if (i >= 0)
    throw new UsageError(
      `${file}: words[${i}]: "${saved.words[i]}" saved, but this run's training references give ${other(i)} (different data or caption.minCount)`,
    );
  if (saved.words.length !== vocab.words.length) {
    throw new UsageError(
      `${file}: words: ${saved.words.length} saved, but this run's training references give ${vocab.words.length} (different data or caption.minCount)`,
    );
  }
}
