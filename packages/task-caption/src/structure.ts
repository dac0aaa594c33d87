/**
 * The caption sequence's shape as a logits processor: words, exactly one END, then PAD to the fixed length — the
 * shape `encodeCaption` gives every MLE target. The model applies it both when sampling and when re-scoring
 * teacher-forced, so REINFORCE's log-probabilities are those of the distribution the captions were drawn from.
 *
 * Per position t of L, given the row's prefix (tokens before t):
 *   - an END in the prefix: only PAD (nothing can follow the caption);
 *   - otherwise at t = L − 1: only END (a caption that fills the length ends there, as a cut target does);
 *   - otherwise: anything but PAD (PAD is the decoder's BOS and means "after the end"), and at t = 0 not END either
 *     (no empty captions: every reference has a word, so no target starts with END).
 * Without it a sampled "a PAD red square" would decode to "a" while the policy gradient pushed on tokens the
 * caption never showed, and a row with no END would decode to words the length happened to cut.
 */
import { prefixConstraint, tokenSet, type LogitsProcessor } from '@reward-tune/core-model';
import { END, PAD } from './vocabulary';

/** The processor for captions of `length` tokens over a vocabulary of `vocabSize` ids (special ids included). */
export function captionStructure(vocabSize: number, length: number): LogitsProcessor {
  if (!(vocabSize > END + 1)) throw new RangeError(`captionStructure: vocabulary of ${vocabSize} ids has no word ids`);
  if (!(length >= 1)) throw new RangeError(`captionStructure: length must be ≥ 1, got ${length}`);
  const onlyPad = tokenSet(vocabSize, [[PAD, PAD + 1]]);
  const onlyEnd = tokenSet(vocabSize, [[END, END + 1]]);
  const middle = tokenSet(vocabSize, [[0, vocabSize]]);
  middle[PAD] = 0;
  const first = middle.slice();
  first[END] = 0;
  return prefixConstraint((position, prefix) => {
    if (prefix.includes(END)) return onlyPad;
    if (position === length - 1) return onlyEnd;
    return position === 0 ? first : middle;
  });
}
