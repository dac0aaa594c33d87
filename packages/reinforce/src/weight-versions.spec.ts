// The weight blobs (no Redis): a policy's parameters go into another policy bit for bit, a blob that does not fit
// the model is refused naming the parameter, and the mirror keeps exactly the versions it is given.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@reward-tune/core-model';
import { FeaturePolicy } from './testing/toys';
import { encodeWeights, loadWeightVersion, WeightMirror } from './weight-versions';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const values = (p: FeaturePolicy) => [...p.params].map(([k, v]) => [k, Array.from(v.dataSync())]);

it('a blob carries every parameter and its version into another policy', async () => {
  const from = new FeaturePolicy(3, 8, 4, 3, Rng.fromSeed(1));
  const to = new FeaturePolicy(3, 8, 4, 3, Rng.fromSeed(2));
  expect(values(to)).not.toEqual(values(from));
  expect(loadWeightVersion(to.params, await encodeWeights(from.params, 17))).toBe(17);
  expect(values(to)).toEqual(values(from));
});

it('a blob of another model is refused naming what does not fit', async () => {
  const blob = await encodeWeights(new FeaturePolicy(3, 8, 4, 3, Rng.fromSeed(1)).params, 0);
  expect(() => loadWeightVersion(new FeaturePolicy(3, 9, 4, 3, Rng.fromSeed(1)).params, blob)).toThrow(
    /hidden\/kernel/,
  );
  expect(() => loadWeightVersion(new FeaturePolicy(3, 8, 4, 3, Rng.fromSeed(1)).params, blob.subarray(0, 100))).toThrow(
    /weights:/,
  );
});

it('the mirror keeps exactly the versions it was last given', () => {
  const m = new WeightMirror(path.join(mkdtempSync(path.join(tmpdir(), 'rt-mirror-')), 'weights'));
  expect(m.versions()).toEqual([]);
  m.save(
    new Map([
      [3, Buffer.from('three')],
      [4, Buffer.from('four')],
    ]),
  );
  m.save(
    new Map([
      [4, Buffer.from('four')],
      [5, Buffer.from('five')],
    ]),
  );
  expect(m.versions()).toEqual([4, 5]);
  expect(m.read(5)?.toString()).toBe('five');
  expect(m.read(3)).toBeUndefined();
});

it('saveFor keeps the S versions before a checkpoint, which a run resumed there samples with', () => {
  const m = new WeightMirror(path.join(mkdtempSync(path.join(tmpdir(), 'rt-mirror-')), 'weights'));
  const blobs = new Map([3, 4, 5, 6].map((v) => [v, Buffer.from(`v${v}`)] as const));
  m.saveFor(6, 2, blobs);
  expect(m.versions()).toEqual([4, 5]);
  m.saveFor(6, 0, blobs);
  expect(m.versions()).toEqual([]);
});
