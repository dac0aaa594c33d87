import { allowedAt, Rng, slotMask } from '@reward-tune/core-model';
import { decodeBoxes, encodeBoxes, nullSlotWeights, slotTokenSets, wellFormedSlots } from './sequence';
import { vocabSize } from './tokens';

describe('detection sequences', () => {
  const v = { bins: 65, numClasses: 9 };
  const boxes = [
    { ymin: 0.1, xmin: 0.2, ymax: 0.5, xmax: 0.6, cls: 3 },
    { ymin: 0, xmin: 0, ymax: 1, xmax: 1, cls: 0 },
    { ymin: 0.5, xmin: 0.5, ymax: 0.75, xmax: 0.625, cls: 8 },
  ];

  it('encodes boxes in the given order with conf 2, then all-zero null slots, and decodes back', () => {
    const seq = encodeBoxes(v, boxes, 4, 'given');
    expect(seq.length).toBe(24);
    expect(Array.from(seq.slice(0, 6))).toEqual([3 + 6, 3 + 13, 3 + 32, 3 + 38, 3 + 65 + 3, 2]);
    expect(Array.from(seq.slice(18))).toEqual([0, 0, 0, 0, 0, 0]);
    const dec = decodeBoxes(v, seq);
    expect(dec.map((b) => b.conf)).toEqual([2, 2, 2, 0]);
    expect(dec[2]).toEqual({ ...boxes[2], conf: 2 });
  });

  it('orders by area (largest first) or at random, and keeps at most maxBoxes', () => {
    const byArea = decodeBoxes(v, encodeBoxes(v, boxes, 2, 'area'));
    expect(byArea.map((b) => b.cls)).toEqual([0, 3]);
    const orders = new Set<string>();
    const rng = Rng.fromSeed(5);
    for (let i = 0; i < 30; i++)
      orders.add(
        decodeBoxes(v, encodeBoxes(v, boxes, 3, 'random', rng))
          .map((b) => b.cls)
          .join(),
      );
    expect(orders.size).toBe(6);
  });

  it('lets each position emit its own kind of token and the null token 0', () => {
    const sets = slotTokenSets(v);
    expect(sets).toHaveLength(6);
    expect(sets[0]).toHaveLength(vocabSize(v));
    const allowed = (p: number): number[] => [...sets[p % 6]].flatMap((x, t) => (x ? [t] : []));
    expect(allowed(0)).toEqual([0, ...Array.from({ length: 65 }, (_, i) => i + 3)]);
    expect(allowed(4)).toEqual([0, ...Array.from({ length: 9 }, (_, i) => i + 68)]);
    expect(allowed(5)).toEqual([0, 1, 2]);
    expect(allowed(11)).toEqual([0, 1, 2]);
  });

  it('well-formed slots: after a 0 the slot stays null, after a coordinate no 0 (so a box keeps conf 1 or 2)', () => {
    const V = vocabSize(v);
    const procs = [slotMask(slotTokenSets(v)), wellFormedSlots(v)];
    const seq = encodeBoxes(v, boxes, 4, 'given'); // 3 boxes, then one null slot
    const rows = 1;
    const at = (position: number): Uint8Array =>
      allowedAt(procs, { position, rows, length: 24, vocabSize: V, tokens: seq })!;
    // Every target token stays allowed: MLE targets are well-formed.
    for (let p = 0; p < 24; p++) expect(at(p)[seq[p]]).toBe(1);
    expect(at(0)[0]).toBe(1); // a slot may start null …
    expect(at(5)[0]).toBe(0); // … but a box's confidence cannot be 0
    expect([at(5)[1], at(5)[2]]).toEqual([1, 1]);
    const nullConf = at(23); // the null slot: only 0
    expect(nullConf.reduce((n, x) => n + x, 0)).toBe(1);
    expect(nullConf[0]).toBe(1);
  });

  it('noise null boxes: random boxes of random classes with confidence 0, unweighted but for that 0, all allowed by the mask', () => {
    const rng = Rng.fromSeed(3);
    const seq = encodeBoxes(v, boxes, 5, 'given', rng, 'noise');
    const dec = decodeBoxes(v, seq);
    expect(dec.map((b) => b.conf)).toEqual([2, 2, 2, 0, 0]);
    expect(Array.from(seq.slice(0, 18))).toEqual(Array.from(encodeBoxes(v, boxes, 3, 'given'))); // the objects as ever
    for (const b of dec.slice(3)) {
      expect(b.ymin).toBeLessThanOrEqual(b.ymax);
      expect(b.xmin).toBeLessThanOrEqual(b.xmax);
    }
    // Not the same noise twice, and no 0 but the null slots' confidence tokens.
    expect(Array.from(seq.slice(18, 24))).not.toEqual(Array.from(seq.slice(24, 30)));
    expect([...seq].flatMap((t, i) => (t === 0 ? [i] : []))).toEqual([23, 29]);
    expect(Array.from(nullSlotWeights(seq))).toEqual([...Array(18).fill(1), 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    const sets = slotTokenSets(v, 'noise');
    for (let p = 0; p < seq.length; p++) expect(sets[p % 6][seq[p]]).toBe(1);
    expect([0, 1, 2, 3, 4].map((k) => sets[k][0])).toEqual([0, 0, 0, 0, 0]);
    expect(sets[5][0]).toBe(1);
    expect(() => encodeBoxes(v, boxes, 5, 'given', undefined, 'noise')).toThrow(/need an Rng/);
  });
});
