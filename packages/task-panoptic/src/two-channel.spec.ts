import { panopticFromLogits } from './two-channel';

describe('panopticFromLogits', () => {
  it('gives every pixel of an instance the class with the largest summed logit', () => {
    // 1×3 image, 2 classes, 2 instances. Pixels 0,1 → instance 0; pixel 2 → instance 1.
    // Instance 0: pixel 0 votes class 1 strongly (5), pixel 1 votes class 0 weakly (1) → class 1 for both.
    const sem = Float32Array.from([0, 5, 1, 0, 3, 0]);
    const ins = Float32Array.from([2, 0, 2, 1, 0, 4]);
    const m = panopticFromLogits(1, 3, sem, 2, ins, 2);
    expect(Array.from(m.instances)).toEqual([0, 0, 1]);
    expect(Array.from(m.semantics)).toEqual([1, 1, 0]);
  });

  it('rejects logits of the wrong size', () => {
    expect(() => panopticFromLogits(2, 2, new Float32Array(8), 2, new Float32Array(4), 2)).toThrow(RangeError);
  });
});
