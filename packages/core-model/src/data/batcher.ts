/**
 * Deterministic batches of example indices: shuffled per epoch from a seed, a fixed batch size, and a position
 * that serialises to JSON so that a resumed run draws exactly the batches the uninterrupted run would have.
 *
 * Epoch e's order is a Fisher–Yates shuffle by `Rng.fromSeed(epochSeed(seed, e))`: it depends only on
 * (seed, e, size), so the position needs no RNG state — just (epoch, offset, step).
 *
 * The last partial batch of an epoch is either dropped (training: every step sees B real examples) or padded
 * (evaluation: every example is seen once; padded slots repeat the batch's first index and are marked invalid,
 * so shapes stay fixed — webgpu compiles a shader per shape).
 */
import * as E from 'fp-ts/Either';
import { Rng } from '../rng';

export type Remainder = 'drop' | 'pad';

export interface BatcherOptions {
  /** Number of examples. */
  readonly size: number;
  readonly batchSize: number;
  readonly seed: number;
  /** Default true; false keeps the dataset order (evaluation). */
  readonly shuffle?: boolean;
  readonly remainder: Remainder;
  /** Stop after this many epochs (`next()` then returns undefined); default: never stop. */
  readonly epochs?: number;
}

/** Where a batcher stands, as saved in a checkpoint. `config` guards against resuming into different data. */
export interface BatcherPosition {
  readonly epoch: number;
  /** Index into the epoch's order of the next example to serve. */
  readonly offset: number;
  /** Batches served so far, over all epochs. */
  readonly step: number;
  readonly config: {
    readonly size: number;
    readonly batchSize: number;
    readonly seed: number;
    readonly shuffle: boolean;
    readonly remainder: Remainder;
  };
}

export interface Batch {
  /** Example indices [B]. Slots ≥ `valid` are padding. */
  readonly indices: Int32Array;
  /** Number of real examples (= B except for a padded last batch). */
  readonly valid: number;
  readonly epoch: number;
  /** 0-based count of this batch over the whole run. */
  readonly step: number;
}

/** Mixes (seed, epoch) into a 32-bit seed; `Rng.fromSeed` then decorrelates nearby values. */
const epochSeed = (seed: number, epoch: number): number =>
  (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca77)) >>> 0;

export class Batcher {
  private epoch = 0;
  private offset = 0;
  private step = 0;
  private order: Int32Array;
  private readonly shuffle: boolean;

  constructor(private readonly options: BatcherOptions) {
    const { size, batchSize, remainder } = options;
    if (!Number.isInteger(size) || size <= 0)
      throw new RangeError(`Batcher: size must be a positive integer, got ${size}`);
    if (!Number.isInteger(batchSize) || batchSize <= 0)
      throw new RangeError(`Batcher: batchSize must be a positive integer, got ${batchSize}`);
    if (remainder === 'drop' && size < batchSize) {
      throw new RangeError(
        `Batcher: ${size} examples never fill a batch of ${batchSize} when the remainder is dropped`,
      );
    }
    this.shuffle = options.shuffle ?? true;
    this.order = this.orderOf(0);
  }

  /** A batcher continuing from a saved position; a Left names the field that does not match these options. */
  static resume(options: BatcherOptions, position: BatcherPosition): E.Either<string, Batcher> {
    const b = new Batcher(options);
    const want = b.position().config;
    for (const k of Object.keys(want) as (keyof BatcherPosition['config'])[]) {
      if (position.config?.[k] !== want[k]) {
        return E.left(
          `batcher position: config.${k}: saved ${JSON.stringify(position.config?.[k])}, now ${JSON.stringify(want[k])}`,
        );
      }
    }
    const { epoch, offset, step } = position;
    if (!Number.isInteger(epoch) || epoch < 0)
      return E.left(`batcher position: epoch: expected an integer ≥ 0, got ${epoch}`);
    if (!Number.isInteger(offset) || offset < 0 || offset >= options.size) {
      return E.left(`batcher position: offset: expected an integer in [0, ${options.size}), got ${offset}`);
    }
    if (!Number.isInteger(step) || step < 0)
      return E.left(`batcher position: step: expected an integer ≥ 0, got ${step}`);
    b.epoch = epoch;
    b.offset = offset;
    b.step = step;
    b.order = b.orderOf(epoch);
    return E.right(b);
  }

  /** Batches per epoch: floor(size / B) when dropping, ceil(size / B) when padding. */
  get batchesPerEpoch(): number {
    const { size, batchSize, remainder } = this.options;
    return remainder === 'drop' ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
  }

  position(): BatcherPosition {
    const { size, batchSize, seed, remainder } = this.options;
    return {
      epoch: this.epoch,
      offset: this.offset,
      step: this.step,
      config: { size, batchSize, seed, shuffle: this.shuffle, remainder },
    };
  }

  /** The next batch, or undefined once `epochs` epochs have been served. */
  next(): Batch | undefined {
    const { size, batchSize, remainder, epochs } = this.options;
    if (epochs !== undefined && this.epoch >= epochs) return undefined;
    const available = size - this.offset;
    const valid = Math.min(batchSize, available);
    const indices = new Int32Array(batchSize);
    indices.set(this.order.subarray(this.offset, this.offset + valid));
    indices.fill(indices[0], valid);
    const batch: Batch = { indices, valid, epoch: this.epoch, step: this.step };
    this.step++;
    this.offset += valid;
    // Start the next epoch when this one is used up, or when what is left cannot fill a batch and is dropped.
    if (this.offset >= size || (remainder === 'drop' && size - this.offset < batchSize)) {
      this.epoch++;
      this.offset = 0;
      this.order = this.orderOf(this.epoch);
    }
    return batch;
  }

  /** The example order of one epoch (exposed for tests and reports). */
  orderOf(epoch: number): Int32Array {
    const idx = Array.from({ length: this.options.size }, (_, i) => i);
    if (this.shuffle) Rng.fromSeed(epochSeed(this.options.seed, epoch)).shuffle(idx);
    return Int32Array.from(idx);
  }
}
