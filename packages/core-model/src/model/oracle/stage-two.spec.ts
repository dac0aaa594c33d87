// Stage II over a frozen oracle: the targets are the frozen code plus one, batched decoding of tokens equals the
// oracle decoder on token − 1 (and row by row), token 0 is refused and suppressed; the stage I checkpoint round trip
// with its content hash.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/Either';
import { initBackend } from '../../backend';
import { loadCheckpoint, saveCheckpoint } from '../../checkpoint';
import { Rng } from '../../rng';
import { loadOracle, oracleCheckpointTensors, saveOracle } from './checkpoint';
import { ORACLE_PRESETS, oracleConfig, type OracleConfig } from './config';
import { disposeOracle, initOracle, oracleDecode, oracleEncode, type OracleModel } from './oracle';
import { decodeStageTwo, stageTwoCodes, stageTwoProcessors, stageTwoTargets } from './stage-two';

const MU: OracleConfig = oracleConfig({
  ...ORACLE_PRESETS.mu,
  outputs: [
    { name: 'seg', channels: 3, loss: 'xent' },
    { name: 'rgb', channels: 3, loss: 'mse' },
  ],
});

beforeAll(async () => {
  await initBackend('wasm', { quiet: true });
});

/** Random one-hot `seg`, random `rgb` and context for B examples at the mu size (16×16). */
function batch(b: number, seed: number) {
  const rng = Rng.fromSeed(seed);
  const n = b * 16 * 16;
  const cls = Int32Array.from({ length: n }, () => rng.int(3));
  const seg = tf.tidy(() => tf.cast(tf.reshape(tf.oneHot(tf.tensor1d(cls, 'int32'), 3), [b, 16, 16, 3]), 'float32'));
  const rgb = tf.tensor4d(
    Float32Array.from({ length: n * 3 }, () => rng.next() * 2 - 1),
    [b, 16, 16, 3],
  );
  const ctx = tf.tensor4d(
    Float32Array.from({ length: n * 3 }, () => rng.next() * 2 - 1),
    [b, 16, 16, 3],
  );
  return { labels: { seg: seg as tf.Tensor4D, rgb }, ctx };
}

/** A mu oracle whose heads are not zero (so that the decoder's output depends on the code). */
function oracle(seed: number): OracleModel {
  const m = initOracle(MU, seed);
  for (const [n, v] of m.params) if (n.startsWith('head_')) v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', seed));
  return m;
}

describe('stage II targets', () => {
  it('equal the frozen code plus one, [B·L], leaving no tensor behind and the dictionary as it was', async () => {
    const m = oracle(1);
    const frozen = { cfg: MU, params: m.params, state: m.state };
    const b = batch(5, 2);
    const enc = await oracleEncode(m.params, m.state, MU, b.labels, b.ctx);
    const dict = Float32Array.from(m.state.dictionary);
    const before = tf.memory().numTensors;
    const targets = await stageTwoTargets(frozen, b.labels, b.ctx);
    expect(tf.memory().numTensors).toBe(before);
    expect(targets).toHaveLength(5 * MU.codeLen);
    expect(targets).toEqual(Int32Array.from(enc.codes, (c) => c + 1));
    expect(Math.min(...targets)).toBeGreaterThanOrEqual(1); // 0 stays pad/BOS
    expect(Math.max(...targets)).toBeLessThanOrEqual(MU.dictSize);
    expect(new Set(targets).size).toBeGreaterThan(1);
    expect(m.state.dictionary).toEqual(dict);
    // Deterministic.
    expect(await stageTwoTargets(frozen, b.labels, b.ctx)).toEqual(targets);
    tf.dispose([enc.preQuant, enc.quantised, ...Object.values(b.labels), b.ctx]);
    disposeOracle(m);
  });
});

