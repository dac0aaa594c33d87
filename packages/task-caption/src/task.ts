/**
 * Image captioning as a `reinforce` task: MLE targets (one reference drawn per example per step), captions decoded
 * up to END, the CIDEr-D reward with document frequencies from the training references (computed once, as the
 * self-critical captioning codebases precompute `coco-train-idxs`), and coco-caption's evaluation: corpus CIDEr-D
 * with document frequencies from the evaluated references themselves, plus BLEU-1..4.
 *
 * Rewards are CIDEr-D on the scorer's own scale (×10, not the ×100 papers print); the metric keys are too.
 *
 * Dimension legend: N samples per example, L caption length in tokens (words, END, PAD…).
 */
import type { Rng } from '@reward-tune/core-model';
import type { RewardResult, Task } from '@reward-tune/reinforce';
import { bleu, ciderD, CiderD } from '@reward-tune/rewards-metrics';
import type { CaptionExample } from './dataset';
import { sampleTargets } from './tokenizer';
import { decodeCaption, END, type Vocabulary } from './vocabulary';

export interface CaptionPrediction {
  /** Words up to the first END (normalised form: vocabulary words, single spaces; "<unk>" for the unknown id). */
  readonly caption: string;
}

export interface CaptionTaskOptions {
  readonly vocab: Vocabulary;
  /** L, the model's output length. */
  readonly length: number;
  /** The training split's references, one array per image: the reward's document frequencies. */
  readonly trainReferences: ReadonlyArray<readonly string[]>;
}

/** The keys `evaluate` returns. `caption_length` is the mean number of words of the predicted captions. */
export const METRIC_KEYS = ['CIDEr-D', 'BLEU-1', 'BLEU-2', 'BLEU-3', 'BLEU-4', 'caption_length'] as const;

const wordCount = (caption: string): number => (caption === '' ? 0 : caption.split(' ').length);

export class CaptionTask implements Task<CaptionExample, CaptionPrediction> {
  readonly vocab: Vocabulary;
  readonly length: number;
  /** CIDEr-D under the training references' document frequencies. */
  readonly scorer: CiderD;

  constructor(opts: CaptionTaskOptions) {
    if (!(opts.length >= 2)) throw new RangeError(`CaptionTask: length must fit a word and END, got ${opts.length}`);
    this.vocab = opts.vocab;
    this.length = opts.length;
    this.scorer = CiderD.fromReferences(opts.trainReferences);
  }

  encodeTargets(ex: CaptionExample, rng: Rng): Int32Array {
    return sampleTargets(this.vocab, [ex.references], this.length, rng);
  }

  /**
   * 1 on the words and on END, 0 on the PAD after it: the loss averages over the caption's own tokens, so short
   * captions do not weigh less than long ones. (The structure processor forces the PADs anyway: their log-prob is
   * 0 under the model, and they would only have diluted the per-sequence normalisation.)
   */
  targetWeights(_ex: CaptionExample, targets: Int32Array): Float32Array {
    const w = new Float32Array(targets.length);
    for (let t = 0; t < targets.length; t++) {
      w[t] = 1;
      if (targets[t] === END) break;
    }
    return w;
  }

  decode(tokens: Int32Array): CaptionPrediction {
    return { caption: decodeCaption(this.vocab, tokens) };
  }

  /**
   * CIDEr-D of each of the N sampled captions against the example's references. The scorer prepares a references
   * array once and caches it by identity, so the same example costs only the candidates' n-grams on later steps.
   */
  reward(predictions: readonly CaptionPrediction[], ex: CaptionExample): RewardResult {
    const rewards = new Float64Array(predictions.length); // [N]
    predictions.forEach((p, n) => (rewards[n] = this.scorer.score(p.caption, ex.references)));
    return { rewards };
  }

  evaluate(predictions: readonly CaptionPrediction[], examples: readonly CaptionExample[]): Record<string, number> {
    if (predictions.length !== examples.length)
      throw new RangeError(`evaluate: ${predictions.length} predictions for ${examples.length} examples`);
    if (examples.length === 0) throw new RangeError('evaluate: no examples');
    const candidates = predictions.map((p) => p.caption);
    const refs = examples.map((e) => e.references);
    const b = bleu(candidates, refs).corpus;
    return {
      'CIDEr-D': ciderD(candidates, refs).score,
      'BLEU-1': b[0],
      'BLEU-2': b[1],
      'BLEU-3': b[2],
      'BLEU-4': b[3],
      caption_length: candidates.reduce((s, c) => s + wordCount(c), 0) / candidates.length,
    };
  }
}
