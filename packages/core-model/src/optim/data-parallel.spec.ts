// The data-parallel gradient group: every rank gets the same mean, summed in rank order, whatever its backend; the
// checks of what a rank hands it; and a failing rank releases the others instead of leaving them at a barrier. The
// other ranks are worker threads running the package's library, bundled (testing/bundle-library.ts).
import * as tf from '@tensorflow/tfjs-core';
import { Worker } from 'node:worker_threads';
import { initBackend } from '../backend';
import { bundleLibrary } from '../testing/bundle-library';
import { createGroupMemory, GradientGroup, GROUP_ABORTED, type GroupMemory } from './data-parallel';

let library: string;
beforeAll(async () => {
  library = bundleLibrary('data-parallel-spec');
  await initBackend('wasm', { quiet: true });
});

const SHAPES: Record<string, number[]> = { w: [3, 5], b: [7] };
const ORDER = ['b', 'w']; // not the map's order: the group follows the order it is given
const LENGTH = 3 * 5 + 7;

/** Rank r's gradient of `name` at call c: values with many bits, different on each rank and call. */
const gradValues = (rank: number, name: string, call = 0): Float32Array => {
  const n = SHAPES[name].reduce((a, b) => a * b, 1);
  const phase = rank * 1.91 + call * 0.83 + (name === 'w' ? 5 : 0);
  return Float32Array.from({ length: n }, (_, i) => Math.sin(1 + i * 0.37 + phase));
};

/**
 * A worker-thread rank: rank 1 on the cpu backend (whose new tensors may keep the array they are made from), the
 * others on wasm as rank 0 is; averages its gradients of each of `calls` calls, and answers with the results, read
 * once the last call is done (a result must not change with the next call); when `fail` is set, it throws after its
 * calls instead.
 */
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const lib = require(workerData.library);
const tf = require('@tensorflow/tfjs-core');
(async () => {
  await lib.initBackend(workerData.rank === 1 ? 'cpu' : 'wasm', { quiet: true });
  const group = new lib.GradientGroup(workerData.memory, workerData.rank);
  const avgs = [];
  for (const g of workerData.grads) {
    const grads = new Map(Object.entries(g).map(([k, v]) => [k, tf.tensor(v, workerData.shapes[k])]));
    avgs.push(await group.average(grads, workerData.order));
  }
  const out = avgs.map((avg) => Object.fromEntries([...avg].map(([k, t]) => [k, Array.from(t.dataSync())])));
  if (workerData.fail) {
    group.abort();
    throw new Error('rank ' + workerData.rank + ' broke');
  }
  parentPort.postMessage(out);
})();`;

const startRank = (memory: GroupMemory, rank: number, calls: number, fail = false): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const grads = Array.from({ length: calls }, (_, c) =>
      Object.fromEntries(ORDER.map((k) => [k, Array.from(gradValues(rank, k, c))])),
    );
    const w = new Worker(WORKER, {
      eval: true,
      workerData: { library, memory, rank, fail, grads, shapes: SHAPES, order: ORDER },
    });
    w.once('message', resolve);
    w.once('error', reject);
  });

const myGrads = (call = 0): Map<string, tf.Tensor> =>
  new Map(['w', 'b'].map((k) => [k, tf.tensor(gradValues(0, k, call), SHAPES[k])]));

describe('GradientGroup', () => {
  it('gives every rank the float32 mean ((g0 + g1) + g2) / 3, the same bits on every rank, call after call', async () => {
    const memory = createGroupMemory(3, LENGTH);
    const others = [startRank(memory, 1, 2), startRank(memory, 2, 2)];
    const group = new GradientGroup(memory, 0);
    const mine: Record<string, number[]>[] = [];
    for (let c = 0; c < 2; c++) {
      const grads = myGrads(c);
      const avg = await group.average(grads, ORDER);
      expect([...avg.keys()]).toEqual(ORDER);
      expect(avg.get('w')!.shape).toEqual([3, 5]);
      mine.push(Object.fromEntries([...avg].map(([k, t]) => [k, Array.from(t.dataSync())])));
      tf.dispose([...grads.values(), ...avg.values()]);
    }
    const f = Math.fround;
    for (const c of [0, 1]) {
      for (const k of ORDER) {
        const [g0, g1, g2] = [0, 1, 2].map((r) => gradValues(r, k, c));
        expect(mine[c][k]).toEqual(Array.from(g0, (x, i) => f(f(f(x + g1[i]) + g2[i]) / 3)));
      }
    }
    for (const theirs of await Promise.all(others)) expect(theirs).toEqual(mine);
  });

  it('with two ranks: (g0 + g1) / 2, and a lone rank gets its own gradients back as new tensors', async () => {
    const memory = createGroupMemory(2, LENGTH);
    const other = startRank(memory, 1, 1);
    const grads = myGrads();
    const avg = await new GradientGroup(memory, 0).average(grads, ORDER);
    const [g0, g1] = [0, 1].map((r) => gradValues(r, 'w'));
    expect(Array.from(avg.get('w')!.dataSync())).toEqual(Array.from(g0, (x, i) => Math.fround((x + g1[i]) / 2)));
    expect(await other).toEqual([Object.fromEntries([...avg].map(([k, t]) => [k, Array.from(t.dataSync())]))]);

    const alone = await new GradientGroup(createGroupMemory(1, LENGTH), 0).average(grads, ORDER);
    expect(alone.get('b')).not.toBe(grads.get('b'));
    expect(Array.from(alone.get('b')!.dataSync())).toEqual(Array.from(gradValues(0, 'b')));
    tf.dispose([...grads.values(), ...avg.values(), ...alone.values()]);
  });

  it("refuses gradients that do not fill the group's memory, or a missing one, naming it", async () => {
    const grads = myGrads();
    const group = (length: number) => new GradientGroup(createGroupMemory(1, length), 0);
    await expect(group(LENGTH).average(grads, ['w', 'b', 'c'])).rejects.toThrow("no gradient for 'c'");
    await expect(group(LENGTH + 1).average(grads, ORDER)).rejects.toThrow(
      `gradients hold ${LENGTH} values, the group ${LENGTH + 1}`,
    );
    await expect(group(LENGTH - 1).average(grads, ORDER)).rejects.toThrow(`gradients exceed ${LENGTH - 1} values`);
    expect(() => new GradientGroup(createGroupMemory(2, LENGTH), 2)).toThrow('rank 2 is not in 0..1');
    expect(() => createGroupMemory(0, LENGTH)).toThrow('size must be ≥ 1');
    tf.dispose([...grads.values()]);
  });

  it('a rank that fails releases the one waiting for it at a barrier, which throws', async () => {
    const memory = createGroupMemory(2, LENGTH);
    const other = startRank(memory, 1, 1, true); // averages once, then fails before the second call
    const group = new GradientGroup(memory, 0);
    const grads = myGrads();
    tf.dispose([...(await group.average(grads, ORDER)).values()]);
    const t0 = Date.now();
    await expect(group.average(grads, ORDER)).rejects.toThrow(GROUP_ABORTED);
    expect(Date.now() - t0).toBeLessThan(5000);
    await expect(other).rejects.toThrow('rank 1 broke');
    tf.dispose([...grads.values()]);
  });
});
