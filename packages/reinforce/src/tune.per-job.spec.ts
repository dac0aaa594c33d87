// TuneConfig.seedDerivation 'per-job' (cpu backend, fixed seeds): each update's batch and each microBatch part's
// samples come from an RNG derived from (seed, step, part), so that samples drawn elsewhere (TuneOptions.rollouts,
// distributed tuning's actors) give the very same updates; a resumed run still repeats an uninterrupted one.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { Rng, type SequencePolicy } from '@reward-tune/core-model';
import { batchOf, randomBatches, randomIndices, type ImageTable } from './batches';
import { MemoryCheckpointer, type MetricsRecord } from './loop';
import { BATCH_STREAM, jobRng, sampleAndReward, type ScoredSamples } from './rollout';
import type { ImportancePer } from './reinforce-loss';
import { imagesTensor } from './task';
import { tune, type RolloutSource, type TuneConfig } from './tune';
import { ESTIMATOR_SPECS } from './estimators';
import { Adam, FeaturePolicy, toyExample, toyTask, type ToyExample } from './testing/toys';

const F = 3;
const L = 3;
const V = 4;

/** 64 toy inputs as a 1×1×3 image table (the features are the pixels). */
function toyTable(): ImageTable<ToyExample> {
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

const table = toyTable();
const train = randomBatches(table, 6);
const config: TuneConfig = { steps: 6, numSamples: 3, microBatch: 2, estimator: 'rloo', seedDerivation: 'per-job' };

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const paramValues = (policy: SequencePolicy): Record<string, number[]> =>
  Object.fromEntries([...policy.params].map(([k, v]) => [k, Array.from(v.dataSync())]));

function run(cfg: TuneConfig, extra: Partial<Parameters<typeof tune>[0]> = {}) {
  const policy = new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2));
  return {
    policy,
    done: tune({
      policy,
      optimizer: new Adam(0.05),
      task: toyTask,
      train,
      rng: Rng.fromSeed(3),
      config: cfg,
      ...extra,
    }),
  };
}

it('jobRng: a function of (base, step, stream), different for each', () => {
  const base = Rng.fromSeed(3).state();
  const draw = (step: number, stream: number) =>
    Array.from({ length: 4 }, () => jobRng(base, step, stream).nextUint32());
  expect(draw(4, 1)).toEqual(draw(4, 1));
  const all = [
    draw(4, 1),
    draw(4, 2),
    draw(5, 1),
    draw(4, BATCH_STREAM),
    jobRng(Rng.fromSeed(4).state(), 4, 1).state(),
  ];
  expect(new Set(all.map((d) => JSON.stringify(d))).size).toBe(all.length);
  expect(() => jobRng(base, -1, 0)).toThrow(/step/);
});

it('per-job: the updates differ from the stream ones, and k + k resumed equal 2k straight', async () => {
  const straight = run(config);
  const stream = run({ ...config, seedDerivation: undefined });
  await Promise.all([straight.done, stream.done]);
  expect(paramValues(straight.policy)).not.toEqual(paramValues(stream.policy));

  const checkpointer = new MemoryCheckpointer();
  await run({ ...config, steps: 3 }, { checkpointer }).done;
  const resumed = run(config, { checkpointer, rng: Rng.fromSeed(99) });
  expect((await resumed.done).steps).toBe(6);
  expect(paramValues(resumed.policy)).toEqual(paramValues(straight.policy));
  checkpointer.dispose();
});

/** Samples the parts as an actor would: its own batch tensor per part, its own RNG from the job's seed. */
function elsewhere(policy: SequencePolicy, cfg: TuneConfig, seen: number[]): RolloutSource<ToyExample, number> {
  const base = Rng.fromSeed(3).state();
  return {
    async take(step) {
      seen.push(step);
      const indices = randomIndices(6, table.examples.length, jobRng(base, step, BATCH_STREAM));
      const shards: ScoredSamples<number>[] = [];
      for (let part = 0; part * 2 < indices.length; part++) {
        const b = batchOf(table, indices.slice(part * 2, part * 2 + 2));
        const img = imagesTensor(b.images);
        const seed = jobRng(base, step, part).state();
        const needs = ESTIMATOR_SPECS[cfg.estimator ?? 'paper'].needs;
        shards.push(await sampleAndReward(policy, toyTask, img.tensor, b.examples, 3, needs, Rng.fromState(seed)));
        img.tensor.dispose();
      }
      return { batch: batchOf(table, indices), shards, stats: { version: step } };
    },
  };
}

