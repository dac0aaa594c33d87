import { toExample } from './dataset';
import { oracleScores, slotScores } from './eval';
import { DetectionTask } from './task';

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

describe('oracleScores', () => {
  it('ranks boxes by their IoU with their object, the likelihood breaking ties below 0.5', () => {
    // A junk box the model is sure of, a good box it is not, a fair one, and another junk box.
    const s = oracleScores([0, 0.9, 0.6, 0], [0.95, 0.05, 0.5, 0.2]);
    expect(Array.from(s.keys()).sort((a, b) => s[b] - s[a])).toEqual([1, 2, 0, 3]);
  });

  it('gives AP 1 to a set of boxes whose only miss the likelihood ranked first', () => {
    const task = new DetectionTask({
      vocab: { bins: 100, numClasses: 1 },
      maxBoxes: 2,
      order: 'given',
      nmsWeight: 0.3,
      categoryIds: [1],
    });
    const ex = toExample({
      id: 1,
      fileName: 'a.png',
      width: 100,
      height: 100,
      annotations: [{ id: 1, categoryId: 1, label: 0, bbox: [10, 10, 40, 40], area: 1600, iscrowd: false }],
    });
    const slots = [
      { ymin: 0.6, xmin: 0.6, ymax: 0.9, xmax: 0.9, cls: 0, conf: 2 }, // no object there
      { ymin: 0.1, xmin: 0.1, ymax: 0.5, xmax: 0.5, cls: 0, conf: 2 }, // the object
    ];
    const likelihood = Float32Array.from([0.9, 0.1]);
    const r = task.reward([{ slots }], ex);
    expect(task.evaluate([{ slots, scores: likelihood }], [ex]).AP).toBeCloseTo(0.5, 6);
    expect(task.evaluate([{ slots, scores: oracleScores(r.aux![0].matchIou, likelihood) }], [ex]).AP).toBeCloseTo(1, 6);
  });
});
