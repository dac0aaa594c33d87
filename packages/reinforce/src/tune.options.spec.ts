// Tuning options on the toy task (wasm backend): the KL penalty keeps the policy near its reference, the auxiliary
// loss sees the rows that carry the gradient with their own aux values, and the loss terms add up as logged.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as path from 'node:path';
import { Rng } from '@reward-tune/core-model';
import { tune, type Estimator } from './tune';
import { MemoryCheckpointer, type MetricsRecord } from './loop';
import type { Task } from './task';
import { Adam, FeaturePolicy, PoisonPolicy, toyBatch, toyTask, type ToyExample } from './testing/toys';

const F = 4;
const L = 3;
const V = 4;
const train = (_step: number, rng: Rng) => toyBatch(rng, 8, F, L);
type TrainRecord = Extract<MetricsRecord, { kind: 'train' }>;

beforeAll(async () => {
  setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/');
  expect(await tf.setBackend('wasm')).toBe(true);
});

/** Exact mean per-token KL(π‖π_ref) over the held-out inputs (both policies are per-position categoricals). */
function exactKl(policy: FeaturePolicy, ref: FeaturePolicy, images: tf.Tensor4D): number {
  return tf.tidy(() => {
    const tokens = tf.zeros([images.shape[0], L], 'int32') as tf.Tensor2D;
    const lp = policy.logProbs(images, tokens);
    const lq = ref.logProbs(images, tokens);
    return tf.mean(tf.sum(tf.mul(tf.exp(lp), tf.sub(lp, lq)), -1)).dataSync()[0];
  });
}

it('the KL penalty keeps the tuned policy closer to the reference', async () => {
  const held = toyBatch(Rng.fromSeed(99), 64, F, L);
  const kls: number[] = [];
  for (const klCoef of [0, 0.5]) {
    const policy = new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2));
    const reference = new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2));
    const records: MetricsRecord[] = [];
    await tune({
      policy,
      reference,
      optimizer: new Adam(0.03),
      task: toyTask,
      train,
      rng: Rng.fromSeed(3),
      config: { steps: 60, numSamples: 4, estimator: 'rloo', klCoef },
      metrics: { log: (r) => records.push(r) },
    });
    const trainRecs = records.filter((r): r is TrainRecord => r.kind === 'train');
    if (klCoef > 0) {
      // Identical at the start: the k3 estimate is exactly 0; then the policy drifts and the term turns positive.
      expect(trainRecs[0].kl).toBeCloseTo(0, 6);
      expect(trainRecs[trainRecs.length - 1].kl as number).toBeGreaterThan(0);
      for (const r of trainRecs) expect(r.loss).toBeCloseTo((r.pgLoss as number) + klCoef * (r.kl as number), 5);
    } else {
      expect(trainRecs[0].kl).toBeUndefined();
    }
    kls.push(exactKl(policy, reference, held.images));
  }
  // Measured: 1.010 without the penalty, 0.252 with it.
  expect(kls[1]).toBeLessThan(kls[0] / 2);
  await expect(
    tune({
      policy: new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2)),
      optimizer: new Adam(0.03),
      task: toyTask,
      train,
      rng: Rng.fromSeed(3),
      config: { steps: 1, numSamples: 2, klCoef: 1 },
    }),
  ).rejects.toThrow(/reference policy/);
  held.images.dispose();
});

