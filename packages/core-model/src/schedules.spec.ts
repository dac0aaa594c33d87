import { scheduleMultiplier } from './schedules';

describe('scheduleMultiplier', () => {
  it('ramps linearly during warmup', () => {
    const s = { kind: 'constant', warmupSteps: 4 } as const;
    expect([0, 1, 2, 4, 100].map((t) => scheduleMultiplier(s, t))).toEqual([0, 0.25, 0.5, 1, 1]);
  });

  it('follows a half cosine from the end of warmup to the last step', () => {
    const s = { kind: 'cosine', warmupSteps: 10, totalSteps: 110 } as const;
    expect(scheduleMultiplier(s, 10)).toBeCloseTo(1, 15);
    expect(scheduleMultiplier(s, 60)).toBeCloseTo(0.5, 15);
    expect(scheduleMultiplier(s, 85)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI * 0.75)), 15);
    expect(scheduleMultiplier(s, 110)).toBeCloseTo(0, 15);
    expect(scheduleMultiplier(s, 500)).toBeCloseTo(0, 15);
  });

  it('decays as an inverse square root after warmup', () => {
    const s = { kind: 'rsqrt', warmupSteps: 0, timescale: 100 } as const;
    expect(scheduleMultiplier(s, 0)).toBe(1);
    expect(scheduleMultiplier(s, 300)).toBeCloseTo(0.5, 15);
  });
});
