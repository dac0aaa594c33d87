// Staleness S = 1. On the toy run: update k samples with weight version k − 1 (0 for the first), logs its importance
// weights, and its result does not depend on how many actors serve it. On a policy small enough to enumerate: the
// truncated importance-weighted estimator (reinforce's update with importanceClip, fed samples of an older policy)
// is within 5 % of the exact gradient, where the unweighted one is measurably biased.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { Rng, type Optimizer, type Params } from '@reward-tune/core-model';
import { applyUpdate, sampleAndReward, updateInputs, type Task, type TuneConfig } from '@reward-tune/reinforce';
import { TabularPolicy } from '../../reinforce/src/testing/toys';
import {
  buildToyProcess,
  Child,
  finalParams,
  runDir,
  testRedis,
  trainRecords,
  type OwnRedis,
} from './testing/e2e-helpers';

let url: string;
let own: OwnRedis | undefined;
const children: Child[] = [];
const start = (name: string, args: string[]) => {
  const c = new Child(name, args);
  children.push(c);
  return c;
};

beforeAll(async () => {
  await tf.setBackend('cpu');
  await buildToyProcess();
  ({ url, own } = await testRedis());
}, 60_000);

afterAll(async () => {
  for (const c of children) c.kill();
  await own?.kill();
});

async function distributed(label: string, actors: number, staleness: number): Promise<string> {
  const dir = runDir(label);
  const run = `${label}-${process.pid}-${Date.now()}`;
  const learner = start(`learner ${label}`, [
    'learner',
    '--redis',
    url,
    '--run',
    run,
    '--dir',
    dir,
    '--fresh',
    '--staleness',
    String(staleness),
  ]);
  const as = Array.from({ length: actors }, (_, i) =>
    start(`actor ${label}/${i}`, ['actor', '--redis', url, '--run', run, '--id', `a${i}`]),
  );
  expect(await learner.exit(90_000)).toBe(0);
  for (const a of as) expect(await a.exit(30_000)).toBe(0);
  return dir;
}

it('S = 1: update k samples with version k − 1, weights logged, the same with 1 or 2 actors', async () => {
  const one = await distributed('s1-one', 1, 1);
  const two = await distributed('s1-two', 2, 1);
  const local = runDir('local');
  expect(await start('local', ['local', '--dir', local]).exit(60_000)).toBe(0);

  expect(finalParams(two).equals(finalParams(one))).toBe(true);
  expect(finalParams(one).equals(finalParams(local))).toBe(false); // stale samples: another run than S = 0
  const records = trainRecords(one);
  // Record n is update n (1-based), i.e. step k = n − 1, sampled with version max(0, k − 1).
  expect(records.map((r) => [r.step, r.version, r.staleness])).toEqual(
    Array.from({ length: 8 }, (_, k) => [k + 1, Math.max(0, k - 1), Math.min(k, 1)]),
  );
  for (const r of records) {
    expect(r.isMean).toEqual(expect.any(Number));
    expect(r.isMax as number).toBeGreaterThanOrEqual(r.isMean as number);
    expect(r.isClipped as number).toBeGreaterThanOrEqual(0);
    expect(r.isClipped as number).toBeLessThanOrEqual(1);
  }
  // The first update's samples are on-policy: weights 1 up to float rounding.
  expect(Math.abs((records[0].isMean as number) - 1)).toBeLessThan(1e-5);
  // Later ones come from the previous version: the weights move away from 1.
  expect(records.slice(1).some((r) => Math.abs((r.isMean as number) - 1) > 1e-4)).toBe(true);
}, 240_000);

// --- the estimator on a policy small enough to enumerate -------------------------------------------------------

const V = 3;
const L = 2;
/** R(y) = [y0 = 2] + 0.5·[y1 = 1]. */
const reward = (y: ArrayLike<number>) => (y[0] === 2 ? 1 : 0) + (y[1] === 1 ? 0.5 : 0);
const task: Task<number, Int32Array, undefined> = {
  encodeTargets: () => new Int32Array(L),
  decode: (tokens) => tokens.slice(),
  reward: (preds) => ({ rewards: Float64Array.from(preds, reward) }),
  evaluate: () => ({}),
};

/** A table of logits [L, V, V] from a seed, scaled. */
const table = (seed: number, scale: number) => {
  const rng = Rng.fromSeed(seed);
  return Float32Array.from({ length: L * V * V }, () => rng.normal() * scale);
};

/** An "optimizer" that keeps the gradient it is asked to apply. */
class Capture implements Optimizer {
  grads = new Map<string, Float32Array>();
  step = 0;
  apply(_params: Params, grads: ReadonlyMap<string, tf.Tensor>): void {
    for (const [k, g] of grads) this.grads.set(k, g.dataSync() as Float32Array);
  }
  getState() {
    return { step: 0, tensors: new Map<string, tf.Tensor>() };
  }
  setState(): void {}
  dispose(): void {}
}

const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, x) => s + x * x, 0));
const diff = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (x, i) => x - b[i]);

it('the importance-weighted estimator is within 5 % of the exact gradient; the unweighted one is biased', async () => {
  const behaviour = new TabularPolicy(V, L, table(11, 1)); // μ, the actors' version
  const current = new TabularPolicy(V, L, table(11, 1)); // π_θ, the learner's, moved on since
  current.params.get('table')!.assign(tf.add(current.params.get('table')!, tf.tensor3d(table(12, 0.4), [L, V, V])));

  // ∇θ E_π[R], exactly: Σ_y π(y)·R(y) over all V^L sequences.
  const all = Array.from({ length: V ** L }, (_, i) => [Math.floor(i / V), i % V]);
  const rewards = tf.tensor1d(all.map(reward));
  const exact = tf.variableGrads(() => tf.sum(tf.mul(tf.exp(current.enumerateLogProbs()), rewards)) as tf.Scalar);
  const g = exact.grads[current.params.get('table')!.name].dataSync();

  // The estimator on B inputs × N samples drawn from μ, as a stale rollout reaches the learner.
  const b = 20_000;
  const n = 2;
  const config: TuneConfig = { steps: 1, numSamples: n, estimator: 'rloo', reduction: 'sequence' };
  const images = tf.zeros([b, 1, 1, 1]) as tf.Tensor4D;
  const examples = new Array<number>(b).fill(0);
  const scored = await sampleAndReward(behaviour, task, images, examples, n, {}, Rng.fromSeed(13));
  const estimate = async (importanceClip?: number) => {
    const optimizer = new Capture();
    const opts = { policy: current, task, config, importanceClip, optimizer };
    const inputs = await updateInputs(opts, images, examples, Rng.fromSeed(0), [scored]);
    const { importance } = await applyUpdate(opts, inputs);
    inputs.dispose();
    // The loss is −A·log π, so its gradient estimates −∇E[R].
    return { grad: Float64Array.from(optimizer.grads.get('table')!, (x) => -x), stats: importance };
  };
  const weighted = await estimate(2);
  const unweighted = await estimate(undefined);
  const errWeighted = norm(diff(weighted.grad, g)) / norm(g);
  const errUnweighted = norm(diff(unweighted.grad, g)) / norm(g);
  // Measured: 0.010 weighted, 0.65 unweighted (weights up to 1.55: the default clip c = 2 never binds here).
  expect(errWeighted).toBeLessThan(0.05);
  expect(errUnweighted).toBeGreaterThan(0.15);
  expect(weighted.stats!.isClipped).toBe(0);
  expect(weighted.stats!.isMax).toBeGreaterThan(1.2);
  tf.dispose([images, rewards, exact.value, ...Object.values(exact.grads)]);
}, 120_000);
