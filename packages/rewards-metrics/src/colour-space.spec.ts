import {
  D65_WHITE,
  labPixels,
  labToSrgb,
  linearRgbToXyz,
  linearToSrgb,
  rgbToYcbcr,
  SRGB_TO_XYZ,
  srgbToLab,
  srgbToLinear,
  xyzToLinearRgb,
  ycbcrToRgb,
  type Triple,
} from './colour-space';

const expectNear = (got: readonly number[], want: readonly number[], tol: number): void => {
  expect(got).toHaveLength(want.length);
  got.forEach((g, i) => {
    if (!(Math.abs(g - want[i]) <= tol))
      throw new Error(`component ${i}: got ${g}, want ${want[i]} ± ${tol} (${got} vs ${want})`);
  });
};

describe('sRGB transfer function (IEC 61966-2-1)', () => {
  it('matches the standard values and is continuous at the knee', () => {
    expect(srgbToLinear(0)).toBe(0);
    expect(srgbToLinear(1)).toBeCloseTo(1, 15);
    // ((0.5 + 0.055) / 1.055)^2.4 = 0.214041…
    expect(srgbToLinear(0.5)).toBeCloseTo(0.2140411, 7);
    expect(srgbToLinear(0.04045)).toBeCloseTo(0.04045 / 12.92, 12);
    expect(srgbToLinear(0.0404501)).toBeCloseTo(0.04045 / 12.92, 7);
    expect(linearToSrgb(0.0031308)).toBeCloseTo(0.04045, 6);
    for (const c of [0, 0.001, 0.02, 0.3, 0.77, 1]) expect(linearToSrgb(srgbToLinear(c))).toBeCloseTo(c, 12);
  });
});

describe('XYZ and L*a*b* (D65)', () => {
  it('maps the primaries to the columns of the sRGB matrix and white to D65', () => {
    expectNear(linearRgbToXyz(1, 0, 0), [0.4124564, 0.2126729, 0.0193339], 1e-12);
    expectNear(linearRgbToXyz(0, 0, 1), [0.1804375, 0.072175, 0.9503041], 1e-12);
    expectNear(D65_WHITE, [0.95047, 1, 1.08883], 2e-7);
    expectNear(xyzToLinearRgb(...linearRgbToXyz(0.2, 0.5, 0.9)), [0.2, 0.5, 0.9], 1e-12);
    expect(SRGB_TO_XYZ).toHaveLength(3);
  });

  it('gives the published Lab of the primaries, white, black and mid grey', () => {
    const golden: [Triple, Triple][] = [
      [
        [1, 0, 0],
        [53.24, 80.09, 67.2],
      ],
      [
        [0, 1, 0],
        [87.73, -86.18, 83.18],
      ],
      [
        [0, 0, 1],
        [32.3, 79.19, -107.86],
      ],
      [
        [1, 1, 1],
        [100, 0, 0],
      ],
      [
        [0, 0, 0],
        [0, 0, 0],
      ],
      // sRGB 0.5 → Y = 0.214041 → L* = 116·∛Y − 16 = 53.389
      [
        [0.5, 0.5, 0.5],
        [53.389, 0, 0],
      ],
    ];
    for (const [rgb, lab] of golden) expectNear(srgbToLab(...rgb), lab, 0.01);
  });

  it('uses the linear piece below ε: L* = κ·Y for a very dark grey', () => {
    // Linear 0.001 is sRGB 0.01292; Y = 0.001 < 216/24389, so L* = 24389/27 · 0.001 = 0.90330.
    expectNear(srgbToLab(0.01292, 0.01292, 0.01292), [0.9033, 0, 0], 1e-4);
  });

  it('every grey has a* = b* = 0', () => {
    for (const v of [0.003, 0.1, 0.42, 0.9]) {
      const [, a, b] = srgbToLab(v, v, v);
      expect(Math.abs(a)).toBeLessThan(1e-9);
      expect(Math.abs(b)).toBeLessThan(1e-9);
    }
  });

  it('round-trips sRGB → Lab → sRGB, both branches of f', () => {
    for (const c of [
      [0.2, 0.5, 0.9],
      [0.01, 0.02, 0.005],
      [1, 0, 0.3],
      [0.6, 0.6, 0.61],
    ] as Triple[]) {
      expectNear(labToSrgb(...srgbToLab(...c)), c, 1e-9);
    }
  });
});

describe('YCbCr (BT.601 full range)', () => {
  it('gives the JFIF values of the primaries and white', () => {
    expectNear(rgbToYcbcr(1, 0, 0), [0.299, -0.168736, 0.5], 1e-6);
    expectNear(rgbToYcbcr(0, 1, 0), [0.587, -0.331264, -0.418688], 1e-6);
    expectNear(rgbToYcbcr(0, 0, 1), [0.114, 0.5, -0.081312], 1e-6);
    expectNear(rgbToYcbcr(1, 1, 1), [1, 0, 0], 1e-12);
  });

  it('round-trips', () => {
    for (const c of [
      [0.2, 0.5, 0.9],
      [1, 0, 0.3],
      [0.4, 0.4, 0.4],
    ] as Triple[])
      expectNear(ycbcrToRgb(...rgbToYcbcr(...c)), c, 1e-12);
    // R = Y + 1.402 Cr, B = Y + 1.772 Cb (the usual inverse).
    expectNear(
      ycbcrToRgb(0.5, 0.1, -0.1),
      [0.5 - 0.1402, 0.5 + (0.299 * 0.1402 - 0.114 * 0.1772) / 0.587, 0.5 + 0.1772],
      1e-12,
    );
  });
});

describe('labPixels', () => {
  it('reads [−1, 1] data, clips it, and keeps the layout', () => {
    const lab = labPixels(Float32Array.from([-1, -1, -1, 1, -1, -1, 1.5, 1.5, 1.5]));
    expectNear(Array.from(lab.subarray(0, 3)), [0, 0, 0], 1e-9);
    expectNear(Array.from(lab.subarray(3, 6)), [53.24, 80.09, 67.2], 0.01);
    expectNear(Array.from(lab.subarray(6, 9)), [100, 0, 0], 1e-9);
  });

  it('reads byte and unit data the same way', () => {
    expect(Array.from(labPixels([255, 0, 0], 'byte'))).toEqual(Array.from(labPixels([1, 0, 0], 'unit')));
  });

  it('rejects data that is not RGB', () => {
    expect(() => labPixels([1, 2])).toThrow(/multiple of 3/);
    expect(() => labPixels([])).toThrow(/multiple of 3/);
  });
});
