// The colour scenes' contract, fast: determinism and random access, ranges and sizes, disjoint splits, option
// checks, and the luma weights the metrics read. Their statistics over thousands of scenes (the modes' shares, that
// the grey image carries no hue, the ground truth against the metrics: ~12 s) are scenes.stats.e2e.ts.
import { lumaPsnr, PSNR_CAP_DB, TF_GRAYSCALE_WEIGHTS } from '@reward-tune/rewards-metrics';
import { LUMA, toGrayRgb } from './grayscale';
import {
  COLOUR_SPLITS,
  colourSceneAt,
  colourScenes,
  colourSceneSeed,
  type ColourScene,
  type ColourSceneOptions,
} from './scenes';

const SMALL: ColourSceneOptions = { size: 24 };

describe('colour scenes: determinism, ranges, splits', () => {
  it('is deterministic and random-access', () => {
    const a = colourSceneAt(7, 'train', 5, SMALL);
    const b = [...colourScenes(7, 'train', 6, SMALL)][5];
    expect(b.rgb).toEqual(a.rgb);
    expect(b.regions).toEqual(a.regions);
    expect(colourSceneAt(7, 'train', 5, SMALL).rgb).toEqual(a.rgb);
    expect(colourSceneAt(8, 'train', 5, SMALL).rgb).not.toEqual(a.rgb);
  });

  it('gives RGB in [−1, 1] of the requested size and the grey input as luma ×3', () => {
    for (const size of [16, 32, 64]) {
      const s = colourSceneAt(0, 'val', 3, { size });
      expect(s.rgb).toHaveLength(size * size * 3);
      expect(s.owner).toHaveLength(size * size);
      for (const v of s.rgb) expect(v >= -1 && v <= 1).toBe(true);
      expect(s.grey).toEqual(toGrayRgb(s.rgb));
      expect(s.regions.reduce((n, r) => n + r.area, 0)).toBe(size * size);
      expect(s.regions.length).toBeGreaterThanOrEqual(3);
      expect(s.regions.length).toBeLessThanOrEqual(5);
    }
  });

  it('keeps train, val and test disjoint: distinct generators and distinct images', () => {
    const seeds = new Set<number>();
    for (const split of COLOUR_SPLITS) for (let i = 0; i < 20000; i++) seeds.add(colourSceneSeed(3, split, i));
    expect(seeds.size).toBe(60000);
    const key = (s: ColourScene): string => Buffer.from(s.rgb.buffer).toString('base64');
    const seen = new Set<string>();
    for (const split of COLOUR_SPLITS) for (const s of colourScenes(3, split, 100, { size: 16 })) seen.add(key(s));
    expect(seen.size).toBe(300);
    expect(() => colourSceneSeed(0, 'train', 2 ** 30)).toThrow(/2\^30/);
    expect(() => colourSceneSeed(0, 'train', -1)).toThrow(/2\^30/);
  });

  it('rejects bad options', () => {
    expect(() => colourSceneAt(0, 'train', 0, { size: 4 })).toThrow(/size/);
    expect(() => colourSceneAt(0, 'train', 0, { minShapes: 3, maxShapes: 2 })).toThrow(/shape counts/);
    expect(() => colourSceneAt(0, 'train', 0, { greyProbability: 1.5 })).toThrow(/greyProbability/);
    expect(() => colourSceneAt(0, 'train', 0, { lumaRange: [0.5, 0.6], minContrast: 0.05 })).toThrow(/minContrast/);
  });

  it('uses the luma weights that the metrics read (the ground truth has a capped luma PSNR to its input)', () => {
    expect([...LUMA]).toEqual([...TF_GRAYSCALE_WEIGHTS]);
    const s = colourSceneAt(1, 'test', 0);
    expect(lumaPsnr(s.rgb, s.grey)).toBe(PSNR_CAP_DB);
  });
});
