import { colorfulness } from './colorfulness';
import { colorfulnessSigned, colourReward, colourTerm } from './colour-reward';
import { grayDiversity } from './gray-diversity';
import { lumaOf, lumaPsnr } from './psnr';

const img = Float32Array.from([1, -1, -1, -1, 1, -1, 0.2, 0.1, -0.4, -0.3, -0.3, -0.3]);

describe('colorfulnessSigned', () => {
  it('is Hasler–Süsstrunk M3 on (x + 1)·127.5', () => {
    const bytes = Array.from(img, (v) => (v + 1) * 127.5);
    expect(colorfulnessSigned(img)).toBeCloseTo(colorfulness({ width: 4, height: 1, channels: 3, data: bytes }), 10);
    // Pure red and pure green halves: 255 + 0.3·127.5 (see colorfulness.spec).
    expect(colorfulnessSigned([1, -1, -1, -1, 1, -1])).toBeCloseTo(255 + 0.3 * 127.5, 10);
  });

  it('clips to [−1, 1] first', () => {
    expect(colorfulnessSigned([3, -7, -1, -1, 1.5, -2])).toBe(colorfulnessSigned([1, -1, -1, -1, 1, -1]));
    expect(colorfulnessSigned([0.3, 0.3, 0.3, -0.6, -0.6, -0.6])).toBe(0);
  });
});

describe('colourReward', () => {
  const y = lumaOf(img);
  const grey = Float32Array.from(
    Array.from(y)
      .flatMap((v) => [v, v, v])
      .map((v, i) => v + (i < 6 ? 0.05 : 0)),
  );

  it('is colourfulness by default and gray-diversity on request', () => {
    expect(colourReward(img, undefined)).toBe(colorfulnessSigned(img));
    expect(colourReward(img, grey, { kind: 'gray-diversity' })).toBe(grayDiversity(img).reward);
    expect(colourTerm(img, 'gray-diversity', { hueBins: 4 })).toBe(grayDiversity(img, { hueBins: 4 }).reward);
  });

  it('adds fidelityWeight · luma PSNR (dB) when the weight is not 0', () => {
    const base = colorfulnessSigned(img);
    expect(colourReward(img, grey, { fidelityWeight: 0 })).toBe(base);
    expect(colourReward(img, grey, { fidelityWeight: 0.5 })).toBeCloseTo(base + 0.5 * lumaPsnr(img, grey), 10);
    expect(lumaPsnr(img, grey)).toBeLessThan(40);
    expect(() => colourReward(img, undefined, { fidelityWeight: 1 })).toThrow(/needs the grey input/);
    expect(() => colourReward(img, grey, { fidelityWeight: Number.NaN })).toThrow(/finite/);
    expect(() => colourTerm(img, 'vivid' as never)).toThrow(/unknown colour reward 'vivid'/);
  });
});
