// wasm-simd.ts's compiler on a memory of its own (each input kind, whole vectors and the remainder), and the fused
// wasm kernels of wasm-fused.ts inside model/ops.ts's GELU, layer norm, attention and dense layer, and inside the
// optimizers' updates: values (and gradients, and optimizer state) bit for bit equal to the composed ops they
// replace, with the fused kernels seen to run.
import * as tf from '@tensorflow/tfjs-core';
import { fusedWasm, initBackend, setWasmFused } from './index';
import { abs, add, constant, div, ifGt, ifNeg, input, mul, shl23, sqrt, sub } from './wasm-expr';
import { instantiateSimd, simdModuleBytes, type SimdKernel } from './wasm-simd';
import { attend, causalBias, dense, geluTanh, layerNorm, multiHeadAttention } from '../model/ops';
import type { Params } from '../model/policy';
import { Adafactor, AdamW, type ChainConfig, type Optimizer } from '../optim';

const WebAssembly = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => object } })
  .WebAssembly;

describe('wasm-simd compiler', () => {
  const [a, b, c, d] = [input(0), input(1), input(2), input(3)];
  const k: SimdKernel = { name: 'k', inputs: ['full', 'row', 'col', 'scalar'], expr: sub(add(mul(a, b), c), d) };

  it('builds a module that reads each input kind as documented, remainders included', () => {
    const memory = new WebAssembly.Memory({ initial: 1 }) as { buffer: ArrayBuffer };
    const fns = instantiateSimd(memory, [k])!;
    expect(fns).toBeDefined();
    const rows = 3,
      width = 7; // one whole vector and three more per row
    const f32 = new Float32Array(memory.buffer);
    const [X, ROW, COL, S, OUT] = [0, 1024, 2048, 3072, 4096]; // element offsets
    for (let i = 0; i < rows * width; i++) f32[X + i] = Math.fround(Math.sin(i + 1) * 3.3);
    for (let j = 0; j < width; j++) f32[ROW + j] = Math.fround(1.7 - j * 0.31);
    for (let r = 0; r < rows; r++) f32[COL + r] = Math.fround(r * 0.77 - 0.5);
    f32[S] = Math.fround(0.123);
    f32[OUT + rows * width] = 42; // just past the output: must stay
    fns.k(OUT * 4, rows, width * 4, X * 4, ROW * 4, COL * 4, S * 4);
    const fr = Math.fround;
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < width; j++) {
        const want = fr(fr(fr(f32[X + r * width + j] * f32[ROW + j]) + f32[COL + r]) - f32[S]);
        expect(f32[OUT + r * width + j]).toBe(want);
      }
    }
    expect(f32[OUT + rows * width]).toBe(42);
  });

  it.each(['sum', 'mean'] as const)(
    "a '%s' kernel sums each row in order, four rows at a time and the rest alone",
    (reduce) => {
      const m: SimdKernel = { ...k, name: 'm', reduce };
      const memory = new WebAssembly.Memory({ initial: 1 }) as { buffer: ArrayBuffer };
      const fns = instantiateSimd(memory, [m])!;
      const rows = 11, // two groups of four (a `col` input's values loaded again for the second), three alone
        width = 11; // two 4 × 4 blocks and three columns gathered
      const f32 = new Float32Array(memory.buffer);
      const [X, ROW, COL, S, OUT] = [0, 1024, 2048, 3072, 4096];
      for (let i = 0; i < rows * width; i++) f32[X + i] = Math.fround(Math.sin(i + 1) * 3.3 * 10 ** ((i % 5) - 2));
      for (let j = 0; j < width; j++) f32[ROW + j] = Math.fround(1.7 - j * 0.31);
      for (let r = 0; r < rows; r++) f32[COL + r] = Math.fround(r * 0.77 - 0.5);
      f32[S] = Math.fround(0.123);
      f32[OUT + rows] = 42;
      fns.m(OUT * 4, rows, width * 4, X * 4, ROW * 4, COL * 4, S * 4);
      const fr = Math.fround;
      for (let r = 0; r < rows; r++) {
        let sum = 0;
        for (let j = 0; j < width; j++)
          sum = fr(sum + fr(fr(fr(f32[X + r * width + j] * f32[ROW + j]) + f32[COL + r]) - f32[S]));
        expect(f32[OUT + r]).toBe(reduce === 'sum' ? sum : fr(sum / width));
      }
      expect(f32[OUT + rows]).toBe(42);
    },
  );

  it('divides and takes square roots as IEEE float32 does, remainders included', () => {
    const q: SimdKernel = { name: 'q', inputs: ['full', 'scalar'], expr: div(constant(1), sqrt(add(a, b))) };
    const memory = new WebAssembly.Memory({ initial: 1 }) as { buffer: ArrayBuffer };
    const fns = instantiateSimd(memory, [q])!;
    const n = 23; // five whole vectors and three more
    const f32 = new Float32Array(memory.buffer);
    const [X, S, OUT] = [0, 1024, 2048];
    for (let i = 0; i < n; i++) f32[X + i] = Math.fround(Math.exp(Math.sin(i + 1) * 20));
    f32[X] = -1; // a NaN from the root
    f32[S] = Math.fround(1e-30);
    fns.q(OUT * 4, 1, n * 4, X * 4, S * 4);
    const fr = Math.fround;
    for (let i = 0; i < n; i++) expect(f32[OUT + i]).toBe(fr(1 / fr(Math.sqrt(fr(f32[X + i] + f32[S])))));
  });

  it('writes each of several outputs in one pass, remainders included', () => {
    const mo: SimdKernel = { name: 'mo', inputs: ['full', 'scalar'], expr: add(a, b), more: [mul(a, a), sub(b, a)] };
    const memory = new WebAssembly.Memory({ initial: 1 }) as { buffer: ArrayBuffer };
    const fns = instantiateSimd(memory, [mo])!;
    const rows = 2,
      width = 6; // a whole vector and two more per row
    const f32 = new Float32Array(memory.buffer);
    const [X, S, O0, O1, O2] = [0, 1024, 2048, 3072, 4096];
    for (let i = 0; i < rows * width; i++) f32[X + i] = Math.fround(Math.cos(i + 1) * 7.1);
    f32[S] = Math.fround(0.3);
    fns.mo(O0 * 4, rows, width * 4, X * 4, S * 4, O1 * 4, O2 * 4);
    const fr = Math.fround;
    for (let i = 0; i < rows * width; i++) {
      const x = f32[X + i];
      expect([f32[O0 + i], f32[O1 + i], f32[O2 + i]]).toEqual([fr(x + f32[S]), fr(x * x), fr(f32[S] - x)]);
    }
    expect(() => simdModuleBytes([{ ...mo, reduce: 'sum' }])).toThrow('a reduction has one output');
  });

  it('computes the exact operations and shared terms in each of its loops (four vectors, one, one value)', () => {
    // x > 1 ? |x| : 2^n (n from the low bits of x + 12582912, the magic-number trick), then the sign select; `t`
    // is used by both outputs and in both branches, so it is computed once per element.
    const t = mul(add(a, constant(12582912)), constant(1));
    const e = ifNeg(a, sub(constant(0), t), ifGt(a, constant(1), abs(a), shl23(t)));
    const x: SimdKernel = { name: 'x', inputs: ['full'], expr: e, more: [add(t, e)] };
    const memory = new WebAssembly.Memory({ initial: 1 }) as { buffer: ArrayBuffer };
    const fns = instantiateSimd(memory, [x])!;
    const rows = 3,
      width = 27; // four vectors, two more, three values
    const f32 = new Float32Array(memory.buffer);
    const [X, O0, O1] = [0, 1024, 2048];
    for (let i = 0; i < rows * width; i++) f32[X + i] = Math.fround(((i * 7) % 23) - 11 + (i % 2 ? 0.25 : 0));
    fns.x(O0 * 4, rows, width * 4, X * 4, O1 * 4);
    const fr = Math.fround;
    const bitsOf = new Int32Array(1),
      floatOf = new Float32Array(bitsOf.buffer);
    for (let i = 0; i < rows * width; i++) {
      const v = f32[X + i];
      const tv = fr(v + 12582912);
      floatOf[0] = tv;
      bitsOf[0] <<= 23;
      const want = v < 0 || Object.is(v, -0) ? fr(0 - tv) : v > 1 ? Math.abs(v) : floatOf[0];
      expect([f32[O0 + i], f32[O1 + i]]).toEqual([want, fr(tv + want)]);
    }
  });

  it('emits a module the engine validates', () => {
    const wasm = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly;
    expect(wasm.validate(simdModuleBytes([k, { ...k, name: 'm', reduce: 'mean' }]))).toBe(true);
  });
});

