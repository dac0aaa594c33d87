// Checkpoints: bit-exact round trips, clear errors for corrupt or mismatched files, atomic writes, the latest/prune
// helpers, and a killed-and-resumed training run that reproduces an uninterrupted one loss for loss.
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the gradients tf.variableGrads needs
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { either as E } from 'fp-ts';
import {
  checkpointPath,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  pruneCheckpoints,
  restoreInto,
  saveCheckpoint,
} from './checkpoint';
import { Adafactor } from './optim/adafactor';
import { writeFileAtomic } from './fs-atomic';
import type { Params } from './model/policy';
import { Rng } from './rng';

let dir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
});
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-spec-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function right<A>(e: E.Either<string, A>): A {
  if (E.isLeft(e)) throw new Error(e.left);
  return e.right;
}

function left<A>(e: E.Either<string, A>): string {
  if (E.isRight(e)) throw new Error('expected a Left');
  return e.left;
}

const bits = (t: tf.Tensor | ArrayLike<number>): number[] => {
  const d = t instanceof tf.Tensor ? (t.dataSync() as Float32Array) : Float32Array.from(t as ArrayLike<number>);
  return Array.from(new Uint32Array(d.buffer, d.byteOffset, d.length));
};

/** A small model: `enc/dense/kernel` [32, 40] (factored by Adafactor), its bias, and a `head/kernel` [40, 1]. */
function initParams(seed: number): Params {
  const rng = Rng.fromSeed(seed);
  const mk = (shape: number[], scale: number): tf.Variable =>
    tf.variable(
      tf.tensor(
        Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * rng.normal()),
        shape,
      ),
    );
  return new Map([
    ['enc/dense/kernel', mk([32, 40], 0.2)],
    ['enc/dense/bias', mk([40], 0.1)],
    ['head/kernel', mk([40, 1], 0.2)],
  ]);
}

const optimizerFor = (params: Params): Adafactor =>
  new Adafactor(params, { lr: 0.02, wd: 1e-3, adafactor: { beta2Cap: 0.95 } });

