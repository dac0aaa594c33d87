// A resumed tuning run reproduces the uninterrupted one exactly (cpu backend, fixed seeds): 2k updates straight
// against k updates, a checkpoint, fresh objects, restore, k more.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { Rng, type SequencePolicy } from '@reward-tune/core-model';
import { tune, type TuneConfig } from './tune';
import { MemoryCheckpointer, type MetricsRecord } from './loop';
import { Adam, FeaturePolicy, toyBatch, toyTask } from './testing/toys';

const F = 4;
const L = 3;
const V = 4;
const K = 6;
const train = (_step: number, rng: Rng) => toyBatch(rng, 8, F, L);

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function paramValues(policy: SequencePolicy): Record<string, number[]> {
  return Object.fromEntries([...policy.params].map(([k, v]) => [k, Array.from(v.dataSync())]));
}

it.each<TuneConfig['estimator']>(['paper', 'greedy'])(
  '%s: k + k resumed updates equal 2k straight ones',
  async (estimator) => {
    const config = { numSamples: 3, estimator, checkpointEvery: K };

    const straight = new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2));
    const full = await tune({
      policy: straight,
      optimizer: new Adam(0.05),
      task: toyTask,
      train,
      rng: Rng.fromSeed(3),
      config: { ...config, steps: 2 * K },
    });

    const checkpointer = new MemoryCheckpointer();
    const first = await tune({
      policy: new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2)),
      optimizer: new Adam(0.05),
      task: toyTask,
      train,
      rng: Rng.fromSeed(3),
      config: { ...config, steps: K },
      checkpointer,
    });
    expect(checkpointer.steps()).toEqual([K]);

    // Fresh objects with a different initialisation and seed: everything that matters must come from the checkpoint.
    const resumedPolicy = new FeaturePolicy(F, 8, V, L, Rng.fromSeed(77));
    const resumedOpt = new Adam(0.05);
    const events: MetricsRecord[] = [];
    const second = await tune({
      policy: resumedPolicy,
      optimizer: resumedOpt,
      task: toyTask,
      train,
      rng: Rng.fromSeed(999),
      config: { ...config, steps: 2 * K },
      checkpointer,
      metrics: { log: (r) => events.push(r) },
    });

    expect(events[0]).toMatchObject({ kind: 'event', event: 'resumed', step: K });
    expect(second.steps).toBe(2 * K);
    expect(resumedOpt.step).toBe(2 * K);
    expect([...first.losses, ...second.losses]).toEqual(full.losses);
    expect(paramValues(resumedPolicy)).toEqual(paramValues(straight));
    // Not trivially equal: the parameters moved.
    expect(paramValues(straight)).not.toEqual(paramValues(new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2))));
    checkpointer.dispose();
  },
);
