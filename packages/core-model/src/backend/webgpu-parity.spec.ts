// WebGPU computes what the cpu backend computes: teacher-forced log-probs of a `mu` model agree within float32
// tolerance, greedy decoding picks the same tokens, and on webgpu the sampler's log-probs equal the teacher-forced
// scorer's. Runs only where Dawn finds a WebGPU adapter (on CPU machines: Mesa ≥ 24 lavapipe); the
// adapter is looked for in a child process, before any test is declared, so that Jest reports the tests as skipped
// (and the reason is printed) rather than passing them vacuously.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, probeWebgpu, readTensor, webgpuAdapterInChild, WEBGPU_FLAGS, type BackendChoice } from './index';
import { prefixConstraint, tokensTensor } from '../model/logits-processors';
import { globalNorm } from '../optim/clip';
import { attend, causalBias, dense, geluTanh, layerNorm } from '../model/ops';
import { EncoderDecoder, modelConfig } from '../model/encoder-decoder';
import { AdamW } from '../optim/adamw';
import { Rng } from '../rng';
import { patchWebgpuBackend } from './webgpu-internals';

const adapter = webgpuAdapterInChild();
if (!adapter.ok) {
  console.log(`webgpu parity tests skipped: no WebGPU adapter here (${adapter.what})`);
}
const describeWithAdapter = adapter.ok ? describe : describe.skip;

// The `mu` model of encoder-decoder.spec.ts: 16×16 images, 4 patches, vocabulary 12, length 6.
const MU = modelConfig({ variant: 'mu', imageSize: [16, 16], vocabSize: 12, length: 6, decoderDepth: 1 });
const B = 3;
const PIXELS = 16 * 16 * 3;

interface Outputs {
  /** [B, L] teacher-forced log-probs of the fixed targets. */
  readonly scored: Float32Array;
  /** [B, 1, L] greedy tokens and the sampler's log-probs, then the scorer's log-probs of those tokens. */
  readonly greedy: Int32Array;
  readonly greedyLp: Float32Array;
  readonly greedyScored: Float32Array;
  /** [B, 2, L] seeded samples (temperature 1), the sampler's log-probs, and the scorer's. */
  readonly sampledLp: Float32Array;
  readonly sampledScored: Float32Array;
}

/** Everything drawn in JS from fixed seeds, so both backends see bit-identical inputs and parameters. */
async function run(backend: BackendChoice): Promise<Outputs> {
  await initBackend(backend, { quiet: true });
  const model = EncoderDecoder.create(MU, 0);
  const rng = Rng.fromSeed(7);
  // The head starts at zero (uniform logits): random values make the comparison mean something.
  const head = model.params.get('decoder/head/kernel')!;
  head.assign(
    tf.tensor(
      Float32Array.from({ length: head.size }, () => rng.normal()),
      head.shape,
    ),
  );
  const images = tf.tensor4d(
    Float32Array.from({ length: B * 16 * 16 * 3 }, () => 2 * rng.next() - 1),
    [B, 16, 16, 3],
  );
  const targets = tf.tensor2d(
    Int32Array.from({ length: B * 6 }, () => Math.floor(rng.next() * 12)),
    [B, 6],
    'int32',
  );
  const score = async (tokens: Int32Array, rows: number): Promise<Float32Array> => {
    const t = tf.tensor2d(tokens, [rows, 6], 'int32');
    // Row r = b·N + n scores image b (rank-3 tile: webgpu runs rank ≥ 5 tiles on the CPU via a synchronous read).
    const img = tf.tidy(() =>
      tf.reshape(tf.tile(tf.reshape(images, [B, 1, PIXELS]), [1, rows / B, 1]), [rows, 16, 16, 3]),
    );
    const lp = model.tokenLogProbs(img as tf.Tensor4D, t);
    const v = (await readTensor(lp)) as Float32Array;
    tf.dispose([t, lp, img]);
    return v;
  };
  try {
    const scored = await score((await readTensor(targets)) as Int32Array, B);
    const greedy = await model.sample(images, { numSamples: 1, greedy: true });
    const sampled = await model.sample(images, { numSamples: 2, rng: Rng.fromSeed(11) });
    return {
      scored,
      greedy: greedy.tokens,
      greedyLp: greedy.logProbs,
      greedyScored: await score(greedy.tokens, B),
      sampledLp: sampled.logProbs,
      sampledScored: await score(sampled.tokens, 2 * B),
    };
  } finally {
    tf.dispose([images, targets]);
    model.dispose();
  }
}