describe('saveCheckpoint / loadCheckpoint / restoreInto', () => {
  it('round-trips parameters, optimizer state, RNG state, step and config bit-exactly', async () => {
    const params = initParams(1);
    // Special values survive too.
    params
      .get('enc/dense/bias')
      ?.assign(
        tf.tensor1d(
          new Float32Array(Uint32Array.from({ length: 40 }, (_, i) => [0x7fc00001, 0x80000000, 1][i % 3] ?? 0).buffer),
        ),
      );
    const opt = optimizerFor(params);
    const grads = new Map([...params].map(([n, p]) => [n, tf.randomNormal(p.shape, 0, 1, 'float32', 3)]));
    opt.apply(params, grads);
    opt.apply(params, grads);
    const rng = Rng.fromSeed(9);
    rng.next();
    const config = { task: 'mu', optimizer: { name: 'adafactor', lr: 0.02 }, note: 'ünïcode ✓' };
    const file = checkpointPath(path.join(dir, 'checkpoints'), 2);
    await saveCheckpoint(file, { params, optimizer: opt, step: 2, rngState: rng.state(), config });
    expect(path.basename(file)).toBe('step_000002.safetensors');

    const ckpt = right(loadCheckpoint(file));
    expect(ckpt.step).toBe(2);
    expect(ckpt.rngState).toEqual(rng.state());
    expect(ckpt.config).toEqual(config);
    expect(ckpt.optimizer?.step).toBe(2);
    for (const [n, p] of params) expect(bits(ckpt.params.get(n)?.data ?? [])).toEqual(bits(p));

    const fresh = initParams(2);
    const freshOpt = optimizerFor(fresh);
    const restored = right(restoreInto(fresh, freshOpt, ckpt));
    expect(restored).toEqual({ step: 2, rngState: rng.state(), config });
    for (const [n, p] of params) expect(bits(fresh.get(n) as tf.Tensor)).toEqual(bits(p));
    const a = opt.getState();
    const b = freshOpt.getState();
    expect(b.step).toBe(2);
    expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
    for (const [n, t] of a.tensors) expect(bits(b.tensors.get(n) as tf.Tensor)).toEqual(bits(t));
    expect(Rng.fromState(restored.rngState).next()).toBe(rng.next());

    // The save took its snapshot when called: training on while it writes does not leak into the file.
    const before = bits(params.get('head/kernel') as tf.Tensor);
    const racing = saveCheckpoint(file, { params, optimizer: opt, step: 2, rngState: rng.state(), config });
    opt.apply(params, grads);
    await racing;
    expect(bits(right(loadCheckpoint(file)).params.get('head/kernel')?.data ?? [])).toEqual(before);
    expect(bits(params.get('head/kernel') as tf.Tensor)).not.toEqual(before);
    opt.dispose();
    freshOpt.dispose();
  });

  it("saves plain tensor maps and an optimizer state snapshot, with the caller's extra metadata", async () => {
    const params = initParams(3);
    const opt = optimizerFor(params);
    const state = opt.getState();
    const file = checkpointPath(dir, 5);
    await saveCheckpoint(file, {
      params: new Map([...params].map(([n, p]) => [n, p as tf.Tensor])),
      optimizer: { step: state.step, tensors: state.tensors },
      step: 5,
      rngState: Rng.fromSeed(1).state(),
      config: null,
      extra: { phase: 'tune', loop: '{"best":0.5}' },
    });
    const ckpt = right(loadCheckpoint(file));
    expect(ckpt.extra).toEqual({ phase: 'tune', loop: '{"best":0.5}' });
    expect(ckpt.optimizer?.tensors.size).toBe(state.tensors.size);
    for (const [n, p] of params) expect(bits(ckpt.params.get(n)?.data ?? [])).toEqual(bits(p));
    await expect(
      saveCheckpoint(file, { params, step: 5, rngState: Rng.fromSeed(1).state(), config: null, extra: { step: 'x' } }),
    ).rejects.toThrow(/clashes/);
    opt.dispose();
  });

  it('names the file and the tensor for truncated and corrupted files', async () => {
    const params = initParams(1);
    const file = path.join(dir, 'step_000001.safetensors');
    await saveCheckpoint(file, { params, step: 1, rngState: [1, 2, 3, 4], config: {} });
    const bytes = fs.readFileSync(file);

    const truncated = path.join(dir, 'truncated.safetensors');
    fs.writeFileSync(truncated, bytes.subarray(0, bytes.length - 10));
    expect(left(loadCheckpoint(truncated))).toBe(
      `${truncated}: tensor "head/kernel": data_offsets [5280, 5440] out of range: the data section has 5430 bytes (truncated file?)`,
    );
    const badHeader = path.join(dir, 'bad-header.safetensors');
    const copy = Buffer.from(bytes);
    copy.writeUInt32LE(copy.readUInt32LE(0) + 3, 0);
    fs.writeFileSync(badHeader, copy);
    expect(left(loadCheckpoint(badHeader))).toMatch(new RegExp(`^${badHeader}: header is not valid JSON`));
    const missing = path.join(dir, 'nope.safetensors');
    expect(left(loadCheckpoint(missing))).toBe(`${missing}: cannot read checkpoint (ENOENT)`);
    const notOurs = path.join(dir, 'plain.safetensors');
    fs.writeFileSync(notOurs, Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d]));
    expect(left(loadCheckpoint(notOurs))).toBe(
      `${notOurs}: metadata "format" is undefined, not "reward-tune-checkpoint"`,
    );
  });

  it('refuses a mismatched model (shape, missing or extra parameter, dtype) and leaves the target untouched', async () => {
    const params = initParams(1);
    const file = path.join(dir, 'step_000001.safetensors');
    await saveCheckpoint(file, { params, step: 1, rngState: [1, 2, 3, 4], config: {} });
    const ckpt = right(loadCheckpoint(file));

    const wide = initParams(5);
    wide.set('head/kernel', tf.variable(tf.zeros([40, 2])));
    const before = bits(wide.get('enc/dense/kernel') as tf.Tensor);
    expect(left(restoreInto(wide, undefined, ckpt))).toBe(
      `${file}: tensor "head/kernel": shape [40, 1] in the checkpoint, [40, 2] expected`,
    );
    expect(bits(wide.get('enc/dense/kernel') as tf.Tensor)).toEqual(before);

    const extraParam = initParams(5);
    extraParam.set('head/bias', tf.variable(tf.zeros([1])));
    expect(left(restoreInto(extraParam, undefined, ckpt))).toBe(
      `${file}: tensor "head/bias" is missing from the checkpoint`,
    );

    const fewer = initParams(5);
    fewer.delete('enc/dense/bias');
    expect(left(restoreInto(fewer, undefined, ckpt))).toBe(
      `${file}: tensor "enc/dense/bias" in the checkpoint is not expected here`,
    );

    const ints = initParams(5);
    ints.set('enc/dense/bias', tf.variable(tf.zeros([40], 'int32')));
    expect(left(restoreInto(ints, undefined, ckpt))).toBe(
      `${file}: tensor "enc/dense/bias": dtype F32 in the checkpoint, I32 expected`,
    );

    // A checkpoint without optimizer state cannot restore an optimizer; one from another optimizer names a slot.
    const opt = optimizerFor(initParams(5));
    expect(left(restoreInto(initParams(5), opt, ckpt))).toBe(`${file}: holds no optimizer state`);
    const withOpt = path.join(dir, 'step_000002.safetensors');
    const small = new Adafactor(params, { lr: 1, adafactor: { minDimSizeToFactor: 1000 } });
    await saveCheckpoint(withOpt, { params, optimizer: small, step: 2, rngState: [1, 2, 3, 4], config: {} });
    expect(left(restoreInto(initParams(5), opt, right(loadCheckpoint(withOpt))))).toBe(
      `${withOpt}: tensor "opt/enc/dense/kernel/v_row" is missing from the checkpoint (and 2 more problems)`,
    );
    opt.dispose();
    small.dispose();
  });
});

