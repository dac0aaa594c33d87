import input from './__fixtures__/caption/input.json';
import expected from './__fixtures__/caption/expected.json';
import { CiderD, ciderD } from './cider';

// Golden numbers: salaniz/pycocoevalcap run outside the repo on __fixtures__/caption/input.json (50 images, pre-
// normalised captions, edge cases in images 0–10: empty / one-word / identical / overlong / repetitive / unseen
// candidates, an empty reference, duplicated references); see expected.json "source".
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

describe('CIDEr-D (pycocoevalcap semantics)', () => {
  it('matches pycocoevalcap on the corpus score and every image to 1e-9', () => {
    const r = ciderD(input.cands, input.refs);
    expect(close(r.score, expected['CIDEr-D'])).toBe(true);
    const bad = expected['CIDEr-D_per_image'].map((e, i) => [i, r.perImage[i], e]).filter(([, a, e]) => !close(a, e));
    expect(bad).toEqual([]);
  });

  it('matches the training-df mode (df from other images, refLen = log #train) to 1e-9', () => {
    const scorer = CiderD.fromReferences(input.trainRefs);
    expect(scorer.refLen).toBeCloseTo(Math.log(40), 15);
    const got = input.cands.map((c, i) => scorer.score(c, input.refs[i]));
    const bad = expected.trainDf_per_image.map((e, i) => [i, got[i], e]).filter(([, a, e]) => !close(a, e));
    expect(bad).toEqual([]);
  });

  it('scoring candidates does not grow the scorer (sampled captions in an RL loop must not leak memory)', () => {
    const scorer = CiderD.fromReferences(input.trainRefs);
    const sizeOf = (): number => (scorer as unknown as { index: { size: number } }).index.size;
    scorer.score('warm up', input.trainRefs[0]); // prepares (and caches) these references: all n-grams known
    const before = sizeOf();
    for (let i = 0; i < 50; i++) scorer.score(`zebra${i} quantum zebra${i} quantum a man riding`, input.trainRefs[0]);
    expect(sizeOf()).toBe(before);
    // Unseen n-grams (counted by their words, weight refLen) score exactly as if the index held them with df 0:
    // preparing the candidate as a reference interns its n-grams with df 0 and takes the other path.
    const cand = 'zebra quantum zebra quantum zebra a man riding a man';
    const unseen = scorer.score(cand, input.trainRefs[0]);
    scorer.prepare([cand]);
    expect(sizeOf()).toBeGreaterThan(before);
    expect(scorer.score(cand, input.trainRefs[0])).toBe(unseen);
  });

  it('gives the same score from prepared references, cached arrays and fresh arrays', () => {
    const scorer = CiderD.fromReferences(input.refs);
    const prepared = scorer.prepare(input.refs[12]);
    const a = scorer.score(input.cands[12], prepared);
    const b = scorer.score(input.cands[12], input.refs[12]);
    const c = scorer.score(input.cands[12], [...input.refs[12]]);
    expect(a).toBe(b);
    expect(a).toBe(c);
    expect(close(a, expected['CIDEr-D_per_image'][12])).toBe(true);
  });

  it('hand case: a candidate equal to its only reference, all n-grams unique to it, scores 10', () => {
    // Two images, so refLen = log 2; every n-gram of image 0 has df 1 → weight log 2 on both sides, cosine 1 for each
    // n, no length penalty → mean 1, × 10.
    const r = ciderD(['a b c d e', 'x y'], [['a b c d e'], ['z w']]);
    expect(r.perImage[0]).toBeCloseTo(10, 12);
    expect(r.perImage[1]).toBe(0);
  });

  it('hand case: the Gaussian length penalty uses the bigram-count difference', () => {
    // Candidate "a b c" vs reference "a b c d e f g h i": cosine per n is computed on idf weights; changing only
    // the length gap by words the candidate does not share scales the score by exp(-δ²/72) ratios.
    const refs = [['a b c d e f g h i'], ['q']];
    const s = CiderD.fromReferences(refs);
    const withSigma = CiderD.fromReferences(refs, { sigma: 1e9 });
    const ratio = s.score('a b c', refs[0]) / withSigma.score('a b c', refs[0]);
    expect(ratio).toBeCloseTo(Math.exp(-(6 * 6) / 72), 12); // 2 bigrams vs 8 bigrams: δ = 6
  });

  it('rejects an image without references and mismatched lengths (programmer errors)', () => {
    expect(() => ciderD(['a'], [[]])).toThrow(/at least one reference/);
    expect(() => ciderD(['a', 'b'], [['a']])).toThrow(/2 candidates for 1/);
  });
});
