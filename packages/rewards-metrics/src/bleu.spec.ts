import input from './__fixtures__/caption/input.json';
import expected from './__fixtures__/caption/expected.json';
import { bleu, ciderDAndBleu } from './bleu';
import { ciderD } from './cider';

// Golden numbers: pycocoevalcap Bleu(4).compute_score (option "closest") on __fixtures__/caption/input.json.
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

describe('BLEU-1..4 (pycocoevalcap bleu_scorer semantics)', () => {
  const r = bleu(input.cands, input.refs);

  it('matches the corpus BLEU-1..4 to 1e-9', () => {
    r.corpus.forEach((b, k) => expect([k, close(b, expected.BLEU[k])]).toEqual([k, true]));
  });

  it('matches every per-image BLEU-n to 1e-9', () => {
    const bad: unknown[] = [];
    expected.BLEU_per_image.forEach((row, k) =>
      row.forEach((e, i) => !close(r.perImage[k][i], e) && bad.push([k, i, r.perImage[k][i], e])),
    );
    expect(bad).toEqual([]);
  });

  it('hand case: closest reference length breaks ties toward the shorter one', () => {
    // Candidate of 3 words, references of 2 and 4 words: |3−2| = |3−4| → reflen 2, no brevity penalty.
    // Unigram matches 3/3 ("a b c" ⊂ "a b c d"), bigrams 2/2, trigrams 1/1 → BLEU-3 = 1 (up to the 1e-9 smoothing).
    const s = bleu(['a b c'], [['x y', 'a b c d']]);
    expect(s.corpus[2]).toBeCloseTo(1, 8);
    // With only the 4-word reference the brevity penalty exp(1 − 4/3) applies.
    expect(bleu(['a b c'], [['a b c d']]).corpus[0]).toBeCloseTo(Math.exp(1 - 4 / 3), 8);
  });

  it("gives the same numbers, bit for bit, when sharing CIDEr-D's reference counts (ciderDAndBleu)", () => {
    const both = ciderDAndBleu(input.cands, input.refs);
    expect(both.bleu.corpus).toEqual(r.corpus);
    expect(both.bleu.perImage).toEqual(r.perImage);
    const alone = ciderD(input.cands, input.refs);
    expect(both.ciderD.score).toBe(alone.score);
    expect(both.ciderD.perImage).toEqual(alone.perImage);
  });
});