describe('atomic writes', () => {
  it('leaves the previous file intact and no temp file when a save fails midway', async () => {
    const file = path.join(dir, 'step_000003.safetensors');
    const params = initParams(1);
    await saveCheckpoint(file, { params, step: 3, rngState: [1, 2, 3, 4], config: { v: 'old' } });
    const old = fs.readFileSync(file);

    // Reading the second tensor fails: the header and the first tensor are already in the temp file by then.
    const data = tf.Tensor.prototype.data;
    const spy = jest.spyOn(tf.Tensor.prototype, 'data');
    spy.mockImplementationOnce(function (this: tf.Tensor) {
      return data.call(this);
    });
    spy.mockRejectedValueOnce(new Error('device lost'));
    await expect(
      saveCheckpoint(file, { params: initParams(2), step: 3, rngState: [1, 2, 3, 4], config: { v: 'new' } }),
    ).rejects.toThrow('device lost');
    expect(spy).toHaveBeenCalledTimes(2);
    spy.mockRestore();
    expect(fs.readFileSync(file).equals(old)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['step_000003.safetensors']);

    const fresh = path.join(dir, 'sub', 'new.bin');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(1024);
      throw new Error('disk full');
    }
    await expect(writeFileAtomic(fresh, failing())).rejects.toThrow('disk full');
    expect(fs.readdirSync(path.join(dir, 'sub'))).toEqual([]);
    await writeFileAtomic(fresh, [Uint8Array.from([1, 2]), Uint8Array.from([3])]);
    expect(Array.from(fs.readFileSync(fresh))).toEqual([1, 2, 3]);
  });
});

describe('checkpoint directory helpers', () => {
  it('finds the highest step and keeps only the last K', () => {
    expect(latestCheckpoint(path.join(dir, 'absent'))).toBeUndefined();
    expect(latestCheckpoint(dir)).toBeUndefined();
    for (const step of [10, 1, 1_000_000, 999_999]) fs.writeFileSync(checkpointPath(dir, step), '');
    fs.writeFileSync(path.join(dir, '.step_000011.safetensors.tmp-1-x'), '');
    fs.writeFileSync(path.join(dir, 'step_12.json'), '');
    expect(path.basename(checkpointPath(dir, 1_000_000))).toBe('step_1000000.safetensors');
    expect(listCheckpoints(dir).map(([s]) => s)).toEqual([1, 10, 999_999, 1_000_000]);
    expect(latestCheckpoint(dir)).toBe(checkpointPath(dir, 1_000_000));
    expect(pruneCheckpoints(dir, 2)).toEqual([checkpointPath(dir, 1), checkpointPath(dir, 10)]);
    expect(fs.readdirSync(dir).sort()).toEqual(
      [
        '.step_000011.safetensors.tmp-1-x',
        'step_999999.safetensors',
        'step_1000000.safetensors',
        'step_12.json',
      ].sort(),
    );
    expect(() => pruneCheckpoints(dir, 0)).toThrow(RangeError);
  });
});

