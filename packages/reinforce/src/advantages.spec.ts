import { paperAdvantages, rlooAdvantages } from './advantages';

describe('advantages', () => {
  const rewards = Float64Array.from([1, 0, 2, 3, /* row 2 */ 5, 5, 5, 5]);

  it('paper: sample 0 minus the mean of the other N−1', () => {
    expect(Array.from(paperAdvantages(rewards, 2, 4))).toEqual([1 - 5 / 3, 0]);
  });

  it('rloo: each sample minus the mean of the others, summing to N/(N−1) × centred rewards', () => {
    const a = rlooAdvantages(rewards, 2, 4);
    // Row 1 has mean 1.5, so the advantages are 4/3 × (r − 1.5).
    const expected = [1, 0, 2, 3].map((r) => (4 / 3) * (r - 1.5));
    a.slice(0, 4).forEach((x, i) => expect(x).toBeCloseTo(expected[i], 12));
    expect(Array.from(a.slice(4))).toEqual([0, 0, 0, 0]);
  });

  it('rejects one sample per input and mis-shaped rewards', () => {
    expect(() => paperAdvantages(Float64Array.from([1, 2]), 2, 1)).toThrow(/at least 2 samples/);
    expect(() => rlooAdvantages(Float64Array.from([1, 2, 3]), 2, 2)).toThrow(/expected 2×2/);
  });
});
