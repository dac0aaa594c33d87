/**
 * A split's images held in memory at the model's size, and the batches the loops draw from it. Shared by every task
 * whose data fits in memory (the CPU demos); a task with more data implements `BatchSource` over its own storage.
 *
 * Dimension legend: N images, B batch, S×S×3 image.
 */
import * as E from 'fp-ts/Either';
import type { Rng } from '@reward-tune/core-model';
import type { Batch, BatchSource } from './task';

/** N examples and their images, [N, S, S, 3] in [−1, 1]. */
export interface ImageTable<E> {
  readonly examples: readonly E[];
  readonly size: number;
  readonly pixels: Float32Array;
}

/** Loads each example's image (`load(i)` → [S·S·3] pixels) into one table; the first failure is returned. */
export function loadImageTable<E>(
  examples: readonly E[],
  size: number,
  load: (index: number) => E.Either<string, Float32Array>,
  onImage?: (done: number, total: number) => void,
): E.Either<string, ImageTable<E>> {
  const per = size * size * 3;
  const pixels = new Float32Array(examples.length * per);
  for (let i = 0; i < examples.length; i++) {
    const img = load(i);
    if (E.isLeft(img)) return img;
    if (img.right.length !== per) return E.left(`image ${i}: ${img.right.length} values, expected ${size}×${size}×3`);
    pixels.set(img.right, i * per);
    onImage?.(i + 1, examples.length);
  }
  return E.right({ examples, size, pixels });
}

/** Rows `indices` of a table as a batch. */
export function batchOf<E>(table: ImageTable<E>, indices: ArrayLike<number>): Batch<E> {
  const per = table.size * table.size * 3;
  const data = new Float32Array(indices.length * per);
  const examples: E[] = [];
  for (let i = 0; i < indices.length; i++) {
    data.set(table.pixels.subarray(indices[i] * per, (indices[i] + 1) * per), i * per);
    examples.push(table.examples[indices[i]]);
  }
  return { images: { data, shape: [indices.length, table.size, table.size, 3] }, examples };
}

/** Training batches drawn uniformly with replacement from the loop's RNG (so a resumed run draws the same). */
export function randomBatches<E>(table: ImageTable<E>, batchSize: number): BatchSource<E> {
  return (_step: number, rng: Rng) => batchOf(table, randomIndices(batchSize, table.examples.length, rng));
}

/** The rows `randomBatches` draws: `count` indices in [0, size), uniformly with replacement. */
export function randomIndices(count: number, size: number, rng: Rng): number[] {
  return Array.from({ length: count }, () => rng.int(size));
}

/** A table cut into consecutive batches (the last one may be smaller). */
export function sequentialBatches<E>(table: ImageTable<E>, batchSize: number): Batch<E>[] {
  const out: Batch<E>[] = [];
  for (let s = 0; s < table.examples.length; s += batchSize) {
    const n = Math.min(batchSize, table.examples.length - s);
    out.push(
      batchOf(
        table,
        Array.from({ length: n }, (_, i) => s + i),
      ),
    );
  }
  return out;
}