describe('stage II decoding', () => {
  it('a batch of token rows decodes as the oracle decodes token − 1, and as decoding one row at a time', async () => {
    const m = oracle(3);
    const frozen = { cfg: MU, params: m.params, state: m.state };
    const r = 6;
    const rng = Rng.fromSeed(4);
    const tokens = Int32Array.from({ length: r * MU.codeLen }, () => 1 + rng.int(MU.dictSize));
    const { ctx, labels } = batch(r, 5);
    const all = decodeStageTwo(frozen, tokens, ctx);
    const direct = oracleDecode(
      m.params,
      m.state,
      MU,
      Int32Array.from(tokens, (t) => t - 1),
      ctx,
    );
    expect(all.seg.shape).toEqual([r, 16, 16, 3]);
    expect(await all.rgb.data()).toEqual(await direct.rgb.data());
    const batched = { seg: await all.seg.data(), rgb: await all.rgb.data() };
    const per = 16 * 16 * 3;
    for (let i = 0; i < r; i++) {
      const row = tokens.subarray(i * MU.codeLen, (i + 1) * MU.codeLen);
      const one = tf.slice(ctx, [i, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
      const single = decodeStageTwo(frozen, row, one);
      for (const key of ['seg', 'rgb'] as const) {
        const got = await single[key].data();
        const want = batched[key].subarray(i * per, (i + 1) * per);
        // Batched matMuls may sum in another order: equal to float32 rounding (measured ≤ 7e-6 on values ~2).
        for (let k = 0; k < per; k++)
          expect(Math.abs(got[k] - want[k])).toBeLessThan(1e-5 * Math.max(1, Math.abs(want[k])));
      }
      tf.dispose([one, ...Object.values(single)]);
    }
    tf.dispose([...Object.values(all), ...Object.values(direct), ctx, ...Object.values(labels)]);
    disposeOracle(m);
  });

  it('token 0 (pad/BOS) and tokens past the dictionary are refused; the processors suppress 0', () => {
    expect(stageTwoCodes(Int32Array.from([1, 16, 2, 3]), MU)).toEqual(Int32Array.from([0, 15, 1, 2]));
    expect(() => stageTwoCodes(Int32Array.from([1, 0, 2, 3]), MU)).toThrow(
      /^stage II: token 0 at 1 is not a code token \(1\.\.16\); the model must suppress token 0/,
    );
    expect(() => stageTwoCodes(Int32Array.from([1, 17, 2, 3]), MU)).toThrow(/token 17 at 1/);
    expect(() => stageTwoCodes(Int32Array.from([1, 2, 3]), MU)).toThrow(/not a whole number of codes of length 4/);
    const [p] = stageTwoProcessors();
    const allowed = new Uint8Array(2 * 17).fill(1);
    p.restrict({ rows: 2, vocabSize: 17, position: 0, length: 4, tokens: new Int32Array(8) }, allowed);
    expect(allowed[0]).toBe(0);
    expect(allowed[17]).toBe(0);
    expect(allowed.reduce((a, v) => a + v, 0)).toBe(2 * 16);
  });
});

describe('stage I checkpoints', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(path.join(tmpdir(), 'oracle-ckpt-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round trip: parameters, state and config come back; the content hash ignores the optimizer and metadata', async () => {
    const m = oracle(6);
    const state = { ...m.state, counts: Float32Array.from(m.state.counts, (c, i) => c + i / 7) };
    const model = { params: m.params, state };
    const a = path.join(dir, 'a.safetensors');
    await saveOracle(a, model, MU, { step: 12, config: { task: 'x' } });
    const loaded = loadOracle(a);
    if (E.isLeft(loaded)) throw new Error(loaded.left);
    const o = loaded.right;
    expect(o.cfg).toEqual(MU);
    expect(o.step).toBe(12);
    expect(o.state.counts).toEqual(state.counts);
    expect(o.state.dictionary).toEqual(state.dictionary);
    for (const [n, v] of m.params) expect(await o.params.get(n)!.data()).toEqual(await v.data());
    expect(o.sha256).toMatch(/^[0-9a-f]{64}$/);
    // The same content saved elsewhere with another step, config and an optimizer-like tensor: the same hash.
    const b = path.join(dir, 'b.safetensors');
    const { tensors, dispose } = oracleCheckpointTensors(model);
    const slot = tf.zeros([2]);
    await saveCheckpoint(b, {
      params: tensors,
      optimizer: { step: 3, tensors: new Map([['w/m', slot]]) },
      step: 99,
      rngState: Rng.fromSeed(9).state(),
      config: { other: true },
      extra: { oracle_config: JSON.stringify(MU), phase: 'oracle' },
    });
    dispose();
    const again = loadOracle(b);
    expect(E.isRight(again) && again.right.sha256).toBe(o.sha256);
    // One count changed: another oracle.
    const c = path.join(dir, 'c.safetensors');
    const changed = { ...state, counts: Float32Array.from(state.counts, (v, i) => (i === 3 ? v + 1 : v)) };
    await saveOracle(c, { params: m.params, state: changed }, MU);
    const other = loadOracle(c);
    expect(E.isRight(other) && other.right.sha256).not.toBe(o.sha256);
    for (const r of [loaded, again, other]) if (E.isRight(r)) disposeOracle(r.right);
    tf.dispose(slot);
    disposeOracle(m);
  });

  it('a checkpoint without the oracle config, or with a bad one, is one line naming the file and field', async () => {
    const plain = path.join(dir, 'plain.safetensors');
    await saveCheckpoint(plain, {
      params: new Map([['w', tf.zeros([1])]]),
      step: 1,
      rngState: Rng.fromSeed(0).state(),
      config: {},
    });
    expect(loadOracle(plain)).toEqual(
      E.left(`${plain}: not a stage I (oracle) checkpoint: metadata "oracle_config" is missing`),
    );
    const bad = path.join(dir, 'bad.safetensors');
    await saveCheckpoint(bad, {
      params: new Map([['w', tf.zeros([1])]]),
      step: 1,
      rngState: Rng.fromSeed(0).state(),
      config: {},
      extra: { oracle_config: JSON.stringify({ ...MU, dictSize: 1 }) },
    });
    expect(loadOracle(bad)).toEqual(E.left(`${bad}: metadata "oracle_config": dictSize: must be at least 2, got 1`));
    // A parameter missing from the file.
    const m = initOracle(MU, 0);
    const { tensors, dispose } = oracleCheckpointTensors(m);
    tensors.delete('decoder_stem/bias');
    const missing = path.join(dir, 'missing.safetensors');
    await saveCheckpoint(missing, {
      params: tensors,
      step: 1,
      rngState: Rng.fromSeed(0).state(),
      config: {},
      extra: { oracle_config: JSON.stringify(MU) },
    });
    dispose();
    const r = loadOracle(missing);
    expect(E.isLeft(r) && r.left).toBe(`${missing}: tensor "decoder_stem/bias" is missing from the checkpoint`);
    expect(E.isLeft(r) && r.left.split('\n')).toHaveLength(1);
    expect(E.isLeft(loadCheckpoint(path.join(dir, 'none.safetensors')))).toBe(true);
    disposeOracle(m);
  });
});