it('per-job: samples drawn elsewhere with the derived seeds give bit-identical updates', async () => {
  const local = run(config);
  await local.done;
  const policy = new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2));
  const seen: number[] = [];
  const records: MetricsRecord[] = [];
  const result = await tune({
    policy,
    optimizer: new Adam(0.05),
    task: toyTask,
    train: () => {
      throw new Error('the batches come with the rollouts');
    },
    rng: Rng.fromSeed(3),
    config,
    rollouts: elsewhere(policy, config, seen),
    metrics: { log: (r) => records.push(r) },
  });
  expect(result.steps).toBe(6);
  expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
  expect(paramValues(policy)).toEqual(paramValues(local.policy));
  expect(records.filter((r) => r.kind === 'train').map((r) => (r as { version?: number }).version)).toEqual([
    0, 1, 2, 3, 4, 5,
  ]);
  const stream = { ...config, seedDerivation: undefined };
  const refused = tune({
    policy,
    optimizer: new Adam(0.05),
    task: toyTask,
    train,
    rng: Rng.fromSeed(3),
    config: stream,
    rollouts: elsewhere(policy, config, []),
  });
  await expect(refused).rejects.toThrow(/per-job/);
});

/**
 * A fresh policy (seed 2) tuned on the samples that `sampler` (default: the policy itself) draws elsewhere, with the
 * `extra` options; the policy and its train records.
 */
async function tunedOnSamples(cfg: TuneConfig, extra: Partial<Parameters<typeof tune>[0]>, sampler?: SequencePolicy) {
  const policy = new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2));
  const records: MetricsRecord[] = [];
  await tune({
    policy,
    optimizer: new Adam(0.05),
    task: toyTask,
    train,
    rng: Rng.fromSeed(3),
    config: cfg,
    rollouts: elsewhere(sampler ?? policy, cfg, []),
    metrics: { log: (r) => records.push(r) },
    ...extra,
  });
  return { policy, train: records.filter((r) => r.kind === 'train') as unknown as Record<string, number>[] };
}

it('importance weights of on-policy samples are 1 up to rounding, and logged per step', async () => {
  const { train: records } = await tunedOnSamples({ ...config, estimator: 'paper' }, { importanceClip: 2 });
  expect(records).toHaveLength(6);
  for (const r of records) {
    expect(Math.abs(r.isMean - 1)).toBeLessThan(1e-5);
    expect(Math.abs(r.isMax - 1)).toBeLessThan(1e-5);
    expect(r.isClipped).toBe(0);
  }
});

it('importance weights of samples from another policy: per token (importancePer) they are one per token', async () => {
  // The samples come from a behaviour policy other than the one tuned, so the weights are not 1.
  const behaviour = new FeaturePolicy(F, 8, V, L, Rng.fromSeed(7));
  const stats = async (importancePer: ImportancePer | undefined) => {
    const { policy, train: records } = await tunedOnSamples(config, { importanceClip: 1.5, importancePer }, behaviour);
    const { isMean, isMax, isClipped } = records[0];
    return { first: { isMean, isMax, isClipped }, params: paramValues(policy) };
  };
  const [byDefault, sequence, token] = [await stats(undefined), await stats('sequence'), await stats('token')];
  expect(byDefault).toEqual(sequence);
  expect(Math.abs(sequence.first.isMean - 1)).toBeGreaterThan(1e-3);
  expect(token.first.isMean).not.toBeCloseTo(sequence.first.isMean, 3);
  expect(token.params).not.toEqual(sequence.params);
});
