// TuneConfig.microBatch: a batch sampled and differentiated in chunks makes the same update as the whole batch.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Rng } from '@reward-tune/core-model';
import { tune, type Estimator, type TuneConfig } from './tune';
import type { MetricsRecord } from './loop';
import type { Task } from './task';
import { Adam, FeaturePolicy, toyBatch, toyTask, type ToyExample } from './testing/toys';

const F = 4;
const L = 3;
const V = 4;
const train = (_step: number, rng: Rng) => toyBatch(rng, 8, F, L);
type TrainRecord = Extract<MetricsRecord, { kind: 'train' }>;

// The toy task with an auxiliary loss that depends on the rows' aux values (their match counts).
const task: Task<ToyExample, Int32Array, number> = {
  ...toyTask,
  auxLoss: (logProbs, _tokens, aux) =>
    tf.tidy(() =>
      tf.neg(
        tf.mean(
          tf.mul(tf.slice(logProbs, [0, 0, 1], [-1, -1, 1]), tf.reshape(tf.tensor1d(aux as number[]), [-1, 1, 1])),
        ),
      ),
    ) as tf.Scalar,
};

async function run(
  estimator: Estimator,
  microBatch?: number,
): Promise<{ params: Float32Array[]; records: TrainRecord[] }> {
  const policy = new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2));
  const reference = new FeaturePolicy(F, 8, V, L, Rng.fromSeed(5));
  const records: MetricsRecord[] = [];
  const config: TuneConfig = { steps: 3, numSamples: 3, estimator, klCoef: 0.2, auxLossWeight: 0.5, microBatch };
  await tune({
    policy,
    reference,
    optimizer: new Adam(0.05),
    task,
    train,
    rng: Rng.fromSeed(3),
    config,
    metrics: { log: (r) => records.push(r) },
  });
  const params = [...policy.params.values()].map((v) => v.dataSync() as Float32Array);
  return { params, records: records.filter((r): r is TrainRecord => r.kind === 'train') };
}

beforeAll(async () => {
  await initBackend('cpu', { quiet: true });
});

describe.each<Estimator>(['paper', 'rloo', 'greedy', 'rtg', 'expected'])('estimator %s', (estimator) => {
  it('chunks of 3, 3 and 2 inputs give the whole batch of 8 its update, loss and terms', async () => {
    const whole = await run(estimator);
    const chunked = await run(estimator, 3);
    expect(chunked.records).toHaveLength(3);
    chunked.records.forEach((r, i) => {
      const w = whole.records[i];
      expect(r.rewardMean).toBeCloseTo(w.rewardMean as number, 12); // the same samples (inputs draw in order)
      for (const k of ['loss', 'pgLoss', 'kl', 'auxLoss'] as const)
        expect(r[k] as number).toBeCloseTo(w[k] as number, 5);
    });
    chunked.params.forEach((p, i) => p.forEach((x, j) => expect(x).toBeCloseTo(whole.params[i][j], 5)));
    // …and the updates did something, so the comparison is not between two untouched models.
    const start = new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2));
    expect([...start.params.values()][2].dataSync()[0]).not.toBeCloseTo(whole.params[2][0], 4);
  });
});

it('refuses a microBatch that is not a positive integer', async () => {
  await expect(run('paper', 0)).rejects.toThrow(/microBatch must be a positive integer, got 0/);
  await expect(run('paper', 1.5)).rejects.toThrow(/microBatch must be a positive integer/);
});
