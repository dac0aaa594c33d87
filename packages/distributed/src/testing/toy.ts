/**
 * The toy run of the end-to-end tests (test-only): reinforce's toy matching task on a 64-input `train` table (each
 * input 3 features in {−1, 1}, stored as a 1×1×3 image), its small feature policy and Adam. Every process of a test
 * run (learner, actors, the local reference loop) builds the same objects from the same seeds.
 */
import { Rng } from '@reward-tune/core-model';
import type { ImageTable, TuneConfig } from '@reward-tune/reinforce';
// Test-only helpers of reinforce (not exported from that package).
import { Adam, FeaturePolicy, toyExample, toyTask, type ToyExample } from '../../../reinforce/src/testing/toys';
import type { ActorSetup } from '../actor';

export const TOY_TOOL = 'toy';
const F = 3;
const L = 3;
const V = 4;
export const TOY_SEED = 3;

/** The tune section of a toy run: B = 6 inputs in 3 parts of 2, N = 3 samples each. */
export function toyTuneConfig(overrides: Partial<TuneConfig> = {}): TuneConfig {
  return {
    steps: 8,
    batchSize: 6,
    microBatch: 2,
    numSamples: 3,
    estimator: 'rloo',
    checkpointEvery: 4,
    seedDerivation: 'per-job',
    ...overrides,
  };
}

export function toyTable(): ImageTable<ToyExample> {
  const rng = Rng.fromSeed(5);
  const examples = Array.from({ length: 64 }, () =>
    toyExample(
      Float32Array.from({ length: F }, () => (rng.next() < 0.5 ? -1 : 1)),
      L,
    ),
  );
  const pixels = new Float32Array(64 * F);
  examples.forEach((e, i) => pixels.set(e.features, i * F));
  return { examples, size: 1, pixels };
}

export const toyPolicy = (): FeaturePolicy => new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2));
export const toyOptimizer = (): Adam => new Adam(0.05);
export { toyTask };

export function toyActorSetup(): ActorSetup<ToyExample, Int32Array, number> {
  return { task: toyTask, table: toyTable(), policy: toyPolicy() };
}
