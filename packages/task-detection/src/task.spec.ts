import * as tf from '@tensorflow/tfjs-core';
import { EncoderDecoder, initBackend, modelConfig, Rng } from '@reward-tune/core-model';
import { toExample } from './dataset';
import { encodeBoxes } from './sequence';
import { DetectionTask, tieLowConfidenceInput } from './task';
import { vocabSize } from './tokens';

describe('DetectionTask', () => {
  beforeAll(async () => {
    await initBackend('cpu', { quiet: true }); // registers the gradients the 'boxes' test takes
  });

  const vocab = { bins: 101, numClasses: 3 };
  const task = new DetectionTask({ vocab, maxBoxes: 4, order: 'given', nmsWeight: 0.3, categoryIds: [1, 2, 5] });
  // 100×100 image with two objects: class 0 at x 10..50, y 10..50 and class 2 at x 60..90, y 60..90.
  const ex = toExample({
    id: 7,
    fileName: 'a.png',
    width: 100,
    height: 100,
    annotations: [
      { id: 1, categoryId: 1, label: 0, bbox: [10, 10, 40, 40], area: 1600, iscrowd: false },
      { id: 2, categoryId: 5, label: 2, bbox: [60, 60, 30, 30], area: 900, iscrowd: false },
    ],
  });
  const perfect = task.decode(encodeBoxes(vocab, ex.boxes, 4, 'given'));
  const duplicate = task.decode(encodeBoxes(vocab, [ex.boxes[0], ex.boxes[0]], 4, 'given'));

  it('MLE targets: noise null boxes with their weights; zeros targets unweighted (no targetWeights)', () => {
    expect(task.targetWeights).toBeUndefined();
    const noisy = new DetectionTask({ ...task.opts, nullBoxes: 'noise' });
    const t = noisy.encodeTargets(ex, Rng.fromSeed(1));
    expect(Array.from(t.slice(0, 12))).toEqual(Array.from(encodeBoxes(vocab, ex.boxes, 2, 'given')));
    expect(noisy.decode(t).slots.map((b) => b.conf)).toEqual([2, 2, 0, 0]);
    expect(Array.from(noisy.targetWeights!(ex, t))).toEqual([...Array(12).fill(1), 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
  });

  it('rewards a perfect output with the class-weighted GT count, and penalises a duplicate by 0.3', () => {
    const r = task.reward([perfect, duplicate], ex);
    expect(r.rewards[0]).toBeCloseTo(2, 9);
    // Duplicate sample: one GT matched (1), the second copy penalised (0.3 × 1), the class-2 object missed.
    expect(r.rewards[1]).toBeCloseTo(1 - 0.3, 9);
    expect(Array.from(r.aux![0].correct)).toEqual([2, 2, 0, 0]);
    expect(r.aux![0].matchIou[0]).toBeCloseTo(1, 6); // the reference adds 1e-9 to the IoU denominator
  });

  it("splits the reward over the slots for rtg: each slot's increment at its confidence token", () => {
    const box = (ymin: number, xmin: number, ymax: number, xmax: number, cls: number, conf = 2) => ({
      ymin,
      xmin,
      ymax,
      xmax,
      cls,
      conf,
    });
    const pred = {
      slots: [
        box(0.1, 0.1, 0.5, 0.45, 0), // object 0 at IoU 0.875: matched at 8 of the 10 thresholds (0.5…0.85)
        box(0.1, 0.1, 0.5, 0.5, 0), // object 0 exactly: takes the match, the first box becomes a duplicate at 8
        box(0, 0, 0, 0, 0, 0), // null
        box(0.6, 0.6, 0.9, 0.9, 2), // object 1 exactly
      ],
    };
    const r = task.reward([pred], ex, { tokenRewards: true });
    const expected = new Array(24).fill(0);
    expected[5] = 0.8; // slot 0 alone
    expected[11] = 1 - 0.3 * 0.8 - 0.8; // both: 0.76
    expected[23] = 1; // the second object
    expect(r.tokenRewards).toHaveLength(1);
    r.tokenRewards![0].forEach((x, i) => expect(x).toBeCloseTo(expected[i], 9));
    expect(r.rewards[0]).toBeCloseTo(1.76, 9);
    expect(task.reward([pred], ex).tokenRewards).toBeUndefined(); // only when asked
  });

  it("falsePositiveWeight charges a box on no object in the reward and in its slot's increment", () => {
    const charged = new DetectionTask({ ...task.opts, falsePositiveWeight: 0.25 });
    const box = (ymin: number, xmin: number, ymax: number, xmax: number, cls: number, conf = 2) => ({
      ymin,
      xmin,
      ymax,
      xmax,
      cls,
      conf,
    });
    // Object 0 exactly, then a class-0 box where there is no class-0 object (the class-2 object's place).
    const pred = {
      slots: [box(0.1, 0.1, 0.5, 0.5, 0), box(0.6, 0.6, 0.9, 0.9, 0), box(0, 0, 0, 0, 0, 0), box(0, 0, 0, 0, 0, 0)],
    };
    expect(task.reward([pred], ex).rewards[0]).toBeCloseTo(1, 9);
    const r = charged.reward([pred], ex, { tokenRewards: true });
    expect(r.rewards[0]).toBeCloseTo(1 - 0.25, 9);
    expect(r.tokenRewards![0][5]).toBeCloseTo(1, 9);
    expect(r.tokenRewards![0][11]).toBeCloseTo(-0.25, 9);
  });

  it("values every token of a box slot for the expected estimator: its slot's increment had that token been drawn", () => {
    const formed = new DetectionTask({ ...task.opts, wellFormed: true });
    const box = (ymin: number, xmin: number, ymax: number, xmax: number, cls: number, conf = 2) => ({
      ymin,
      xmin,
      ymax,
      xmax,
      cls,
      conf,
    });
    // Object 0 exactly; a null slot; a class-0 box on the class-2 object; a null slot.
    const pred = {
      slots: [box(0.1, 0.1, 0.5, 0.5, 0), box(0, 0, 0, 0, 0, 0), box(0.6, 0.6, 0.9, 0.9, 0), box(0, 0, 0, 0, 0, 0)],
    };
    const r = formed.reward([pred], ex, { tokenRewards: true, tokenValues: true });
    // Values are float32 (they become a tensor): 6 decimals.
    const V = vocabSize(vocab); // 3 confidence + 101 coordinates (k/100) + 3 classes = 107
    const { values, enumerated } = r.tokenValues![0];
    const at = (slot: number, t: number, token: number) => values[(slot * 6 + t) * V + token];
    expect(Array.from(enumerated)).toEqual([
      ...Array(6).fill(1),
      ...Array(6).fill(0),
      ...Array(6).fill(1),
      ...Array(6).fill(0),
    ]);
    // Slot 0's ymin: 0 ends the slot (worth 0); 0.1 is the object (1); 0.15 gives IoU 0.14/0.16 = 0.875, matched at
    // 8 of the 10 thresholds (0.8); 0.3 gives IoU 0.5, matched at none.
    expect(at(0, 0, 0)).toBe(0);
    expect(at(0, 0, 3 + 10)).toBeCloseTo(1, 6);
    expect(at(0, 0, 3 + 15)).toBeCloseTo(0.8, 6);
    expect(at(0, 0, 3 + 30)).toBeCloseTo(0, 6);
    // Its class: only class 0 pays. Its confidence: 1 and 2 both keep the box.
    expect([0, 1, 2].map((c) => at(0, 4, 104 + c))).toEqual([1, 0, 0]);
    expect([at(0, 5, 1), at(0, 5, 2)]).toEqual([1, 1]);
    // Slot 2 as drawn is worth nothing (wrong class); as class 2 it finds the second object.
    expect([0, 1, 2].map((c) => at(2, 4, 104 + c))).toEqual([0, 0, 1]);
    expect(at(2, 0, 3 + 60)).toBe(0);
    // The drawn tokens' values are the slot increments rtg uses.
    expect(at(0, 5, 2)).toBeCloseTo(r.tokenRewards![0][5], 6);
    expect(r.tokenValues).toHaveLength(1);
    expect(formed.reward([pred], ex).tokenValues).toBeUndefined(); // only when asked

    // `noise` layout: every slot draws a box and its confidence decides. A null slot's box tokens are worth nothing
    // (it stays null); its confidence token is worth the box it would add.
    const noisy = new DetectionTask({ ...task.opts, nullBoxes: 'noise' });
    const hidden = {
      slots: [box(0.1, 0.1, 0.5, 0.5, 0), box(0.6, 0.6, 0.9, 0.9, 2, 0), box(0, 0, 0, 0, 0, 0), box(0, 0, 0, 0, 0, 0)],
    };
    const n = noisy.reward([hidden], ex, { tokenValues: true }).tokenValues![0];
    expect(Array.from(n.enumerated)).toEqual(Array(24).fill(1));
    const nat = (slot: number, t: number, token: number) => n.values[(slot * 6 + t) * V + token];
    expect([nat(1, 5, 0), nat(1, 5, 1), nat(1, 5, 2)]).toEqual([0, 1, 1]);
    expect(nat(1, 0, 3 + 60)).toBe(0);
    expect(nat(1, 4, 104 + 2)).toBe(0);
  });

  it('evaluates COCO mAP: a perfect output scores AP 1 and AR100 1, with its box count', () => {
    const m = task.evaluate([perfect], [ex]);
    expect(m.AP).toBeCloseTo(1, 12);
    expect(m.AR100).toBeCloseTo(1, 12);
    expect(m.boxes_per_image).toBe(2);
    const half = task.evaluate([duplicate], [ex]);
    expect(half.AR100).toBeCloseTo(0.5, 12);
  });

  /**
   * One row of 4 slots: a box matched at IoU 0.8, an unmatched box, two null slots; at every position
   * log p = [log .5, log .3, log .2, then small] (values need not normalise here).
   */
  function confCase() {
    const V = vocabSize(vocab);
    const L = 4 * 6;
    const lp = new Float32Array(L * V).fill(-9);
    for (let p = 0; p < L; p++) lp.set([Math.log(0.5), Math.log(0.3), Math.log(0.2)], p * V);
    return {
      V,
      logProbs: tf.tensor3d(lp, [1, L, V]),
      sampled: tf.zeros([1, L], 'int32') as tf.Tensor2D,
      aux: [{ correct: Uint8Array.from([2, 1, 0, 0]), matchIou: Float64Array.from([0.8, 0, 0, 0]) }],
    };
  }

  it('confidence loss: cross-entropy of the conf-slot log-probs against (1,0,0) / (0, 1−IoU, IoU)', () => {
    const { logProbs, sampled, aux } = confCase();
    const loss = task.auxLoss(logProbs, sampled, aux);
    // Slot 0: −(0.2·log .3 + 0.8·log .2); slot 1 (unmatched box): −log .3; slots 2, 3 (null): −log .5 each.
    const expected = (-(0.2 * Math.log(0.3) + 0.8 * Math.log(0.2)) - Math.log(0.3) - 2 * Math.log(0.5)) / 4;
    expect(loss.dataSync()[0]).toBeCloseTo(expected, 5);
  });

  it("before tuning, the low-confidence token takes the high one's input embedding; nothing else changes", async () => {
    const model = EncoderDecoder.create(
      modelConfig({ variant: 'mu', imageSize: [16, 16], vocabSize: 12, length: 6 }),
      0,
    );
    const name = 'decoder/EmbedTargets/embedding';
    const before = (await model.params.get(name)!.array()) as number[][];
    const other = (await model.params.get('decoder/head/kernel')!.data()).slice();
    expect(before[1]).not.toEqual(before[2]);
    tieLowConfidenceInput(model);
    const after = (await model.params.get(name)!.array()) as number[][];
    expect(after[1]).toEqual(before[2]);
    after.forEach((row, i) => (i === 1 ? undefined : expect(row).toEqual(before[i])));
    expect(await model.params.get('decoder/head/kernel')!.data()).toEqual(other);
    model.dispose();
  });

  it("confidence loss 'boxes': box slots only, over {1, 2} renormalised, and no gradient to p(0)", () => {
    const boxes = new DetectionTask({ ...task.opts, confLoss: 'boxes' });
    const { V, logProbs, sampled, aux } = confCase();
    const loss = boxes.auxLoss(logProbs, sampled, aux);
    // Slot 0: −(0.2·log(.3/.5) + 0.8·log(.2/.5)); slot 1 (unmatched box): −log(.3/.5); null slots add nothing.
    const expected = (-(0.2 * Math.log(0.3 / 0.5) + 0.8 * Math.log(0.2 / 0.5)) - Math.log(0.3 / 0.5)) / 4;
    expect(loss.dataSync()[0]).toBeCloseTo(expected, 5);
    const g = tf
      .grad((x: tf.Tensor) => boxes.auxLoss(x as tf.Tensor3D, sampled, aux))(logProbs)
      .dataSync();
    for (let s = 0; s < 4; s++) expect(g[(s * 6 + 5) * V]).toBe(0); // log p(0) at each confidence position
    expect(Math.abs(g[5 * V + 2])).toBeGreaterThan(0);
  });
});
