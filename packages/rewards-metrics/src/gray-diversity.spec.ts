import { labToSrgb, srgbToLab } from './colour-space';
import { grayDiversity, greyFraction, hueBin, normalisedEntropy } from './gray-diversity';

/** Interleaved [0, 1] RGB of Lab colours (L, chroma, hue in degrees), each checked to be inside the gamut. */
function fromLch(colours: [number, number, number][]): number[] {
  return colours.flatMap(([L, c, hDeg]) => {
    const h = (hDeg * Math.PI) / 180;
    const rgb = labToSrgb(L, c * Math.cos(h), c * Math.sin(h));
    for (const v of rgb) if (!(v >= 0 && v <= 1)) throw new Error(`out of gamut: L ${L} C ${c} h ${hDeg}`);
    return rgb;
  });
}

const unit = { range: 'unit' } as const;

describe('grayDiversity (not-grey fraction × normalised hue entropy)', () => {
  it('is 0 for a grey image and for an image of one flat hue', () => {
    const grey = [0.2, 0.2, 0.2, 0.7, 0.7, 0.7];
    expect(grayDiversity(grey, unit)).toEqual({ reward: 0, colouredFraction: 0, hueEntropy: 0 });
    const red = grayDiversity([1, 0, 0, 1, 0, 0], unit);
    expect(red.colouredFraction).toBe(1);
    expect(red.hueEntropy).toBe(0);
    expect(red.reward).toBe(0);
  });

  it('is 1 for every pixel coloured with one hue in each of the 12 bins, and halves with half the pixels grey', () => {
    const wheel = fromLch(Array.from({ length: 12 }, (_, k) => [60, 30, (k + 0.5) * 30] as [number, number, number]));
    const r = grayDiversity(wheel, unit);
    expect(r.colouredFraction).toBe(1);
    expect(r.hueEntropy).toBeCloseTo(1, 12);
    expect(r.reward).toBeCloseTo(1, 12);
    const half = grayDiversity(
      [...wheel, ...fromLch(Array.from({ length: 12 }, () => [50, 0, 0] as [number, number, number]))],
      unit,
    );
    expect(half.colouredFraction).toBe(0.5);
    expect(half.reward).toBeCloseTo(0.5, 12);
  });

  it('multiplies f by H: two hues, three of four pixels coloured', () => {
    const px = fromLch([
      [60, 30, 15],
      [60, 30, 15],
      [60, 30, 195],
      [60, 0, 0],
    ]);
    const r = grayDiversity(px, unit);
    // Hue counts 2 and 1 among 12 bins: H = (−⅔ ln ⅔ − ⅓ ln ⅓) / ln 12.
    const H = -((2 / 3) * Math.log(2 / 3) + (1 / 3) * Math.log(1 / 3)) / Math.log(12);
    expect(r.colouredFraction).toBe(0.75);
    expect(r.hueEntropy).toBeCloseTo(H, 12);
    expect(r.reward).toBeCloseTo(0.75 * H, 12);
    // With 2 bins (0–180°, 180–360°) the same pixels give ln-2-normalised entropy.
    const H2 = -((2 / 3) * Math.log(2 / 3) + (1 / 3) * Math.log(1 / 3)) / Math.log(2);
    expect(grayDiversity(px, { ...unit, hueBins: 2 }).hueEntropy).toBeCloseTo(H2, 12);
  });

  it('counts a pixel as coloured only above the chroma threshold', () => {
    const px = fromLch([
      [60, 9, 100],
      [60, 11, 100],
    ]);
    expect(grayDiversity(px, unit).colouredFraction).toBe(0.5);
    expect(grayDiversity(px, { ...unit, chromaThreshold: 8 }).colouredFraction).toBe(1);
    expect(greyFraction(px, unit)).toBe(0.5);
    expect(greyFraction(px, { ...unit, chromaThreshold: 12 })).toBe(1);
  });

  it('reads [−1, 1] by default and clips', () => {
    // Signed red and grey; out-of-range values clip to red's corners.
    expect(greyFraction([1, -1, -1, 0, 0, 0])).toBe(0.5);
    expect(greyFraction([3, -2, -9, 0, 0, 0])).toBe(0.5);
    expect(srgbToLab(1, 0, 0)[1]).toBeGreaterThan(10);
  });

  it('rejects bad options', () => {
    expect(() => grayDiversity([0, 0, 0], { hueBins: 0 })).toThrow(/hueBins/);
    expect(() => grayDiversity([0, 0, 0], { hueBins: 2.5 })).toThrow(/hueBins/);
    expect(() => greyFraction([0, 0, 0], { chromaThreshold: -1 })).toThrow(/chromaThreshold/);
  });
});

describe('hue bins and entropy', () => {
  it('bins atan2(b, a) from the +a* axis counter-clockwise', () => {
    expect(hueBin(1, 0, 12)).toBe(0);
    expect(hueBin(1, 1e-9, 12)).toBe(0);
    expect(hueBin(0, 1, 12)).toBe(3);
    expect(hueBin(-1, -0, 12)).toBe(6);
    expect(hueBin(-1, 0, 12)).toBe(6);
    expect(hueBin(0, -1, 12)).toBe(9);
    expect(hueBin(1, -1e-9, 12)).toBe(11);
  });

  it('normalises entropy by ln K', () => {
    expect(normalisedEntropy([1, 1, 1, 1])).toBeCloseTo(1, 15);
    expect(normalisedEntropy([1, 1, 0, 0])).toBeCloseTo(0.5, 15);
    expect(normalisedEntropy([5, 0])).toBe(0);
    expect(normalisedEntropy([0, 0])).toBe(0);
    expect(normalisedEntropy([3])).toBe(0);
  });
});
