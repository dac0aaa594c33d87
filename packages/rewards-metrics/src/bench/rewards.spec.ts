// The per-sample bench cases exercise what they claim to (matches and misses), so their timings mean something.
import { detectionReward } from '../detection-reward';
import { imagePq } from '../panoptic-quality';
import { detectionRewardCase, microseconds, panopticCase } from './rewards';

describe('per-sample bench cases', () => {
  it('the detection case has 100 slots per sample, some null, and matches some but not all 20 GT boxes', () => {
    const { gt, preds } = detectionRewardCase();
    expect(preds.every((p) => p.classes.length === 100)).toBe(true);
    const r = detectionReward(preds[0], gt);
    expect(r.correct.some((c) => c === 0) && r.correct.some((c) => c === 2)).toBe(true);
    expect(r.reward).toBeGreaterThan(0);
    expect(r.perThreshold.numMatches[0]).toBeGreaterThan(0);
    expect(r.perThreshold.numMatches[0]).toBeLessThan(20);
  });

  it('the panoptic case has matches and misses: per-image PQ strictly between 0 and 1', () => {
    const { gt, pred, categories } = panopticCase(128);
    const pq = imagePq(gt, pred, categories);
    expect(pq).toBeGreaterThan(0.1);
    expect(pq).toBeLessThan(0.95);
  });

  it('microseconds reports a positive median per call', () => {
    let calls = 0;
    expect(microseconds(() => calls++, 100, 10)).toBeGreaterThan(0);
    expect(calls).toBe(200); // 100 warm-up + 100 timed
  });
});
