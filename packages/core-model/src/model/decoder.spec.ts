// The decoder's two ways of running agree: the KV-cached step at position t gives the logits that teacher forcing
// gives at t for the same prefix, at every position, with more than one block, on wasm and cpu.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, readTensor, type BackendChoice } from '../backend';
import { Rng } from '../rng';
import { decoderLogits, decoderStep, disposeKvCache, initKvCache, shiftRight, type DecoderConfig } from './decoder';
import { initParams, modelConfig } from './encoder-decoder';

const V = 12;
const L = 6;
const B = 3;

function worstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

afterAll(async () => {
  await initBackend('wasm', { quiet: true });
});

describe.each(['wasm', 'cpu'] as BackendChoice[])('decoderStep equals teacher forcing (%s)', (backend) => {
  it('logits at every position, depth 2, random head and position embeddings', async () => {
    await initBackend(backend, { quiet: true });
    const cfg = modelConfig({ variant: 'mu', imageSize: [16, 16], vocabSize: V, length: L, decoderDepth: 2 });
    const dec: DecoderConfig = cfg.decoder;
    const params = initParams(cfg, 5);
    // The head starts at zero (all logits equal): random values make the comparison discriminating.
    const head = params.get('decoder/head/kernel')!;
    head.assign(tf.randomNormal(head.shape, 0, 1, 'float32', 6));
    const rng = Rng.fromSeed(7);
    const targets = Int32Array.from({ length: B * L }, () => Math.floor(rng.next() * V));
    const encoded = tf.randomNormal([B, 4, dec.encoderWidth], 0, 1, 'float32', 8) as tf.Tensor3D;

    const inputs = tf.tidy(() => shiftRight(tf.tensor2d(targets, [B, L], 'int32')));
    const forced = decoderLogits(params, dec, encoded, inputs);
    const full = (await readTensor(forced)) as Float32Array; // [B, L, V]

    let cache = initKvCache(params, dec, encoded);
    const stepped = new Float32Array(B * L * V);
    for (let t = 0; t < L; t++) {
      // The input at t is the target at t − 1 (BOS = 0 at t = 0), as shiftRight makes it for teacher forcing.
      const prev = Int32Array.from({ length: B }, (_, r) => (t === 0 ? 0 : targets[r * L + t - 1]));
      const input = tf.tensor1d(prev, 'int32');
      const out = decoderStep(params, dec, cache, input, t);
      cache = out.cache;
      const logits = (await readTensor(out.logits)) as Float32Array; // [B, V]
      for (let r = 0; r < B; r++) stepped.set(logits.subarray(r * V, (r + 1) * V), (r * L + t) * V);
      tf.dispose([input, out.logits]);
    }
    disposeKvCache(cache);

    expect(full.some((v) => Math.abs(v) > 0.5)).toBe(true); // not trivially equal
    expect(worstDiff(stepped, full)).toBeLessThan(1e-5);
    tf.dispose([inputs, forced, encoded, ...params.values()]);
  });
});

describe.each(['wasm', 'cpu'] as BackendChoice[])('initKvCache with repeat (%s)', (backend) => {
  it('equals the cache of the encodings repeated row by row, exactly', async () => {
    await initBackend(backend, { quiet: true });
    const cfg = modelConfig({ variant: 'mu', imageSize: [16, 16], vocabSize: V, length: L, decoderDepth: 2 });
    const params = initParams(cfg, 5);
    const encoded = tf.randomNormal([B, 4, cfg.decoder.encoderWidth], 0, 1, 'float32', 9) as tf.Tensor3D;
    const tiled = tf.tidy(() => tf.reshape(tf.tile(tf.expandDims(encoded, 1), [1, 3, 1, 1]), [B * 3, 4, -1]));
    const once = initKvCache(params, cfg.decoder, encoded, 3);
    const each = initKvCache(params, cfg.decoder, tiled as tf.Tensor3D);
    for (const k of ['selfKT', 'selfV', 'crossKT', 'crossV'] as const)
      for (let i = 0; i < 2; i++) {
        expect(once[k][i].shape).toEqual(each[k][i].shape);
        expect(Array.from(await readTensor(once[k][i]))).toEqual(Array.from(await readTensor(each[k][i])));
      }
    expect(() => initKvCache(params, cfg.decoder, encoded, 0)).toThrow(RangeError);
    disposeKvCache(once);
    disposeKvCache(each);
    tf.dispose([encoded, tiled, ...params.values()]);
  });
});
