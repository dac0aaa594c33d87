// TuneConfig.auxWarmup: the auxiliary loss alone, in its scope (auxLossScope), before the first update.
import * as tf from '@tensorflow/tfjs-core';
import { EncoderDecoder, initBackend, modelConfig, Rng } from '@reward-tune/core-model';
import { tune, type TuneConfig, type TuneOptions } from './tune';
import type { MetricsRecord, ProgressInfo } from './loop';
import type { Task } from './task';
import { Adam } from './testing/toys';

const L = 6;
const V = 12;

// Reward: how many 3s the sample holds; aux: nothing. The auxiliary loss pulls token 3 up at every position.
const task: Task<number, Int32Array, number> = {
  encodeTargets: () => new Int32Array(L),
  decode: (tokens) => tokens,
  reward: (preds) => ({
    rewards: Float64Array.from(preds, (p) => p.filter((t) => t === 3).length),
    aux: preds.map(() => 0),
  }),
  evaluate: () => ({}),
  auxLoss: (logProbs) => tf.neg(tf.mean(tf.slice(logProbs, [0, 0, 3], [logProbs.shape[0], L, 1]))) as tf.Scalar,
};

function model(): EncoderDecoder {
  const m = EncoderDecoder.create(modelConfig({ variant: 'mu', imageSize: [16, 16], vocabSize: V, length: L }), 0);
  const head = m.params.get('decoder/head/kernel')!;
  head.assign(tf.randomNormal(head.shape, 0, 1, 'float32', 3)); // zero at init; random lets the features matter
  return m;
}

const train = (_step: number, rng: Rng) => ({
  images: tf.randomUniform([4, 16, 16, 3], -1, 1, 'float32', rng.nextUint32()) as tf.Tensor4D,
  examples: [0, 1, 2, 3],
});

/** No update, only the warm-up of `config` (with the two optimizers every case uses). */
const warmUp = (
  policy: EncoderDecoder,
  config: Partial<TuneConfig>,
  io: Partial<TuneOptions<number, Int32Array, number>> = {},
) =>
  tune({
    policy,
    optimizer: new Adam(0.03),
    warmupOptimizer: new Adam(0.1),
    task,
    train,
    rng: Rng.fromSeed(1),
    config: { steps: 0, numSamples: 2, ...config },
    ...io,
  });

describe('tune with auxWarmup', () => {
  beforeAll(async () => {
    await initBackend('cpu', { quiet: true });
  });

  it('trains the output layer alone on the auxiliary loss, reports progress, and logs the loss it reached', async () => {
    const policy = model();
    const before = new Map([...policy.params].map(([k, v]) => [k, v.dataSync().slice()]));
    const records: MetricsRecord[] = [];
    const progress: ProgressInfo[] = [];
    const result = await warmUp(
      policy,
      { auxWarmup: 24, auxLossScope: 'head' },
      { metrics: { log: (r) => records.push(r) }, progress: (p) => progress.push(p) },
    );
    expect(result).toMatchObject({ stopped: 'done', steps: 0 });
    for (const [name, v] of policy.params) {
      const moved = v.dataSync().some((x, i) => x !== before.get(name)![i]);
      expect([name, moved]).toEqual([name, name.startsWith('decoder/head/')]);
    }
    expect(progress.map((p) => p.warmup)).toEqual(Array.from({ length: 24 }, (_, k) => k + 1));
    const ev = records.find((r) => r.kind === 'event' && r.event === 'aux-warmup') as Extract<
      MetricsRecord,
      { kind: 'event' }
    >;
    const [first, last] = /aux loss ([\d.]+) → ([\d.]+)/.exec(ev.detail!)!.slice(1).map(Number);
    expect(last).toBeLessThan(first);
    policy.dispose();
  });

  it("with auxLossScope 'model' the warm-up trains the trunk too", async () => {
    const policy = model();
    const emb = policy.params.get('decoder/EmbedTargets/embedding')!.dataSync().slice();
    await warmUp(policy, { auxWarmup: 2 });
    expect(
      policy.params
        .get('decoder/EmbedTargets/embedding')!
        .dataSync()
        .some((x, i) => x !== emb[i]),
    ).toBe(true);
    policy.dispose();
  });

  it('an interrupt ends the warm-up early', async () => {
    const policy = model();
    const stop = new AbortController();
    const seen: number[] = [];
    const records: MetricsRecord[] = [];
    await warmUp(
      policy,
      { auxWarmup: 10, auxLossScope: 'head' },
      {
        signal: stop.signal,
        metrics: { log: (r) => records.push(r) },
        progress: (p) => {
          seen.push(p.warmup ?? -1);
          if (p.warmup === 3) stop.abort();
        },
      },
    );
    expect(seen).toEqual([1, 2, 3]);
    expect(
      records.some((r) => r.kind === 'event' && r.event === 'aux-warmup' && /of 3 steps/.test(r.detail ?? '')),
    ).toBe(true);
    policy.dispose();
  });

  it('needs a warm-up optimizer', async () => {
    const policy = model();
    await expect(
      tune({
        policy,
        optimizer: new Adam(0.03),
        task,
        train,
        rng: Rng.fromSeed(1),
        config: { steps: 0, numSamples: 2, auxWarmup: 1 },
      }),
    ).rejects.toThrow(/warmupOptimizer/);
    policy.dispose();
  });
});
