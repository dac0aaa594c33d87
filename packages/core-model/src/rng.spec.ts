import { Rng } from './rng';

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = Rng.fromSeed(42),
      b = Rng.fromSeed(42),
      c = Rng.fromSeed(43);
    const xs = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it('resumes exactly from a saved state', () => {
    const a = Rng.fromSeed(7);
    for (let i = 0; i < 10; i++) a.next();
    const resumed = Rng.fromState(a.state());
    expect(Array.from({ length: 20 }, () => resumed.next())).toEqual(Array.from({ length: 20 }, () => a.next()));
  });

  it('draws uniforms in [0,1) with the right mean, and normals with mean 0 and variance 1', () => {
    const r = Rng.fromSeed(1);
    const n = 20000;
    let s = 0,
      s2 = 0,
      mn = 1,
      mx = 0;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      s += u;
      mn = Math.min(mn, u);
      mx = Math.max(mx, u);
    }
    expect(s / n).toBeCloseTo(0.5, 2);
    expect(mn).toBeGreaterThanOrEqual(0);
    expect(mx).toBeLessThan(1);
    s = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(s2 / n).toBeGreaterThan(0.95);
    expect(s2 / n).toBeLessThan(1.05);
  });

  it('shuffles to a permutation', () => {
    const p = Rng.fromSeed(3).shuffle([0, 1, 2, 3, 4, 5, 6, 7]);
    expect([...p].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(p).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