/** Float32 values of t, as bits (so that −0 and NaN compare exactly too). */
const bits = async (t: tf.Tensor): Promise<number[]> =>
  Array.from(new Uint32Array(new Float32Array(await t.data()).buffer));

/** f's outputs and the gradients of sum(outputs · dy) for its inputs, fused kernels on or off; and the kernels run. */
async function run(
  on: boolean,
  f: (...x: tf.Tensor[]) => tf.Tensor,
  xs: tf.Tensor[],
): Promise<{ values: number[][]; kernels: string[] }> {
  setWasmFused(on);
  try {
    const dy = tf.randomNormal(f(...xs).shape, 0, 1, 'float32', 7);
    const values: number[][] = [];
    const prof = await tf.profile(async () => {
      const y = f(...xs);
      const g = tf.grads((...x: tf.Tensor[]) => f(...x))(xs, dy);
      for (const t of [y, ...g]) values.push(await bits(t));
    });
    return { values, kernels: prof.kernelNames };
  } finally {
    setWasmFused(true);
  }
}

describe('fused wasm kernels in model/ops.ts', () => {
  beforeAll(async () => {
    await initBackend('wasm', { quiet: true });
  });

  const normal = (shape: number[], seed: number, scale = 1) =>
    tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), scale);

  it('run on wasm', () => {
    expect(fusedWasm()).toBe(true);
    setWasmFused(false);
    expect(fusedWasm()).toBe(false);
    setWasmFused(true);
  });

  const norm = (x: tf.Tensor, scale: tf.Tensor, bias: tf.Tensor) =>
    layerNorm(
      new Map([
        ['n/scale', scale as tf.Variable],
        ['n/bias', bias as tf.Variable],
      ]),
      'n',
      x,
    );
  const cases: [string, string | string[], () => tf.Tensor[], (...x: tf.Tensor[]) => tf.Tensor][] = [
    ['GELU, 4 × 130 (a remainder)', 'RtGelu', () => [normal([4, 130], 1, 4)], (x) => geluTanh(x)],
    ['GELU, 2048 × 64', 'RtGeluGradPost', () => [normal([2048, 64], 2, 3)], (x) => geluTanh(x)],
    ['layer norm, 33 × 18', 'RtLnGradX', () => [normal([33, 18], 3, 5), normal([18], 4), normal([18], 5)], norm],
    [
      'layer norm, 64 × 128 (whole groups of four rows)',
      ['RtRowMean', 'RtLnVariance', 'RtLnMeanG', 'RtLnMeanGXhat'],
      () => [normal([64, 128], 13, 3), normal([128], 14), normal([128], 15)],
      norm,
    ],
    [
      'causal self-attention, 2 × 3 heads × 9 × 5',
      'RtSoftmaxGradDs',
      () => [normal([2, 3, 9, 5], 6), normal([2, 3, 9, 5], 7), normal([2, 3, 9, 5], 8)],
      (q, k, v) => attend(q, k, v, causalBias(9)),
    ],
    [
      'attention without a mask, 9 queries × 13 keys',
      ['RtScoresScalarBias', 'RtSoftmaxGradR'],
      () => [normal([2, 2, 9, 6], 9), normal([2, 2, 13, 6], 10), normal([2, 2, 13, 6], 11)],
      (q, k, v) => attend(q, k, v),
    ],
    [
      'multi-head cross-attention, the projection biases added in the head split (2 heads of 8)',
      'RtSplitHeadsBias',
      () => [
        normal([2, 5, 12], 20),
        normal([2, 7, 12], 21),
        ...['query', 'key', 'value', 'out'].flatMap((_, i) => [
          normal([i < 3 ? 12 : 16, 16], 22 + i),
          normal([16], 26 + i),
        ]),
      ],
      (xq, xkv, ...w) =>
        multiHeadAttention(
          new Map(
            ['query', 'key', 'value', 'out'].flatMap((n, i) => [
              [`a/${n}/kernel`, w[2 * i] as tf.Variable],
              [`a/${n}/bias`, w[2 * i + 1] as tf.Variable],
            ]),
          ),
          'a',
          2,
          xq,
          xkv,
        ),
    ],
    [
      'dense layer with bias, 37 × 11 → 7',
      'RtAddRow',
      () => [normal([37, 11], 12), normal([11, 7], 13), normal([7], 14)],
      (x, w, b) => dense(x, w, b),
    ],
  ];

  it.each(cases)('%s: values and gradients as the composed ops, bit for bit', async (_name, kernel, make, f) => {
    const xs = make();
    const fused = await run(true, f, xs);
    const composed = await run(false, f, xs);
    for (const name of [kernel].flat()) expect(fused.kernels).toContain(name);
    expect(composed.kernels.some((k) => k.startsWith('Rt'))).toBe(false);
    expect(fused.values.length).toBe(composed.values.length);
    fused.values.forEach((v, i) => expect(v).toEqual(composed.values[i]));
    tf.dispose(xs);
  });

  it('a mask that differs by batch row stays on the composed ops', async () => {
    const q = normal([2, 1, 3, 4], 15);
    const mask = tf.tensor4d([0, -1e9, 0, 0, 0, 0, 0, -1e9, 0, 0, 0, 0, 0, 0, 0, -1e9, 0, 0], [2, 1, 3, 3]);
    const prof = await tf.profile(() => attend(q, q, q, mask));
    expect(prof.kernelNames.some((k) => k.startsWith('Rt'))).toBe(false);
  });
});

