import { toGrayRgb } from './grayscale';

describe('toGrayRgb', () => {
  it('applies BT.601 luma and replicates it to three equal channels', () => {
    const out = toGrayRgb(Float32Array.from([1, 0, 0, 0, 1, 0, 0.5, 0.5, 0.5]));
    expect(out[0]).toBeCloseTo(0.2989, 6);
    expect(out[1]).toBe(out[0]);
    expect(out[4]).toBeCloseTo(0.587, 6);
    // A grey pixel keeps its value (the weights sum to 0.9999).
    expect(out[6]).toBeCloseTo(0.5 * 0.9999, 6);
  });
});
