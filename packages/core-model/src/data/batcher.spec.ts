import * as E from 'fp-ts/Either';
import { Batcher, type Batch, type BatcherOptions, type BatcherPosition } from './batcher';

const take = (b: Batcher, n: number): Batch[] =>
  Array.from({ length: n }, () => b.next()).filter((x): x is Batch => x !== undefined);
const plain = (bs: Batch[]) => bs.map((b) => ({ ...b, indices: Array.from(b.indices) }));

describe('Batcher', () => {
  const opts: BatcherOptions = { size: 10, batchSize: 3, seed: 42, remainder: 'drop' };

  it('is deterministic for a seed and differs across seeds', () => {
    expect(plain(take(new Batcher(opts), 12))).toEqual(plain(take(new Batcher(opts), 12)));
    expect(plain(take(new Batcher({ ...opts, seed: 43 }), 3))).not.toEqual(plain(take(new Batcher(opts), 3)));
  });

  it('drops the remainder: 3 full batches per epoch of distinct examples, a fresh order each epoch', () => {
    const b = new Batcher(opts);
    expect(b.batchesPerEpoch).toBe(3);
    const batches = take(b, 6);
    expect(batches.map((x) => [x.epoch, x.step, x.valid])).toEqual([
      [0, 0, 3],
      [0, 1, 3],
      [0, 2, 3],
      [1, 3, 3],
      [1, 4, 3],
      [1, 5, 3],
    ]);
    for (const epoch of [0, 1]) {
      const seen = batches.filter((x) => x.epoch === epoch).flatMap((x) => Array.from(x.indices));
      expect(new Set(seen).size).toBe(9);
      expect(seen).toEqual(Array.from(b.orderOf(epoch).subarray(0, 9)));
    }
    const e0 = Array.from(b.orderOf(0));
    expect([...e0].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(b.orderOf(1))).not.toEqual(e0);
  });

  it('pads the last batch (repeating its first index) and stops after the requested epochs', () => {
    const b = new Batcher({ size: 5, batchSize: 2, seed: 0, shuffle: false, remainder: 'pad', epochs: 1 });
    expect(b.batchesPerEpoch).toBe(3);
    expect(plain(take(b, 5))).toEqual([
      { indices: [0, 1], valid: 2, epoch: 0, step: 0 },
      { indices: [2, 3], valid: 2, epoch: 0, step: 1 },
      { indices: [4, 4], valid: 1, epoch: 0, step: 2 },
    ]);
    expect(b.next()).toBeUndefined();
  });

  it('resumes from a JSON-serialised position with the same batches as an uninterrupted run', () => {
    const full = plain(take(new Batcher(opts), 10));
    const first = new Batcher(opts);
    take(first, 4); // into epoch 1
    const saved = JSON.parse(JSON.stringify(first.position())) as BatcherPosition;
    expect(saved).toMatchObject({ epoch: 1, offset: 3, step: 4 });
    const resumed = Batcher.resume(opts, saved);
    if (E.isLeft(resumed)) throw new Error(resumed.left);
    expect(plain(take(resumed.right, 6))).toEqual(full.slice(4));
  });

  it('refuses a position saved for different data or settings, naming the field', () => {
    const saved = new Batcher(opts).position();
    expect(Batcher.resume({ ...opts, size: 11 }, saved)).toEqual(
      E.left('batcher position: config.size: saved 10, now 11'),
    );
    expect(Batcher.resume({ ...opts, remainder: 'pad' }, saved)).toEqual(
      E.left('batcher position: config.remainder: saved "drop", now "pad"'),
    );
    expect(Batcher.resume(opts, { ...saved, offset: 10 })).toEqual(
      E.left('batcher position: offset: expected an integer in [0, 10), got 10'),
    );
  });

  it('rejects impossible settings (programmer errors)', () => {
    expect(() => new Batcher({ ...opts, size: 2 })).toThrow(RangeError);
    expect(() => new Batcher({ ...opts, batchSize: 0 })).toThrow(RangeError);
  });
});
