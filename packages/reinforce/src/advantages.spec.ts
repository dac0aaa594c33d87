import { paperAdvantages, rewardToGoAdvantages, rlooAdvantages } from './advantages';

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

  it("rtg: each token's reward to go minus the other samples' at the same position", () => {
    // One input, N = 3 samples, L = 3 tokens; rewards to go: [3, 2, 2], [1, 1, 0], [2, 0, 0].
    const r = Float64Array.from([1, 0, 2, /* sample 1 */ 0, 1, 0, /* sample 2 */ 2, 0, 0]);
    const a = rewardToGoAdvantages(r, 1, 3, 3);
    const expected = [
      3 - 1.5,
      2 - 0.5,
      2 - 0,
      /* sample 1 */ 1 - 2.5,
      1 - 1,
      0 - 1,
      /* sample 2 */ 2 - 2,
      0 - 1.5,
      0 - 1,
    ];
    a.forEach((x, i) => expect(x).toBeCloseTo(expected[i], 12));
    // At the first token the reward to go is the whole reward: rloo's advantages.
    const rloo = rlooAdvantages(Float64Array.from([3, 1, 2]), 1, 3);
    [0, 3, 6].forEach((t, n) => expect(a[t]).toBeCloseTo(rloo[n], 12));
  });

  it('rtg: a discount per step of tokensPerStep tokens, the rewards within a step undiscounted', () => {
    // Two samples, L = 4 tokens in steps of 2, rewards at each step's last token: [0, 1, 0, 2] and [0, 0, 0, 0].
    const r = Float64Array.from([0, 1, 0, 2, /* sample 1 */ 0, 0, 0, 0]);
    const a = rewardToGoAdvantages(r, 1, 2, 4, 0.5, 2);
    // Sample 0's reward to go: 1 + 0.5·2 = 2 at tokens 0 and 1, 2 at tokens 2 and 3; sample 1's is 0.
    expect(Array.from(a)).toEqual([2, 2, 2, 2, -2, -2, -2, -2]);
    expect(Array.from(rewardToGoAdvantages(r, 1, 2, 4, 0, 2))).toEqual([1, 1, 2, 2, -1, -1, -2, -2]);
    expect(() => rewardToGoAdvantages(r, 1, 2, 4, 1.5)).toThrow(/discount must be in \[0, 1\]/);
  });

  it('rejects one sample per input and mis-shaped rewards', () => {
    expect(() => rewardToGoAdvantages(Float64Array.from([1, 2]), 1, 1, 2)).toThrow(/at least 2 samples/);
    expect(() => rewardToGoAdvantages(Float64Array.from([1, 2, 3]), 1, 2, 2)).toThrow(/expected 1×2×2/);
    expect(() => paperAdvantages(Float64Array.from([1, 2]), 2, 1)).toThrow(/at least 2 samples/);
    expect(() => rlooAdvantages(Float64Array.from([1, 2, 3]), 2, 2)).toThrow(/expected 2×2/);
  });
});
