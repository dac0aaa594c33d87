// Adafactor checked against a plain-JS float64 transcription of the update (written in this file from the formula in
// adafactor.ts / big_vision's scale_by_adafactor — not from the implementation), over 3 steps so that β2_t and the
// momentum both matter, on a factored 32×40 matrix, a tall 40×32 one, a rank-3 tensor, a vector and a small matrix.
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng';
import { scheduleMultiplier, type Schedule } from '../schedules';
import { Adafactor, factoredDims } from './adafactor';
import type { Params } from '../model/policy';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const SHAPES: Record<string, number[]> = {
  'enc/dense/kernel': [32, 40], // factored, d0 = 1
  'enc/tall/kernel': [40, 32], // factored, d0 = 0
  'enc/conv/kernel': [2, 32, 36], // factored per slice of axis 0
  'enc/dense/bias': [40], // vector: full second moment
  'head/kernel': [4, 5], // small matrix: full second moment
};

const size = (s: number[]): number => s.reduce((a, b) => a * b, 1);

function randomArrays(rng: Rng, scale: number): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of Object.entries(SHAPES)) {
    out.set(
      name,
      Float32Array.from({ length: size(shape) }, () => scale * rng.normal()),
    );
  }
  return out;
}

function makeParams(values: Map<string, Float32Array>): Params {
  const p: Params = new Map();
  for (const [name, v] of values) p.set(name, tf.variable(tf.tensor(v, SHAPES[name])));
  return p;
}

function toTensors(values: Map<string, Float32Array>): Map<string, tf.Tensor> {
  return new Map([...values].map(([n, v]) => [n, tf.tensor(v, SHAPES[n])]));
}

interface RefCfg {
  lr: number;
  wd: number;
  beta2Cap: number;
  momentum: number;
  schedule: Schedule;
  lrMult: (name: string) => number;
  decays: (name: string) => boolean;
  clipNorm?: number;
}

/**
 * The reference: for a matrix [R, C] (or each [R, C] slice of a rank-3 tensor) with min(R, C) ≥ 32,
 *   r_i ← β·r_i + (1−β)·mean_j(g²_ij + ε),  c_j ← β·c_j + (1−β)·mean_i(g²_ij + ε),  v̂_ij = r_i·c_j / mean_i(r_i);
 * otherwise v ← β·v + (1−β)·(g² + ε), v̂ = v. Then u = g/√v̂, m ← μ·m + (1−μ)·u,
 *   θ ← θ − s(t)·(lr·mult·m + wd·θ),  β = min(cap, 1 − (t+1)^−0.8).
 */
