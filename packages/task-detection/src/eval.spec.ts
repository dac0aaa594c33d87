import { slotScores } from './eval';

describe('slotScores', () => {
  it('likelihood = p(class) × geometric mean of the coordinate probabilities; confidence = p2 / (p1 + p2)', () => {
    // Slot 0: coordinates 0.5, 0.5, 0.25, 0.25 (geometric mean √(0.5·0.25) = 0.353553), class 0.8, confidence
    // probabilities (0.1, 0.3, 0.6). Slot 1: p1 = p2 = 0 (a null slot as the well-formed mask leaves it).
    const lp = [0.5, 0.5, 0.25, 0.25, 0.8, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 1].map(Math.log);
    const s = slotScores(lp, [0.1, 0.3, 0.6, 1, 0, 0], 2);
    expect(s.likelihood[0]).toBeCloseTo(0.8 * 0.353553, 5);
    expect(s.confidence[0]).toBeCloseTo(0.6 / 0.9, 6);
    expect(s.likelihood[1]).toBeCloseTo(0.1 * 0.1, 6);
    expect(s.confidence[1]).toBe(0);
  });

  it('ranks a box whose coordinates the model is unsure of below a confident one of the same class probability', () => {
    const sure = [0.9, 0.9, 0.9, 0.9, 0.5, 1].map(Math.log);
    const unsure = [0.9, 0.2, 0.9, 0.2, 0.5, 1].map(Math.log);
    const s = slotScores([...sure, ...unsure], [0, 0, 1, 0, 0, 1], 2);
    expect(s.likelihood[0]).toBeGreaterThan(s.likelihood[1]);
    expect(s.confidence[0]).toBe(s.confidence[1]);
  });
});
