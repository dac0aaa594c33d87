import { generateCaptionCorpus } from './caption';
import { normalizeCaption } from '../caption-normalize';
import { ciderD } from '../cider';

describe('caption benchmark corpus', () => {
  it('is deterministic per seed, with 5 references and one candidate per image', () => {
    const a = generateCaptionCorpus(30, 3);
    expect(generateCaptionCorpus(30, 3)).toEqual(a);
    expect(generateCaptionCorpus(30, 4)).not.toEqual(a);
    expect(a.refs.every((r) => r.length === 5)).toBe(true);
    expect(a.cands.length).toBe(30);
    expect(new Set(a.ids).size).toBe(30);
  });

  it('shares n-grams within an image, so candidates score well above zero on average', () => {
    const c = generateCaptionCorpus(200, 1);
    const r = ciderD(
      c.cands.map(normalizeCaption),
      c.refs.map((x) => x.map(normalizeCaption)),
    );
    expect(r.score).toBeGreaterThan(0.5);
    expect(r.perImage.filter((s) => s === 0).length).toBeLessThan(100);
  });
});
