// AdamW (bias-corrected Adam + big_vision's decoupled weight decay) against a float64 hand computation over 3 steps.
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import type { Params } from '../model/policy';
import { Rng } from '../rng';
import { AdamW } from './adamw';
import { createOptimizer, optimizerConfigSchema } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('AdamW', () => {
  it.each([true, false])(
    'matches m̂/(√v̂+ε) with bias correction, decay on kernels not scaled by lr, over 3 steps (fused %s)',
    (fuseElementwise) => {
      const rng = Rng.fromSeed(11);
      const shapes: Record<string, number[]> = { 'd/kernel': [3, 4], 'd/bias': [4] };
      const init = new Map(
        Object.entries(shapes).map(([n, s]) => [
          n,
          Float32Array.from({ length: s[0] * (s[1] ?? 1) }, () => rng.normal()),
        ]),
      );
      const grads = [0, 1, 2].map(
        () => new Map([...init].map(([n, v]) => [n, Float32Array.from(v, () => rng.normal())])),
      );
      const params: Params = new Map([...init].map(([n, v]) => [n, tf.variable(tf.tensor(v, shapes[n]))]));
      const [lr, wd, b1, b2, eps] = [0.05, 0.02, 0.9, 0.99, 1e-8];
      const opt = new AdamW(params, { lr, wd, fuseElementwise, adam: { b1, b2, eps } });

      // Reference: m ← b1·m + (1−b1)·g, v ← b2·v + (1−b2)·g², u = (m/(1−b1ⁿ)) / (√(v/(1−b2ⁿ)) + ε), n = t+1,
      // θ ← θ − (lr·u + wd·θ) with wd only on `…/kernel`.
      const theta = new Map([...init].map(([n, v]) => [n, Float64Array.from(v)]));
      const m = new Map([...init].map(([n, v]) => [n, new Float64Array(v.length)]));
      const v2 = new Map([...init].map(([n, v]) => [n, new Float64Array(v.length)]));
      grads.forEach((g, t) => {
        opt.apply(params, new Map([...g].map(([n, x]) => [n, tf.tensor(x, shapes[n])])));
        for (const [n, gx] of g) {
          const th = theta.get(n) as Float64Array;
          const mm = m.get(n) as Float64Array;
          const vv = v2.get(n) as Float64Array;
          for (let i = 0; i < gx.length; i++) {
            mm[i] = b1 * mm[i] + (1 - b1) * gx[i];
            vv[i] = b2 * vv[i] + (1 - b2) * gx[i] * gx[i];
            const u = mm[i] / (1 - b1 ** (t + 1)) / (Math.sqrt(vv[i] / (1 - b2 ** (t + 1))) + eps);
            th[i] -= lr * u + (n.endsWith('/kernel') ? wd : 0) * th[i];
          }
          const got = params.get(n)?.dataSync() as Float32Array;
          for (let i = 0; i < gx.length; i++) expect(Math.abs(got[i] - th[i])).toBeLessThan(1e-6);
        }
      });
      expect([...opt.getState().tensors.keys()].sort()).toEqual(['d/bias/m', 'd/bias/v', 'd/kernel/m', 'd/kernel/v']);
      opt.dispose();
    },
  );
});

describe('createOptimizer', () => {
  it('validates a config with defaults and builds the named optimizer', () => {
    const params: Params = new Map([['x/kernel', tf.variable(tf.ones([2, 2]))]]);
    const cfg = optimizerConfigSchema.parse({ name: 'adafactor', lr: 1e-3, wd: 1e-6, adafactor: { beta2Cap: 0.95 } });
    expect(cfg.schedule).toEqual({ kind: 'constant' });
    const opt = createOptimizer(cfg, params);
    expect(opt.constructor.name).toBe('Adafactor');
    opt.dispose();
    expect(createOptimizer(optimizerConfigSchema.parse({ name: 'adamw', lr: 1 }), params).constructor.name).toBe(
      'AdamW',
    );
    const bad = optimizerConfigSchema.safeParse({ name: 'adafactor', lr: 1, adafactor: { beta2cap: 0.9 } });
    expect(bad.success).toBe(false);
  });
});