describe('fused wasm kernels in the optimizers', () => {
  beforeAll(async () => {
    await initBackend('wasm', { quiet: true });
  });

  // Cases are rows of four (jest would take a missing fourth argument for its `done` callback).
  // 2 + 7 + 12 + 31 elementwise elements (whole vectors and remainders); a matrix Adafactor factors (both dims ≥ 32).
  const shapes: Record<string, number[]> = {
    'a/bias': [7],
    'a/kernel': [3, 4],
    'b/scale': [31],
    'c/kernel': [2, 1],
    'f/kernel': [40, 33],
  };

  // Seeds start at 1: tfjs takes a seed of 0 for none.
  /** Parameters and optimizer state after three updates, as bits, fused kernels on or off; and the kernels run. */
  async function train(
    on: boolean,
    make: (p: Params) => Optimizer,
    missing: string | null,
  ): Promise<{ values: number[][]; kernels: string[] }> {
    setWasmFused(on);
    try {
      const params: Params = new Map(
        Object.entries(shapes).map(([n, s], i) => [n, tf.variable(tf.randomNormal(s, 0, 1, 'float32', i + 1))]),
      );
      const opt = make(params);
      const kernels: string[] = [];
      for (let t = 0; t < 3; t++) {
        const names = Object.keys(shapes).filter((n) => !(t === 1 && n === missing));
        const grads = new Map(names.map((n, i) => [n, tf.randomNormal(shapes[n], 0, 1, 'float32', 10 * t + i + 1)]));
        kernels.push(...(await tf.profile(() => opt.apply(params, grads))).kernelNames);
        tf.dispose([...grads.values()]);
      }
      const values: number[][] = [];
      for (const p of params.values()) values.push(await bits(p));
      for (const [, st] of [...opt.getState().tensors].sort(([x], [y]) => x.localeCompare(y)))
        values.push(await bits(st));
      opt.dispose();
      tf.dispose([...params.values()]);
      return { values, kernels };
    } finally {
      setWasmFused(true);
    }
  }

  const base: ChainConfig = { lr: 0.05, schedule: { kind: 'cosine', warmupSteps: 1, totalSteps: 3 } };
  const cases: [string, string[], (p: Params) => Optimizer, string | null][] = [
    // The flat group in one kernel (RtAdamGroup): its step without, with one, and with a per-element weight decay.
    ['AdamW', ['RtAdamGroup'], (p) => new AdamW(p, base), null],
    ['AdamW with weight decay on kernels', ['RtAdamGroup'], (p) => new AdamW(p, { ...base, wd: 0.1 }), null],
    [
      'AdamW with weight decay on all',
      ['RtAdamGroup'],
      (p) => new AdamW(p, { ...base, wd: 0.1, wdMults: [['.*', 0.5]] }),
      null,
    ],
    // The flat buffers' path, where the group kernel does not apply: clipping, a missing gradient, lr multipliers.
    [
      'AdamW clipped, flat',
      ['RtAdamM', 'RtAdamV', 'RtAdamU', 'RtStepWdEach'],
      (p) => new AdamW(p, { ...base, wd: 0.1, gradClipNorm: 1 }),
      null,
    ],
    [
      'AdamW per parameter, clipped',
      ['RtAdamU', 'RtStepWd'],
      (p) => new AdamW(p, { ...base, wd: 0.1, gradClipNorm: 1, fuseElementwise: false }),
      null,
    ],
    ['AdamW, a gradient missing', ['RtAdamU'], (p) => new AdamW(p, { ...base, wd: 0.1 }), 'b/scale'],
    [
      'AdamW, lr multipliers of the flat group',
      ['RtAdamU'],
      (p) => new AdamW(p, { ...base, lrMults: [['a/.*', 2]], wdMults: [['b/.*', 1]], wd: 0.1 }),
      null,
    ],
    ['Adafactor', ['RtAfV', 'RtAfM', 'RtStep'], (p) => new Adafactor(p, base), null],
    [
      'Adafactor with weight decay, per parameter',
      ['RtAfM', 'RtStepWd'],
      (p) => new Adafactor(p, { ...base, wd: 0.1, fuseElementwise: false }),
      null,
    ],
    ['Adafactor without momentum', ['RtStep'], (p) => new Adafactor(p, { ...base, adafactor: { momentum: 0 } }), null],
    [
      'Adafactor with block-RMS clipping',
      ['RtStep'],
      (p) => new Adafactor(p, { ...base, adafactor: { clippingThreshold: 1 } }),
      null,
    ],
  ];

  it.each(cases)('%s: parameters and state as the composed ops, bit for bit', async (_n, kernels, make, missing) => {
    const fused = await train(true, make, missing);
    const composed = await train(false, make, missing);
    for (const name of kernels) expect(fused.kernels).toContain(name);
    expect(composed.kernels.some((k) => k.startsWith('Rt'))).toBe(false);
    expect(fused.values.length).toBe(composed.values.length);
    fused.values.forEach((v, i) => expect(v).toEqual(composed.values[i]));
  });
});
