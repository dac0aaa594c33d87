// The MLE loop on the toy matching task (cpu backend): learning, held-out evaluation, checkpoints, resume, early
// stopping, per-token weights and the non-finite guard.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { Rng, type SequencePolicy } from '@reward-tune/core-model';
import { trainMle, type MleConfig } from './mle';
import { MemoryCheckpointer, disposeState, type MetricsRecord } from './loop';
import type { Task } from './task';
import { Adam, FeaturePolicy, PoisonPolicy, toyBatch, toyTask, type ToyExample } from './testing/toys';

const F = 4;
const L = 3;
const V = 4;
const train = (_step: number, rng: Rng) => toyBatch(rng, 8, F, L);
const policyAt = (seed = 2) => new FeaturePolicy(F, 8, V, L, Rng.fromSeed(seed));
const values = (p: SequencePolicy) => Object.fromEntries([...p.params].map(([k, v]) => [k, Array.from(v.dataSync())]));

let heldOut: ReturnType<typeof toyBatch>[];
beforeAll(async () => {
  await tf.setBackend('cpu');
  heldOut = [toyBatch(Rng.fromSeed(99), 32, F, L)];
});

it('learns the task, evaluates at intervals and checkpoints every K updates', async () => {
  const records: MetricsRecord[] = [];
  const checkpointer = new MemoryCheckpointer();
  const policy = policyAt();
  const result = await trainMle({
    policy,
    optimizer: new Adam(0.03),
    task: toyTask,
    train,
    heldOut,
    rng: Rng.fromSeed(1),
    config: { steps: 40, evalEvery: 20, checkpointEvery: 15 },
    checkpointer,
    metrics: { log: (r) => records.push(r) },
  });
  expect(result.stopped).toBe('done');
  expect(checkpointer.steps()).toEqual([15, 30, 40]);
  const evals = records.filter((r): r is Extract<MetricsRecord, { kind: 'eval' }> => r.kind === 'eval');
  expect(evals.map((r) => r.step)).toEqual([20, 40]);
  expect(evals[1].loss as number).toBeLessThan(evals[0].loss as number);
  expect(evals[1].metrics.tokenAccuracy).toBeGreaterThan(0.9); // chance is 0.25
  expect(evals[1].rewardMean).toBeCloseTo(evals[1].metrics.tokenAccuracy * L, 10);
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  expect(mean(result.losses.slice(-10))).toBeLessThan(mean(result.losses.slice(0, 10)) / 2);
  checkpointer.dispose();
});

it('resumes exactly: k + k updates equal 2k', async () => {
  const config: MleConfig = { steps: 10, checkpointEvery: 5 };
  const straight = policyAt();
  const full = await trainMle({
    policy: straight,
    optimizer: new Adam(0.03),
    task: toyTask,
    train,
    rng: Rng.fromSeed(1),
    config,
  });
  const checkpointer = new MemoryCheckpointer();
  const first = await trainMle({
    policy: policyAt(),
    optimizer: new Adam(0.03),
    task: toyTask,
    train,
    rng: Rng.fromSeed(1),
    config: { ...config, steps: 5 },
    checkpointer,
  });
  const resumed = policyAt(50);
  const second = await trainMle({
    policy: resumed,
    optimizer: new Adam(0.03),
    task: toyTask,
    train,
    rng: Rng.fromSeed(8),
    config,
    checkpointer,
  });
  expect([...first.losses, ...second.losses]).toEqual(full.losses);
  expect(values(resumed)).toEqual(values(straight));
  checkpointer.dispose();
});

it('stops early when the watched value plateaus, saving a checkpoint', async () => {
  // Learning rate 0: the held-out metric never improves after the first evaluation.
  for (const earlyStop of [
    { on: 'metric', key: 'tokenAccuracy', mode: 'max', patience: 2 },
    { on: 'loss', patience: 2 },
  ] as const) {
    const checkpointer = new MemoryCheckpointer();
    const records: MetricsRecord[] = [];
    const result = await trainMle({
      policy: policyAt(),
      optimizer: new Adam(0),
      task: toyTask,
      train,
      heldOut,
      rng: Rng.fromSeed(1),
      config: { steps: 100, evalEvery: 2, earlyStop },
      checkpointer,
      metrics: { log: (r) => records.push(r) },
    });
    // Evaluations at 2 (best), 4 and 6 (no improvement: patience 2 reached).
    expect(result).toMatchObject({ stopped: 'early-stop', steps: 6, best: { step: 2 } });
    expect(checkpointer.steps()).toEqual([6]);
    expect(records[records.length - 1]).toMatchObject({ kind: 'event', event: 'early-stop', step: 6 });
    checkpointer.dispose();
  }
  await expect(
    trainMle({
      policy: policyAt(),
      optimizer: new Adam(0),
      task: toyTask,
      train,
      heldOut,
      rng: Rng.fromSeed(1),
      config: { steps: 4, evalEvery: 2, earlyStop: { on: 'metric', key: 'nope', mode: 'max', patience: 1 } },
    }),
  ).rejects.toThrow(/nope/);
});

it('per-token weights: a position weighted 0 gets no gradient', async () => {
  const masked: Task<ToyExample, Int32Array, number> = {
    ...toyTask,
    targetWeights: () => Float32Array.from([1, 1, 0]),
  };
  const policy = policyAt();
  const biasBefore = Array.from((policy.params.get('head/bias') as tf.Variable).dataSync());
  await trainMle({
    policy,
    optimizer: new Adam(0.03),
    task: masked,
    train,
    rng: Rng.fromSeed(1),
    config: { steps: 3 },
  });
  const biasAfter = Array.from((policy.params.get('head/bias') as tf.Variable).dataSync());
  // head/bias is [L·V]: the last position's V logits stay put, the others move.
  expect(biasAfter.slice(2 * V)).toEqual(biasBefore.slice(2 * V));
  expect(biasAfter.slice(0, 2 * V)).not.toEqual(biasBefore.slice(0, 2 * V));
});

it('a non-finite loss stops the run cleanly: update not applied, last good checkpoint kept', async () => {
  const policy = new PoisonPolicy(policyAt());
  const checkpointer = new MemoryCheckpointer();
  const records: MetricsRecord[] = [];
  const result = await trainMle({
    policy,
    optimizer: new Adam(0.03),
    task: toyTask,
    train: (step, rng) => {
      policy.poisoned = step >= 3;
      return train(step, rng);
    },
    rng: Rng.fromSeed(1),
    config: { steps: 10, checkpointEvery: 1 },
    checkpointer,
    metrics: { log: (r) => records.push(r) },
  });
  expect(result).toMatchObject({ stopped: 'non-finite', steps: 3 });
  expect(result.losses).toHaveLength(3);
  expect(checkpointer.steps()).toEqual([1, 2, 3]);
  expect(records[records.length - 1]).toMatchObject({ kind: 'event', event: 'non-finite', step: 3 });
  const last = await checkpointer.loadLatest();
  for (const [name, v] of policy.params) {
    const live = Array.from(v.dataSync());
    expect(live.every(Number.isFinite)).toBe(true);
    expect(live).toEqual(Array.from((last?.params.get(name) as tf.Tensor).dataSync()));
  }
  if (last) disposeState(last);
  checkpointer.dispose();
});