const maxAbsDiff = (a: Float32Array, b: Float32Array): number => {
  expect(a.length).toBe(b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
};

/**
 * Four plain gradient steps (θ ← θ − 0.1·∇) of the mu model on `backend`: the losses and every parameter after.
 * Plain steps rather than Adam: Adam's normalised update turns a float32 difference in a near-zero gradient into a
 * full-size step of either sign.
 */
async function train(backend: BackendChoice): Promise<{ losses: number[]; params: Float32Array }> {
  await initBackend(backend, { quiet: true });
  const model = EncoderDecoder.create(MU, 0);
  const rng = Rng.fromSeed(5);
  const images = tf.tensor4d(
    Float32Array.from({ length: B * PIXELS }, () => 2 * rng.next() - 1),
    [B, 16, 16, 3],
  );
  const targets = tf.tensor2d(
    Int32Array.from({ length: B * 6 }, () => Math.floor(rng.next() * 12)),
    [B, 6],
    'int32',
  );
  const vars = [...model.params.values()];
  const losses: number[] = [];
  try {
    for (let step = 0; step < 4; step++) {
      const { value, grads } = tf.variableGrads(
        () => tf.neg(tf.mean(model.tokenLogProbs(images, targets))) as tf.Scalar,
        vars,
      );
      losses.push((await readTensor(value))[0]);
      for (const v of vars) v.assign(tf.tidy(() => tf.sub(v, tf.mul(grads[v.name], 0.1))));
      tf.dispose([value, ...Object.values(grads)]);
    }
    const flat = tf.concat(vars.map((v) => tf.reshape(v, [-1])));
    const params = (await readTensor(flat)) as Float32Array;
    flat.dispose();
    return { losses, params };
  } finally {
    tf.dispose([images, targets]);
    model.dispose();
  }
}

/** Runs `f` on a fresh mu model on the current backend, disposing it after. */
function withModel<T>(f: (m: EncoderDecoder) => T): T {
  const model = EncoderDecoder.create(MU, 0);
  try {
    return f(model);
  } finally {
    model.dispose();
  }
}

describeWithAdapter(`webgpu (${adapter.what}) against cpu, mu model`, () => {
  let cpu: Outputs;
  let gpu: Outputs;

  beforeAll(async () => {
    cpu = await run('cpu');
    gpu = await run('webgpu');
  });

  afterAll(async () => {
    await initBackend('wasm', { quiet: true });
  });

  it('the probe in webgpu-probe.ts sees the same adapter', async () => {
    const p = await probeWebgpu();
    expect(p.ok).toBe(true);
  });

  it('webgpu runs with the training-loop flags (deferred submits, no CPU forwarding), which the comparisons here use', async () => {
    await initBackend('webgpu', { quiet: true });
    for (const [k, v] of Object.entries(WEBGPU_FLAGS)) expect(tf.env().get(k)).toBe(v);
  });

  it('a dynamic processor with tensor tokens fails with a clear message on webgpu (no synchronous reads)', async () => {
    await initBackend('webgpu', { quiet: true });
    const dynamic = prefixConstraint(() => null);
    const tokens = tf.zeros([2, 6], 'int32') as tf.Tensor2D;
    const images = tf.zeros([2, 16, 16, 3]) as tf.Tensor4D;
    expect(() => withModel((m) => m.withProcessors([dynamic]).logProbs(images, tokens))).toThrow(
      /on webgpu: make the tokens with tokensTensor/,
    );
    // The documented way works: a tensor made with tokensTensor.
    const known = tokensTensor(new Int32Array(12), [2, 6]);
    const lp = withModel((m) => m.withProcessors([dynamic]).logProbs(images, known));
    expect(lp.shape).toEqual([2, 6, 12]);
    tf.dispose([tokens, images, known, lp]);
  });

  it('a global norm over more gradients than a shader stage may bind (50) is the cpu one', async () => {
    const norm = async (backend: BackendChoice) => {
      await initBackend(backend, { quiet: true });
      const grads = Array.from({ length: 50 }, (_, i) => tf.fill([3, 2], (i % 7) - 3));
      const n = globalNorm(grads);
      const v = (await readTensor(n))[0];
      tf.dispose([...grads, n]);
      return v;
    };
    const onCpu = await norm('cpu');
    expect(onCpu).toBeCloseTo(
      Math.sqrt(6 * [0, 1, 2, 3, 4, 5, 6].reduce((a, k) => a + (k - 3) ** 2 * (k === 0 ? 8 : 7), 0)),
      4,
    );
    expect(await norm('webgpu')).toBeCloseTo(onCpu, 4);
  });

  it('teacher-forced log-probs agree within 1e-4', () => {
    // Log-probs here span −0.01 … −11; float32 reductions in another order differ by a few 1e-6 (measured 3.8e-6
    // on lavapipe).
    expect(cpu.scored.every((x) => x < 0 && Number.isFinite(x))).toBe(true);
    expect(maxAbsDiff(gpu.scored, cpu.scored)).toBeLessThan(1e-4);
  });

  it('greedy decoding picks the same tokens', () => {
    expect(Array.from(gpu.greedy)).toEqual(Array.from(cpu.greedy));
    expect(maxAbsDiff(gpu.greedyLp, cpu.greedyLp)).toBeLessThan(1e-4);
  });

  it('four gradient steps (webgpu-internals.ts: uploads, kept uniforms, memoised bind groups) end where cpu ends', async () => {
    const onCpu = await train('cpu');
    await initBackend('webgpu', { quiet: true });
    const stats = patchWebgpuBackend(tf.backend()); // the backend's counters, since its start
    const before = { ...stats };
    const onGpu = await train('webgpu');
    expect(onCpu.losses[3]).toBeLessThan(onCpu.losses[0]);
    expect(maxAbsDiff(Float32Array.from(onGpu.losses), Float32Array.from(onCpu.losses))).toBeLessThan(1e-4);
    expect(maxAbsDiff(onGpu.params, onCpu.params)).toBeLessThan(1e-4);
    // The patches were on and took their fast paths.
    expect(stats.scalarHits - before.scalarHits).toBeGreaterThan(0);
    expect(stats.uniformHits - before.uniformHits).toBeGreaterThan(0);
    expect(stats.bindGroupHits - before.bindGroupHits).toBeGreaterThan(0);
  });

  it("with the optimizer's update, a training step's bind groups recur: from the fourth step on nearly all are reused", async () => {
    await initBackend('webgpu', { quiet: true });
    const stats = patchWebgpuBackend(tf.backend());
    const model = EncoderDecoder.create(MU, 0);
    const optimizer = new AdamW(model.params, { lr: 1e-3, wd: 0 });
    const vars = [...model.params.values()];
    const names = new Map([...model.params].map(([n, v]) => [v.name, n]));
    const images = tf.randomUniform([B, 16, 16, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    const targets = tf.randomUniform([B, 6], 0, 12, 'int32', 2) as tf.Tensor2D;
    let last = { created: 0, hits: 0 };
    for (let step = 0; step < 5; step++) {
      const before = { ...stats };
      const { value, grads } = tf.variableGrads(
        () => tf.neg(tf.mean(model.tokenLogProbs(images, targets))) as tf.Scalar,
        vars,
      );
      optimizer.apply(model.params, new Map(Object.entries(grads).map(([k, g]) => [names.get(k)!, g])));
      await readTensor(vars[vars.length - 1]);
      tf.dispose([value, ...Object.values(grads)]);
      last = {
        created: stats.bindGroupsCreated - before.bindGroupsCreated,
        hits: stats.bindGroupHits - before.bindGroupHits,
      };
    }
    tf.dispose([images, targets]);
    optimizer.dispose();
    model.dispose();
    // The optimizer's flat update keeps the buffer choices of one step the same as the last's (the plain
    // per-parameter updates of the test above reuse far fewer).
    expect(last.hits).toBeGreaterThan(100);
    expect(last.created).toBeLessThan(0.05 * last.hits);
  });

  it("webgpu-kernels.ts's fused layer norm, GELU and dense+bias: values and gradients as the composed ops on cpu", async () => {
    // Widths below, at and above the kernels' 64 lanes, and not multiples of them.
    const cases: [number, number][] = [
      [5, 40],
      [3, 64],
      [7, 300],
    ];
    const compute = async (backend: BackendChoice) => {
      await initBackend(backend, { quiet: true });
      const out: Float32Array[] = [];
      for (const [n, d] of cases) {
        const rng = Rng.fromSeed(n * 1000 + d);
        const arr = (len: number, scale: number) => Float32Array.from({ length: len }, () => scale * rng.normal());
        const [x, scale, bias, w] = [
          tf.tensor2d(arr(n * d, 3), [n, d]),
          tf.tensor1d(arr(d, 1)),
          tf.tensor1d(arr(d, 1)),
          tf.tensor2d(arr(n * d, 1), [n, d]),
        ];
        const kernel = tf.tensor2d(arr(d * 3, 0.2), [d, 3]);
        const b3 = tf.tensor1d(arr(3, 1));
        const params = new Map([
          ['n/scale', scale],
          ['n/bias', bias],
        ]) as unknown as Parameters<typeof layerNorm>[0];
        const f = (x: tf.Tensor, s: tf.Tensor, b: tf.Tensor, k: tf.Tensor, kb: tf.Tensor) => {
          const p = new Map([
            ['n/scale', s],
            ['n/bias', b],
          ]) as unknown as Parameters<typeof layerNorm>[0];
          const y = geluTanh(layerNorm(p, 'n', x));
          return tf.add(tf.sum(tf.mul(y, w)), tf.sum(tf.mul(dense(y, k, kb), 0.3))) as tf.Scalar;
        };
        const { value, grads } = tf.valueAndGrads(f)([x, scale, bias, kernel, b3]);
        out.push(
          Float32Array.from(await readTensor(value)),
          ...(await Promise.all(grads.map((g) => readTensor(g)))).map((g) => Float32Array.from(g)),
        );
        out.push(Float32Array.from(await readTensor(geluTanh(layerNorm(params, 'n', x)))));
        tf.dispose([x, scale, bias, w, kernel, b3, value, ...grads]);
      }
      return out;
    };
    const onCpu = await compute('cpu');
    const onGpu = await compute('webgpu');
    // The fused kernels are what ran on webgpu.
    const names = new Set((await tf.profile(async () => (await compute('webgpu')).length)).kernels.map((k) => k.name));
    for (const k of ['RtLayerNorm', 'RtLayerNormGradX', 'RtLayerNormDyXhat', 'RtGelu', 'RtGeluGrad', '_FusedMatMul'])
      expect(names).toContain(k);
    expect(onGpu.length).toBe(onCpu.length);
    onCpu.forEach((c, i) => {
      const scale = Math.max(1, ...Array.from(c, Math.abs));
      expect(maxAbsDiff(onGpu[i], c) / scale).toBeLessThan(2e-5);
    });
  });

  it("webgpu-kernels.ts's fused attention softmax: values and gradients as the composed op on cpu, with and without masks", async () => {
    const [b, h, l, s, dh] = [2, 3, 5, 7, 4];
    const compute = async (backend: BackendChoice) => {
      await initBackend(backend, { quiet: true });
      const rng = Rng.fromSeed(3);
      const arr = (len: number) => Float32Array.from({ length: len }, () => rng.normal());
      const [q, k, v, w] = [
        tf.tensor4d(arr(b * h * l * dh), [b, h, l, dh]),
        tf.tensor4d(arr(b * h * s * dh), [b, h, s, dh]),
        tf.tensor4d(arr(b * h * s * dh), [b, h, s, dh]),
        tf.tensor4d(arr(b * h * l * dh), [b, h, l, dh]),
      ];
      // No bias, a causal one [1, 1, L, S] (L = S below) and a padding one [B, 1, 1, S].
      const pad = tf.tensor4d(
        Float32Array.from({ length: b * s }, (_, i) => (i % s >= s - 1 - (i >= s ? 2 : 0) ? -1e9 : 0)),
        [b, 1, 1, s],
      );
      const out: Float32Array[] = [];
      for (const [kk, vv, bias] of [
        [k, v, undefined],
        [tf.slice(k, [0, 0, 0, 0], [b, h, l, dh]), tf.slice(v, [0, 0, 0, 0], [b, h, l, dh]), causalBias(l)],
        [k, v, pad],
      ] as [tf.Tensor, tf.Tensor, tf.Tensor | undefined][]) {
        const f = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(attend(q, k, v, bias), w)) as tf.Scalar;
        const { value, grads } = tf.valueAndGrads(f)([q, kk, vv]);
        out.push(
          Float32Array.from(await readTensor(value)),
          ...(await Promise.all(grads.map((g) => readTensor(g)))).map((g) => Float32Array.from(g)),
        );
      }
      const names = new Set((await tf.profile(() => attend(q, k, v, pad))).kernels.map((x) => x.name));
      tf.dispose([q, k, v, w, pad]);
      return { out, names };
    };
    const onCpu = await compute('cpu');
    const onGpu = await compute('webgpu');
    expect(onGpu.names).toContain('RtScaledSoftmax');
    expect(onCpu.out.length).toBe(12); // three cases × (value, dq, dk, dv)
    onCpu.out.forEach((c, i) => expect(maxAbsDiff(onGpu.out[i], c)).toBeLessThan(1e-4));
  });

  it('on webgpu the sampler reports the teacher-forced log-probs of what it sampled', () => {
    expect(maxAbsDiff(gpu.greedyLp, gpu.greedyScored)).toBeLessThan(1e-5);
    expect(maxAbsDiff(gpu.sampledLp, gpu.sampledScored)).toBeLessThan(1e-5);
  });
});