function reference(params0: Map<string, Float32Array>, gradsPerStep: Array<Map<string, Float32Array>>, cfg: RefCfg) {
  const eps = 1e-30;
  const theta = new Map([...params0].map(([n, v]) => [n, Float64Array.from(v)]));
  const state = new Map<string, { r: number[][]; c: number[][]; v: number[]; m: number[] }>();
  const history: Array<Map<string, Float64Array>> = [];
  gradsPerStep.forEach((grads0, t) => {
    const beta = Math.min(cfg.beta2Cap, 1 - Math.pow(t + 1, -0.8));
    const s = scheduleMultiplier(cfg.schedule, t);
    let clip = 1;
    if (cfg.clipNorm !== undefined) {
      let sq = 0;
      for (const [n, g] of grads0) if (cfg.lrMult(n) !== 0) for (const x of g) sq += x * x;
      const norm = Math.sqrt(sq);
      if (norm >= cfg.clipNorm) clip = cfg.clipNorm / norm;
    }
    for (const [name, g32] of grads0) {
      const mult = cfg.lrMult(name);
      if (mult === 0) continue;
      const g = Array.from(g32, (x) => x * clip);
      const shape = SHAPES[name];
      const [S, R, C] = shape.length === 3 ? shape : shape.length === 2 ? [1, ...shape] : [1, 1, shape[0]];
      const factored = shape.length >= 2 && Math.min(R, C) >= 32;
      const st = state.get(name) ?? {
        r: Array.from({ length: S }, () => new Array(R).fill(0)),
        c: Array.from({ length: S }, () => new Array(C).fill(0)),
        v: new Array(g.length).fill(0),
        m: new Array(g.length).fill(0),
      };
      state.set(name, st);
      const u = new Array(g.length).fill(0);
      for (let k = 0; k < S; k++) {
        const at = (i: number, j: number): number => k * R * C + i * C + j;
        if (factored) {
          for (let i = 0; i < R; i++) {
            let acc = 0;
            for (let j = 0; j < C; j++) acc += g[at(i, j)] ** 2 + eps;
            st.r[k][i] = beta * st.r[k][i] + (1 - beta) * (acc / C);
          }
          for (let j = 0; j < C; j++) {
            let acc = 0;
            for (let i = 0; i < R; i++) acc += g[at(i, j)] ** 2 + eps;
            st.c[k][j] = beta * st.c[k][j] + (1 - beta) * (acc / R);
          }
          const meanR = st.r[k].reduce((a, b) => a + b, 0) / R;
          for (let i = 0; i < R; i++) {
            for (let j = 0; j < C; j++) u[at(i, j)] = g[at(i, j)] / Math.sqrt((st.r[k][i] * st.c[k][j]) / meanR);
          }
        } else {
          for (let i = 0; i < R * C; i++) {
            const q = k * R * C + i;
            st.v[q] = beta * st.v[q] + (1 - beta) * (g[q] ** 2 + eps);
            u[q] = g[q] / Math.sqrt(st.v[q]);
          }
        }
      }
      const th = theta.get(name) as Float64Array;
      const wd = cfg.decays(name) ? cfg.wd : 0;
      for (let q = 0; q < g.length; q++) {
        st.m[q] = cfg.momentum * st.m[q] + (1 - cfg.momentum) * u[q];
        th[q] = th[q] - s * (cfg.lr * mult * st.m[q] + wd * th[q]);
      }
    }
    history.push(new Map([...theta].map(([n, v]) => [n, Float64Array.from(v)])));
  });
  return history;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

function runBoth(
  cfg: RefCfg,
  optCfg: ConstructorParameters<typeof Adafactor>[1],
  gradScales: number[] = [1, 0.3, 2],
): {
  history: Array<Map<string, Float64Array>>;
  got: Array<Map<string, Float32Array>>;
  opt: Adafactor;
  params: Params;
} {
  const rng = Rng.fromSeed(7);
  const p0 = randomArrays(rng, 0.5);
  const grads = gradScales.map((sc) => randomArrays(rng, sc));
  const params = makeParams(p0);
  const opt = new Adafactor(params, optCfg);
  const got: Array<Map<string, Float32Array>> = [];
  for (const g of grads) {
    const gt = toTensors(g);
    opt.apply(params, gt);
    tf.dispose([...gt.values()]);
    got.push(new Map([...params].map(([n, v]) => [n, v.dataSync() as Float32Array])));
  }
  return { history: reference(p0, grads, cfg), got, opt, params };
}

const baseRef: RefCfg = {
  lr: 0.1,
  wd: 0.01,
  beta2Cap: 0.95,
  momentum: 0.9,
  schedule: { kind: 'constant' },
  lrMult: () => 1,
  decays: (n) => n.endsWith('/kernel'),
};

describe('factoredDims', () => {
  it('factors the two largest axes when both reach the threshold (ties: the later axis is the largest)', () => {
    expect(factoredDims([32, 40], 32)).toEqual([0, 1]);
    expect(factoredDims([40, 32], 32)).toEqual([1, 0]);
    expect(factoredDims([32, 32], 32)).toEqual([0, 1]);
    expect(factoredDims([2, 32, 36], 32)).toEqual([1, 2]);
    expect(factoredDims([31, 400], 32)).toBeNull();
    expect(factoredDims([400], 32)).toBeNull();
    expect(factoredDims([], 32)).toBeNull();
  });
});

describe('Adafactor (big_vision variant)', () => {
  it.each([true, false])(
    'matches the hand-computed update over 3 steps (factored and unfactored, momentum, β2_t, weight decay; fused %s)',
    (fuseElementwise) => {
      const { history, got, opt, params } = runBoth(baseRef, {
        lr: 0.1,
        wd: 0.01,
        fuseElementwise,
        adafactor: { beta2Cap: 0.95 },
      });
      for (let t = 0; t < 3; t++) {
        for (const name of Object.keys(SHAPES)) {
          expect(maxAbsDiff(got[t].get(name) as Float32Array, history[t].get(name) as Float64Array)).toBeLessThan(2e-6);
        }
      }
      // The run really moved the parameters (a no-op optimizer would fail the comparison by far more than 2e-6).
      const moved = maxAbsDiff(
        history[2].get('enc/dense/kernel') as Float64Array,
        history[0].get('enc/dense/kernel') as Float64Array,
      );
      expect(moved).toBeGreaterThan(1e-2);
      expect(opt.step).toBe(3);
      opt.dispose();
      tf.dispose([...params.values()]);
    },
  );

  it('keeps row/column statistics for factored tensors and a full moment otherwise', () => {
    const rng = Rng.fromSeed(1);
    const params = makeParams(randomArrays(rng, 1));
    const opt = new Adafactor(params, { lr: 1 });
    const shapes = new Map([...opt.getState().tensors].map(([k, t]) => [k, t.shape]));
    expect(Object.fromEntries(shapes)).toEqual({
      'enc/dense/kernel/v_row': [32],
      'enc/dense/kernel/v_col': [40],
      'enc/dense/kernel/m': [32, 40],
      'enc/tall/kernel/v_row': [32],
      'enc/tall/kernel/v_col': [40],
      'enc/tall/kernel/m': [40, 32],
      'enc/conv/kernel/v_row': [2, 32],
      'enc/conv/kernel/v_col': [2, 36],
      'enc/conv/kernel/m': [2, 32, 36],
      'enc/dense/bias/v': [40],
      'enc/dense/bias/m': [40],
      'head/kernel/v': [4, 5],
      'head/kernel/m': [4, 5],
    });
    opt.dispose();
    tf.dispose([...params.values()]);
  });

  it('first step of an unfactored tensor is −lr·(1−μ)·sign(g) (β2_0 = 0, no debiasing)', () => {
    const theta = tf.variable(tf.tensor1d([0.5, -0.25, 1]));
    const params: Params = new Map([['b/bias', theta]]);
    const opt = new Adafactor(params, { lr: 0.1 });
    opt.apply(params, new Map([['b/bias', tf.tensor1d([3, -1e-3, 0.7])]]));
    // 0.5 − 0.1·0.1·1, −0.25 + 0.01, 1 − 0.01
    expect(Array.from(theta.dataSync())).toEqual(Array.from(Float32Array.from([0.49, -0.24, 0.99])));
    opt.dispose();
    theta.dispose();
  });

  it('decays weights without the learning rate: lr = 0, wd = 0.1 gives θ ← 0.9·θ on kernels only', () => {
    const k = tf.variable(tf.tensor2d([[1, -2]]));
    const b = tf.variable(tf.tensor1d([3]));
    const params: Params = new Map<string, tf.Variable>([
      ['d/kernel', k],
      ['d/bias', b],
    ]);
    const opt = new Adafactor(params, { lr: 0, wd: 0.1 });
    opt.apply(
      params,
      new Map([
        ['d/kernel', tf.ones([1, 2])],
        ['d/bias', tf.ones([1])],
      ]),
    );
    expect(Array.from(k.dataSync())).toEqual(Array.from(Float32Array.from([1 - 0.1, -2 + 0.2])));
    expect(Array.from(b.dataSync())).toEqual([3]);
    opt.dispose();
    tf.dispose([k, b]);
  });

  it.each([true, false])(
    'applies lr multipliers by regex (first match wins, 0 freezes) and clips the global norm of unfrozen grads (fused %s)',
    (fuseElementwise) => {
      const lrMults: Array<[string, number]> = [
        ['head/.*', 0],
        ['enc/dense/.*', 0.1],
        ['enc/.*', 0.5],
      ];
      const mult = (n: string): number => (n.startsWith('head/') ? 0 : n.startsWith('enc/dense/') ? 0.1 : 0.5);
      // Grad norms here are ≈ 60·scale, so step 0 (scale 1) and step 2 (scale 2) are clipped, step 1 is not.
      const { history, got, opt, params } = runBoth(
        { ...baseRef, lrMult: mult, clipNorm: 30 },
        { lr: 0.1, wd: 0.01, lrMults, gradClipNorm: 30, fuseElementwise, adafactor: { beta2Cap: 0.95 } },
        [1, 0.3, 2],
      );
      for (let t = 0; t < 3; t++) {
        for (const name of Object.keys(SHAPES)) {
          if (name.startsWith('head/')) continue;
          expect(maxAbsDiff(got[t].get(name) as Float32Array, history[t].get(name) as Float64Array)).toBeLessThan(2e-6);
        }
      }
      // Frozen: unchanged bit for bit, and no optimizer state.
      const rng = Rng.fromSeed(7);
      const initial = randomArrays(rng, 0.5).get('head/kernel') as Float32Array;
      expect(got[2].get('head/kernel')).toEqual(initial);
      expect([...opt.getState().tensors.keys()].some((k) => k.startsWith('head/'))).toBe(false);
      opt.dispose();
      tf.dispose([...params.values()]);
    },
  );

  it('the reference notices clipping (the clipped and unclipped trajectories differ)', () => {
    const rng = Rng.fromSeed(7);
    const p0 = randomArrays(rng, 0.5);
    const grads = [1, 0.3, 2].map((sc) => randomArrays(rng, sc));
    const a = reference(p0, grads, { ...baseRef, clipNorm: 30 })[2].get('enc/dense/kernel') as Float64Array;
    const b = reference(p0, grads, baseRef)[2].get('enc/dense/kernel') as Float64Array;
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-4);
  });

  it('scales the whole update by the schedule at the step count before the update', () => {
    const schedule: Schedule = { kind: 'cosine', warmupSteps: 1, totalSteps: 4 };
    const { history, got, opt, params } = runBoth(
      { ...baseRef, schedule },
      { lr: 0.1, wd: 0.01, schedule, adafactor: { beta2Cap: 0.95 } },
    );
    for (let t = 0; t < 3; t++) {
      for (const name of Object.keys(SHAPES)) {
        expect(maxAbsDiff(got[t].get(name) as Float32Array, history[t].get(name) as Float64Array)).toBeLessThan(2e-6);
      }
    }
    // Warmup: s(0) = 0, so the first update leaves the parameters exactly where they were.
    const initial = randomArrays(Rng.fromSeed(7), 0.5);
    expect(got[0].get('enc/dense/kernel')).toEqual(initial.get('enc/dense/kernel'));
    opt.dispose();
    tf.dispose([...params.values()]);
  });

  it.each([true, false])(
    'round-trips its state through getState/setState: a restored copy continues bit-identically (fused %s)',
    (fuseElementwise) => {
      const rng = Rng.fromSeed(3);
      const p0 = randomArrays(rng, 0.5);
      const grads = [1, 0.5, 0.8].map((sc) => randomArrays(rng, sc));
      const params = makeParams(p0);
      const opt = new Adafactor(params, { lr: 0.05, wd: 1e-3, fuseElementwise });
      for (const g of grads.slice(0, 2)) opt.apply(params, toTensors(g));
      const snapshot = new Map([...params].map(([n, v]) => [n, v.dataSync().slice()]));

      const params2 = makeParams(new Map([...snapshot].map(([n, v]) => [n, Float32Array.from(v)])));
      const opt2 = new Adafactor(params2, { lr: 0.05, wd: 1e-3, fuseElementwise: !fuseElementwise });
      opt2.setState(opt.getState());
      expect(opt2.step).toBe(2);
      opt.apply(params, toTensors(grads[2]));
      opt2.apply(params2, toTensors(grads[2]));
      for (const name of Object.keys(SHAPES)) {
        expect(params2.get(name)?.dataSync()).toEqual(params.get(name)?.dataSync());
      }
      expect(() => opt2.setState({ step: 0, tensors: new Map() })).toThrow(/missing \[enc\/dense\/kernel\/v_row/);
      opt.dispose();
      opt2.dispose();
    },
  );

  it('clips each parameter by its own block RMS when fusion is asked for (clip_by_block_rms is not elementwise)', () => {
    const rng = Rng.fromSeed(9);
    const init = randomArrays(rng, 0.5);
    const grads = [randomArrays(rng, 1), randomArrays(rng, 3)];
    const run = (fuseElementwise: boolean) => {
      const params = makeParams(new Map([...init].map(([n, v]) => [n, Float32Array.from(v)])));
      const opt = new Adafactor(params, { lr: 0.1, fuseElementwise, adafactor: { clippingThreshold: 0.5 } });
      for (const g of grads) opt.apply(params, toTensors(g));
      opt.dispose();
      return params;
    };
    const [fused, plain] = [run(true), run(false)];
    for (const name of Object.keys(SHAPES)) expect(fused.get(name)?.dataSync()).toEqual(plain.get(name)?.dataSync());
  });

  it('runs each variable update without leaking tensors', () => {
    const rng = Rng.fromSeed(5);
    const params = makeParams(randomArrays(rng, 0.5));
    const opt = new Adafactor(params, {
      lr: 0.1,
      wd: 0.01,
      gradClipNorm: 1,
      fuseElementwise: true,
      adafactor: { clippingThreshold: 1 },
    });
    const g = toTensors(randomArrays(rng, 1));
    opt.apply(params, g);
    opt.getState(); // per-parameter views of the fused state, released by the next apply
    const before = tf.memory().numTensors;
    opt.apply(params, g);
    opt.getState();
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
  });

  it('stays within a small, fixed kernel budget per variable and never reads back to the host', async () => {
    // One factored kernel and ten vectors, as in a transformer block (biases, layer-norm scales).
    const shapes: Array<[string, number[]]> = [['f/kernel', [32, 40]]];
    for (let i = 0; i < 10; i++) shapes.push([`b${i}/bias`, [40]]);
    const count = async (fuseElementwise: boolean): Promise<number> => {
      const params: Params = new Map(shapes.map(([n, s]) => [n, tf.variable(tf.randomNormal(s))]));
      const grads = new Map(shapes.map(([n, s]) => [n, tf.randomNormal(s)]));
      const opt = new Adafactor(params, { lr: 0.1, wd: 0.01, fuseElementwise });
      opt.apply(params, grads);
      const backend = tf.backend();
      const reads = [jest.spyOn(backend, 'readSync'), jest.spyOn(backend, 'read')];
      const info = await tf.profile(() => opt.apply(params, grads));
      for (const r of reads) {
        expect(r).not.toHaveBeenCalled();
        r.mockRestore();
      }
      opt.dispose();
      tf.dispose([...params.values(), ...grads.values()]);
      return info.kernels.length;
    };
    // Factored kernel with decay: g²+ε (2), row and column EMAs (2 means + 2×3), normaliser mean + div + 2 rsqrt
    // (4), 2 expandDims + 2 muls (4), momentum (3), lr/wd/θ update (4) = 25. Each bias alone (no decay): g²+ε (2),
    // EMA (3), rsqrt + mul (2), momentum (3), lr + θ update (2) = 12 (tfjs's own Adam runs 16 per variable).
    expect(await count(false)).toBe(25 + 10 * 12);
    // Fused, the ten biases cost one concat of gradients, the 12 kernels once, one concat of values and one split.
    expect(await count(true)).toBe(25 + 1 + 12 + 1 + 1);
  });

  it('fused and per-variable updates agree bit for bit, a parameter without a gradient keeping its state', () => {
    const run = (fuseElementwise: boolean): { params: Map<string, number[]>; state: Map<string, number[]> } => {
      const rng = Rng.fromSeed(21);
      const params = makeParams(randomArrays(rng, 0.5));
      // Distinct lr multipliers and a decayed small matrix inside the fused group exercise its per-element vectors.
      const opt = new Adafactor(params, { lr: 0.1, wd: 0.01, lrMults: [['enc/.*', 0.5]], fuseElementwise });
      for (let t = 0; t < 3; t++) {
        const g = toTensors(randomArrays(rng, 1));
        if (t === 1) g.delete('enc/dense/bias');
        opt.apply(params, g);
        tf.dispose([...g.values()]);
      }
      const out = {
        params: new Map([...params].map(([n, v]) => [n, Array.from(v.dataSync())])),
        state: new Map([...opt.getState().tensors].map(([n, v]) => [n, Array.from(v.dataSync())])),
      };
      opt.dispose();
      tf.dispose([...params.values()]);
      return out;
    };
    const fused = run(true);
    const single = run(false);
    expect([...fused.state.keys()]).toEqual([...single.state.keys()]);
    expect(fused).toEqual(single);
  });

  it('leaves a parameter and its state untouched when its gradient is missing (fused group)', () => {
    const rng = Rng.fromSeed(4);
    const params = makeParams(randomArrays(rng, 0.5));
    const opt = new Adafactor(params, { lr: 0.1, fuseElementwise: true });
    opt.apply(params, toTensors(randomArrays(rng, 1)));
    const before = Array.from(params.get('head/kernel')?.dataSync() ?? []);
    const stateBefore = Array.from(opt.getState().tensors.get('head/kernel/m')?.dataSync() ?? []);
    const g = toTensors(randomArrays(rng, 1));
    g.delete('head/kernel');
    opt.apply(params, g);
    expect(Array.from(params.get('head/kernel')?.dataSync() ?? [])).toEqual(before);
    expect(Array.from(opt.getState().tensors.get('head/kernel/m')?.dataSync() ?? [])).toEqual(stateBefore);
    expect(stateBefore.some((x) => x !== 0)).toBe(true);
    opt.dispose();
  });
});
