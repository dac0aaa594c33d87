// CaptionTask: targets drawn from the references and encoded with END + PAD, their weights, decoding, the CIDEr-D
// reward under training document frequencies and the coco-caption evaluation, against hand computations.
import { Rng } from '@reward-tune/core-model';
import type { CaptionExample } from './dataset';
import { CaptionTask, METRIC_KEYS } from './task';
import { buildVocabulary, END, PAD, UNK } from './vocabulary';

const A = 'a big red square';
const B = 'a small blue circle';
const ex0: CaptionExample = { id: 1, fileName: '000000.png', references: [A] };
const ex1: CaptionExample = { id: 2, fileName: '000001.png', references: [B] };
const vocab = buildVocabulary([A, B]); // "a" (2×) first, then the rest alphabetically, from id 3
const task = new CaptionTask({ vocab, length: 6, trainReferences: [ex0.references, ex1.references] });
const id = (w: string): number => vocab.index.get(w)!;

describe('CaptionTask targets', () => {
  it('encodes one reference per call, drawn with the rng, as words, END, then PAD', () => {
    const ex: CaptionExample = { id: 3, fileName: 'x.png', references: [A, B] };
    const rng = Rng.fromSeed(5);
    const drawn = Array.from({ length: 40 }, () => Array.from(task.encodeTargets(ex, rng)));
    const encA = [id('a'), id('big'), id('red'), id('square'), END, PAD];
    const encB = [id('a'), id('small'), id('blue'), id('circle'), END, PAD];
    expect(
      drawn.every((t) => JSON.stringify(t) === JSON.stringify(encA) || JSON.stringify(t) === JSON.stringify(encB)),
    ).toBe(true);
    // Both references are drawn (40 fair draws all alike: probability 2⁻³⁹), and the same seed draws the same.
    expect(new Set(drawn.map((t) => t[1])).size).toBe(2);
    const again = Rng.fromSeed(5);
    expect(Array.from({ length: 40 }, () => Array.from(task.encodeTargets(ex, again)))).toEqual(drawn);
  });

  it('weighs the words and END 1 and the padding after END 0', () => {
    const t = task.encodeTargets(ex0, Rng.fromSeed(0));
    expect(Array.from(task.targetWeights(ex0, t))).toEqual([1, 1, 1, 1, 1, 0]);
    // A caption cut to the length: END is the last token and every position counts.
    const cut = Int32Array.from([id('a'), id('big'), id('red'), id('square'), id('a'), END]);
    expect(Array.from(task.targetWeights(ex0, cut))).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('decodes up to the first END; unknown ids read as <unk>', () => {
    expect(task.decode(Int32Array.from([id('a'), id('red'), UNK, END, id('big'), PAD])).caption).toBe('a red <unk>');
    expect(task.decode(Int32Array.from([END, PAD, PAD, PAD, PAD, PAD])).caption).toBe('');
  });
});

describe('CaptionTask reward and evaluation', () => {
  // Training df over the 2 images: refLen = log 2; "a" is in both (weight log 2 − log 2 = 0), every other n-gram in
  // one (weight l = log 2). Per n the score is the clipped cosine of the weighted n-gram vectors; mean over n, × 10.
  it('rewards each sample with CIDEr-D under the training document frequencies', () => {
    const preds = [A, 'a big red circle', 'a red', ''].map((caption) => ({ caption }));
    const r = task.reward(preds, ex0);
    expect(r.rewards).toHaveLength(4);
    // Identical caption: cosine 1 for n = 1..4 → 10.
    expect(r.rewards[0]).toBeCloseTo(10, 12);
    // "a big red circle": unigrams big, red match (2l² / (l√3)²) = 2/3; bigrams "a big", "big red" of 3 → 2/3;
    // trigrams 1 of 2 → 1/2; the 4-gram misses → 0. Same length: no penalty. (2/3 + 2/3 + 1/2)/4 × 10 = 55/12.
    expect(r.rewards[1]).toBeCloseTo(55 / 12, 12);
    // "a red": unigram red: l² / (l · l√3) = 1/√3; bigram "a red" is not in the reference: 0; trigrams: none.
    // Length penalty on the bigram counts 1 vs 3: exp(−4/72).
    expect(r.rewards[2]).toBeCloseTo((1 / Math.sqrt(3) / 4) * 10 * Math.exp(-4 / 72), 12);
    expect(r.rewards[3]).toBe(0);
  });

  it("evaluates corpus CIDEr-D with the evaluated references' document frequencies, BLEU-1..4 and the length", () => {
    const m = task.evaluate([{ caption: 'a big red circle' }, { caption: B }], [ex0, ex1]);
    expect(Object.keys(m).sort()).toEqual([...METRIC_KEYS].sort());
    // The two evaluated images have the training df: mean of 55/12 and 10.
    expect(m['CIDEr-D']).toBeCloseTo((55 / 12 + 10) / 2, 12);
    // Clipped n-gram matches over the corpus: 1-grams 7/8, 2-grams 5/6, 3-grams 3/4, 4-grams 1/2; equal lengths.
    const p = [7 / 8, 5 / 6, 3 / 4, 1 / 2];
    expect(m['BLEU-1']).toBeCloseTo(p[0], 8);
    expect(m['BLEU-2']).toBeCloseTo(Math.sqrt(p[0] * p[1]), 8);
    expect(m['BLEU-3']).toBeCloseTo(Math.cbrt(p[0] * p[1] * p[2]), 8);
    expect(m['BLEU-4']).toBeCloseTo((p[0] * p[1] * p[2] * p[3]) ** 0.25, 8);
    expect(m.caption_length).toBe(4);
  });

  it('keeps the two df sources apart: one evaluated image has refLen log 1 = 0, so corpus CIDEr-D is 0', () => {
    expect(task.evaluate([{ caption: A }], [ex0])['CIDEr-D']).toBe(0);
    expect(task.reward([{ caption: A }], ex0).rewards[0]).toBeCloseTo(10, 12);
  });
});