it.each<[Estimator, number, boolean]>([
  ['paper', 8, false],
  ['rloo', 8 * 3, true], // normalised advantages too
  ['greedy', 8 * 3, false],
])(
  '%s: the aux loss gets the %i gradient rows, each with its own sample’s aux',
  async (estimator, rows, normalizeAdvantages) => {
    // Aux = the sampled tokens themselves, so the loss can check the row ↔ aux alignment.
    const seen: number[] = [];
    const task: Task<ToyExample, Int32Array, Int32Array> = {
      ...toyTask,
      reward: (preds, ex) => ({ rewards: toyTask.reward(preds, ex).rewards, aux: preds }),
      auxLoss: (logProbs, sampled, aux) => {
        expect(logProbs.shape).toEqual([rows, L, V]);
        expect(aux).toHaveLength(rows);
        const s = sampled.dataSync();
        aux.forEach((a, r) => expect(Array.from(a)).toEqual(Array.from(s.slice(r * L, (r + 1) * L))));
        seen.push(aux.length);
        // Pull probability towards token 0 everywhere.
        return tf.neg(tf.mean(tf.slice(logProbs, [0, 0, 0], [rows, L, 1]))) as tf.Scalar;
      },
    };
    const records: MetricsRecord[] = [];
    await tune({
      policy: new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2)),
      optimizer: new Adam(0.03),
      task,
      train,
      rng: Rng.fromSeed(3),
      config: { steps: 3, numSamples: 3, estimator, auxLossWeight: 0.3, normalizeAdvantages },
      metrics: { log: (r) => records.push(r) },
    });
    expect(seen).toEqual([rows, rows, rows]);
    for (const r of records.filter((x): x is TrainRecord => x.kind === 'train')) {
      expect(r.loss).toBeCloseTo((r.pgLoss as number) + 0.3 * (r.auxLoss as number), 5);
      expect(r.rewardStd as number).toBeGreaterThanOrEqual(0);
    }
  },
);

it('reports progress every update and keeps no tensors from one update to the next', async () => {
  // rloo + KL + aux: the path that makes the most tensors.
  const task: Task<ToyExample, Int32Array, number> = {
    ...toyTask,
    auxLoss: (logProbs) => tf.neg(tf.mean(logProbs)) as tf.Scalar,
  };
  const counts: number[] = [];
  const steps: number[] = [];
  await tune({
    policy: new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2)),
    reference: new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2)),
    optimizer: new Adam(0.03),
    task,
    train,
    rng: Rng.fromSeed(3),
    config: { steps: 4, numSamples: 3, estimator: 'rloo', klCoef: 0.1, auxLossWeight: 0.1 },
    progress: (p) => {
      expect(p).toMatchObject({ phase: 'tune', totalSteps: 4 });
      steps.push(p.step);
      counts.push(tf.memory().numTensors);
    },
  });
  expect(steps).toEqual([1, 2, 3, 4]);
  // After the first update (which creates Adam's slots) the count stays put.
  expect(new Set(counts.slice(1)).size).toBe(1);
  expect(counts[1]).toBe(counts[0]);
});

it('a non-finite update stops tuning cleanly with the last good state', async () => {
  const policy = new PoisonPolicy(new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2)));
  const checkpointer = new MemoryCheckpointer();
  const result = await tune({
    policy,
    optimizer: new Adam(0.03),
    task: toyTask,
    train: (step, rng) => {
      policy.poisoned = step >= 2;
      return train(step, rng);
    },
    rng: Rng.fromSeed(3),
    config: { steps: 10, numSamples: 2, checkpointEvery: 1 },
    checkpointer,
  });
  expect(result).toMatchObject({ stopped: 'non-finite', steps: 2 });
  expect(checkpointer.steps()).toEqual([1, 2]);
  for (const v of policy.params.values()) expect(Array.from(v.dataSync()).every(Number.isFinite)).toBe(true);
  checkpointer.dispose();
});

it('expected refuses normalised advantages (they would rescale the drawn tokens but not the enumerated values)', async () => {
  const config = { steps: 1, numSamples: 2, estimator: 'expected' as const, normalizeAdvantages: true };
  await expect(
    tune({
      policy: new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2)),
      optimizer: new Adam(0.03),
      task: toyTask,
      train,
      rng: Rng.fromSeed(3),
      config,
    }),
  ).rejects.toThrow(/'expected' does not combine with normalizeAdvantages/);
});
