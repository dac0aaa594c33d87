import * as E from 'fp-ts/Either';
import { Rng } from '@reward-tune/core-model';
import { batchOf, loadImageTable, randomBatches, sequentialBatches } from './batches';

describe('image tables and batches', () => {
  // 5 images of 1×1×3, image i filled with the value i.
  const table = E.getOrElseW(() => {
    throw new Error('load failed');
  })(loadImageTable(['a', 'b', 'c', 'd', 'e'], 1, (i) => E.right(new Float32Array(3).fill(i))));

  it('loads every image in order and reports the first failure', () => {
    expect(Array.from(table.pixels)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    expect(
      loadImageTable(['a', 'b'], 1, (i) =>
        i === 1 ? E.left('b.png: cannot read file') : E.right(new Float32Array(3)),
      ),
    ).toEqual(E.left('b.png: cannot read file'));
    expect(E.isLeft(loadImageTable(['a'], 2, () => E.right(new Float32Array(3))))).toBe(true);
  });

  it('gathers rows into a batch with their examples', () => {
    const b = batchOf(table, [4, 1]);
    expect(b.examples).toEqual(['e', 'b']);
    expect(b.images).toEqual({ data: Float32Array.from([4, 4, 4, 1, 1, 1]), shape: [2, 1, 1, 3] });
  });

  it('draws random batches from the given RNG (same RNG state, same batch) and cuts sequential ones', () => {
    const src = randomBatches(table, 3);
    expect(src(0, Rng.fromSeed(9)).examples).toEqual(src(7, Rng.fromSeed(9)).examples);
    expect(sequentialBatches(table, 2).map((b) => b.examples)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });
});