describe('resuming a killed run', () => {
  const STEPS = 10;
  const BATCH = 16;

  /** The regression data: y = tanh(x·w* / 4), 64 examples of 32 features, fixed by its own seed. */
  function dataset(): { x: Float32Array; y: Float32Array } {
    const rng = Rng.fromSeed(1234);
    const w = Array.from({ length: 32 }, () => rng.normal());
    const x = Float32Array.from({ length: 64 * 32 }, () => rng.normal());
    const y = Float32Array.from({ length: 64 }, (_, i) =>
      Math.tanh(w.reduce((a, wj, j) => a + wj * x[i * 32 + j], 0) / 4),
    );
    return { x, y };
  }

  /** Runs steps [from, to): each draws a batch with `rng`, takes the MSE gradient of a 2-layer MLP, applies it. */
  function train(params: Params, opt: Adafactor, rng: Rng, from: number, to: number): number[] {
    const { x, y } = dataset();
    const losses: number[] = [];
    for (let step = from; step < to; step++) {
      const idx = Array.from({ length: BATCH }, () => rng.int(64));
      const loss = tf.tidy(() => {
        const xb = tf.tensor2d(
          idx.flatMap((i) => Array.from(x.subarray(i * 32, i * 32 + 32))),
          [BATCH, 32],
        ); // [B, 32]
        const yb = tf.tensor2d(
          idx.map((i) => y[i]),
          [BATCH, 1],
        ); // [B, 1]
        const { value, grads } = tf.variableGrads(() => {
          const h = tf.relu(
            tf.add(
              tf.matMul(xb, params.get('enc/dense/kernel') as tf.Variable),
              params.get('enc/dense/bias') as tf.Variable,
            ),
          ); // [B, 40]
          const pred = tf.matMul(h, params.get('head/kernel') as tf.Variable); // [B, 1]
          return tf.mean(tf.square(tf.sub(pred, yb))) as tf.Scalar;
        });
        // variableGrads keys gradients by the variables' (auto-generated) names: map them back to parameter names.
        const byVar = new Map([...params].map(([n, v]) => [v.name, n]));
        opt.apply(params, new Map(Object.entries(grads).map(([v, g]) => [byVar.get(v) as string, g])));
        return value;
      });
      losses.push(loss.dataSync()[0]);
      loss.dispose();
    }
    return losses;
  }

  it('continues with bit-identical losses after save, a fresh state and load', async () => {
    const straightParams = initParams(42);
    const straightOpt = optimizerFor(straightParams);
    const straight = train(straightParams, straightOpt, Rng.fromSeed(7), 0, STEPS);

    // Killed after 5 steps, having saved a checkpoint.
    const file = checkpointPath(path.join(dir, 'checkpoints'), 5);
    {
      const params = initParams(42);
      const opt = optimizerFor(params);
      const rng = Rng.fromSeed(7);
      const first = train(params, opt, rng, 0, 5);
      expect(first).toEqual(straight.slice(0, 5));
      await saveCheckpoint(file, { params, optimizer: opt, step: 5, rngState: rng.state(), config: { seed: 7 } });
      opt.dispose();
      tf.dispose([...params.values()]);
    }

    // A fresh process: different initial weights and RNG, then everything comes from the checkpoint.
    const params = initParams(99);
    const opt = optimizerFor(params);
    const ckptFile = latestCheckpoint(path.join(dir, 'checkpoints')) as string;
    const restored = right(restoreInto(params, opt, right(loadCheckpoint(ckptFile))));
    expect(restored.step).toBe(5);
    const resumed = train(params, opt, Rng.fromState(restored.rngState), restored.step, STEPS);

    expect(resumed).toEqual(straight.slice(5));
    for (const [n, p] of straightParams) expect(bits(params.get(n) as tf.Tensor)).toEqual(bits(p));
    // The run learns, so the comparison is between non-trivial trajectories.
    expect(straight[STEPS - 1]).toBeLessThan(straight[0]);
    opt.dispose();
    straightOpt.dispose();
  });
});
