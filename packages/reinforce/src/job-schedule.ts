/**
 * How a tuning run whose samples are drawn elsewhere (the sampling processes of sampler-process.ts, the actors of
 * @reward-tune/distributed) cuts its updates into jobs: update k's `train` images (drawn with the per-job RNG, as
 * tune's own loop draws them with `tune.seedDerivation=per-job`), its parts of `microBatch` images with their seeds,
 * and the weight version it samples with, max(0, k − S). One place, so that every way of sampling gives the same
 * updates.
 */
import type { Rng, RngState } from '@reward-tune/core-model';
import { randomIndices } from './batches';
import { BATCH_STREAM, jobRng } from './rollout';

export class JobSchedule {
  /** Images per update, per part, and parts per update. */
  readonly batch: number;
  readonly micro: number;
  readonly parts: number;
  private readonly base: RngState;

  /**
   * `rng`: the run's RNG (tune's `rng`, never drawn from with per-job seeds); `tableSize`: the `train` split's
   * length; S = `staleness`.
   */
  constructor(
    rng: Rng,
    tune: { readonly batchSize?: number; readonly microBatch?: number },
    readonly staleness: number,
    private readonly tableSize: number,
  ) {
    if (!(Number.isInteger(staleness) && staleness >= 0))
      throw new RangeError(`staleness must be an integer ≥ 0, got ${staleness}`);
    this.base = rng.state();
    this.batch = tune.batchSize ?? 1;
    this.micro = Math.min(tune.microBatch ?? this.batch, this.batch);
    this.parts = Math.ceil(this.batch / this.micro);
  }

  /** The weight version update `step` samples with. */
  version(step: number): number {
    return Math.max(0, step - this.staleness);
  }

  /** Update `step`'s `train` indices. */
  indices(step: number): number[] {
    return randomIndices(this.batch, this.tableSize, jobRng(this.base, step, BATCH_STREAM));
  }

  /** Part `part`'s images of an update's indices. */
  partImages(indices: Int32Array, part: number): Int32Array {
    return indices.slice(part * this.micro, Math.min((part + 1) * this.micro, this.batch));
  }

  /** The RNG state part `part` of update `step` samples with. */
  partSeed(step: number, part: number): RngState {
    return jobRng(this.base, step, part).state();
  }
}
