import { lumaOf, lumaPsnr, meanPsnr, psnr, psnrFromMse, PSNR_CAP_DB, TF_GRAYSCALE_WEIGHTS } from './psnr';

const db = (mse: number): number => 20 * Math.log10(2) - 10 * Math.log10(mse);

describe('psnr (big_vision formula on [−1, 1])', () => {
  it('is 20·log10(2) − 10·log10(MSE)', () => {
    // A constant error of 0.1: MSE 0.01 → 6.0206 + 20 = 26.0206 dB.
    const t = Float32Array.from([-1, 0, 0.5, 1, 0.2, -0.3]);
    const p = t.map((v) => v + 0.1);
    expect(psnr(p, t)).toBeCloseTo(26.0206, 3);
    expect(psnr(p, t)).toBeCloseTo(db(0.01), 4);
    expect(psnr([0, 0], [255, 255], { dataRange: 255 })).toBeCloseTo(0, 12);
  });

  it('caps an exact copy at PSNR_CAP_DB instead of +∞', () => {
    expect(psnr([0.5, -0.5, 1], [0.5, -0.5, 1])).toBe(PSNR_CAP_DB);
    expect(psnrFromMse(0)).toBe(100);
    expect(psnrFromMse(1e-30)).toBe(100);
    expect(() => psnrFromMse(-1)).toThrow(/≥ 0/);
  });

  it('averages per-image PSNRs (not one pooled MSE)', () => {
    const t = [new Float32Array(3), new Float32Array(3)];
    const p = [Float32Array.from([0.1, 0.1, 0.1]), Float32Array.from([0.01, 0.01, 0.01])];
    expect(meanPsnr(p, t)).toBeCloseTo((db(0.01) + db(0.0001)) / 2, 4);
    expect(meanPsnr(p, t)).not.toBeCloseTo(db((0.01 + 0.0001) / 2), 1);
    expect(() => meanPsnr(p, t.slice(1))).toThrow(/1 targets/);
    expect(() => psnr([1, 2], [1])).toThrow(/2 values vs 1/);
  });
});

describe('lumaPsnr (faithfulness to the grey input)', () => {
  it('uses the luma weights of tf.image.rgb_to_grayscale', () => {
    expect(TF_GRAYSCALE_WEIGHTS).toEqual([0.2989, 0.587, 0.114]);
    expect(lumaOf([1, 0, 0, 0, 1, 0, 0, 0, 1])).toEqual(Float64Array.from([0.2989, 0.587, 0.114]));
  });

  it('is capped for a colour image whose luma is the input, and follows the luma error otherwise', () => {
    const colour = [0.5, -0.2, 0.1, -0.8, 0.3, 0.9];
    const y = lumaOf(colour);
    const grey = [y[0], y[0], y[0], y[1], y[1], y[1]];
    expect(lumaPsnr(colour, grey)).toBe(PSNR_CAP_DB);
    // Shift the input luma by 0.1 everywhere: luma MSE 0.01.
    const shifted = grey.map((v) => v + 0.1);
    expect(lumaPsnr(colour, shifted)).toBeCloseTo(db(0.01), 4);
    expect(() => lumaPsnr(colour, grey.slice(3))).toThrow(/6 values vs 3/);
  });
});
