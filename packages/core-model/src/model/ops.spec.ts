// Building blocks against hand-computed values: tanh-GELU, layer norm, 2-D sin-cos embeddings, attention masking.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, readTensor } from '../backend';
import { NEG, attend, causalBias, dense, geluTanh, layerNorm, sincos2d } from './ops';

beforeAll(async () => {
  await initBackend('wasm', { quiet: true });
});

describe('ops', () => {
  it('geluTanh matches 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) at hand-computed points', async () => {
    // x = 1: inner = 0.7978846·1.044715 = 0.8335620, tanh = 0.6823840 → 0.8411920. x = −2: −0.0454023.
    const y = await readTensor(geluTanh(tf.tensor1d([0, 1, -2])));
    expect(y[0]).toBe(0);
    expect(y[1]).toBeCloseTo(0.841192, 5);
    expect(y[2]).toBeCloseTo(-0.0454023, 5);
  });

  it('geluTanh has the gradient of the plain tanh formula', async () => {
    const x = tf.linspace(-4, 4, 33);
    const plain = (v: tf.Tensor) =>
      tf.mul(
        tf.mul(v, 0.5),
        tf.add(tf.tanh(tf.mul(tf.add(v, tf.mul(tf.pow(v, 3), 0.044715)), Math.sqrt(2 / Math.PI))), 1),
      );
    const d = tf.sub(tf.grad(geluTanh)(x), tf.grad(plain)(x));
    expect((await readTensor(tf.max(tf.abs(d))))[0]).toBeLessThan(1e-5);
  });

  it('layerNorm normalises the last axis (eps 1e-6) then scales and shifts', async () => {
    const params = new Map([
      ['n/scale', tf.variable(tf.tensor1d([1, 2, 1, 1]))],
      ['n/bias', tf.variable(tf.tensor1d([0, 0, 0, 10]))],
    ]);
    // [1, 2, 3, 4]: mean 2.5, variance 1.25 → (x − 2.5)/1.1180336 = [−1.3416, −0.4472, 0.4472, 1.3416].
    const y = await readTensor(layerNorm(params, 'n', tf.tensor2d([[1, 2, 3, 4]])));
    [-1.3416404, -0.8944272, 0.4472136, 11.3416404].forEach((v, i) => expect(y[i]).toBeCloseTo(v, 4));
  });

  it('sincos2d: [sin(yω), cos(yω), sin(xω), cos(xω)] with ω = 1/10000^(i/(D/4−1))', () => {
    const e = sincos2d(2, 3, 8); // D/4 = 2 frequencies: ω = 1, 1e-4
    expect(e.length).toBe(6 * 8);
    const at = (y: number, x: number) => Array.from(e.subarray((y * 3 + x) * 8, (y * 3 + x + 1) * 8));
    expect(at(0, 0)).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
    const p = at(1, 2);
    const want = [
      Math.sin(1),
      Math.sin(1e-4),
      Math.cos(1),
      Math.cos(1e-4),
      Math.sin(2),
      Math.sin(2e-4),
      Math.cos(2),
      Math.cos(2e-4),
    ];
    want.forEach((v, i) => expect(p[i]).toBeCloseTo(v, 6));
    expect(() => sincos2d(2, 2, 6)).toThrow(/divisible by 4/);
  });

  it('causal attention: query i averages values ≤ i only when scores are equal', async () => {
    const q = tf.zeros([1, 1, 3, 2]);
    const v = tf.tensor4d([1, 0, 3, 0, 8, 0], [1, 1, 3, 2]);
    const out = await readTensor(attend(q, q, v, causalBias(3)));
    expect(Array.from(out)).toEqual([1, 0, 2, 0, 4, 0]);
    expect(NEG).toBeLessThan(-1e8);
  });

  it('fused dense and layer norm have the gradients of their plain tf formulas', async () => {
    const x = tf.randomNormal([6, 5], 0, 2, 'float32', 1);
    const k = tf.randomNormal([5, 4], 0, 1, 'float32', 2);
    const b = tf.randomNormal([4], 0, 1, 'float32', 3);
    const s = tf.randomNormal([5], 1, 0.3, 'float32', 4);
    const c = tf.randomNormal([5], 0, 1, 'float32', 5);
    const w = tf.randomNormal([6, 4], 0, 1, 'float32', 6);
    const plainLn = (v: tf.Tensor, sc: tf.Tensor, bi: tf.Tensor) => {
      const xc = tf.sub(v, tf.mean(v, -1, true));
      return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), 1e-6))), sc), bi);
    };
    const fused = (v: tf.Tensor, kk: tf.Tensor, bb: tf.Tensor, sc: tf.Tensor, bi: tf.Tensor) => {
      const params = new Map([
        ['n/scale', sc as tf.Variable],
        ['n/bias', bi as tf.Variable],
      ]);
      return tf.sum(tf.mul(dense(layerNorm(params, 'n', v), kk, bb), w));
    };
    const plain = (v: tf.Tensor, kk: tf.Tensor, bb: tf.Tensor, sc: tf.Tensor, bi: tf.Tensor) =>
      tf.sum(tf.mul(tf.add(tf.matMul(plainLn(v, sc, bi), kk), bb), w));
    const gf = tf.grads(fused)([x, k, b, s, c]);
    const gp = tf.grads(plain)([x, k, b, s, c]);
    for (let i = 0; i < 5; i++) {
      const d = await readTensor(tf.max(tf.abs(tf.sub(gf[i], gp[i]))));
      expect(d[0]).toBeLessThan(1e-4);
    }
  });

  it('fused attention has the values and gradients of the composed formula softmax(QKᵀ/√Dh + bias)·V', async () => {
    const q = tf.randomNormal([2, 3, 4, 5], 0, 1, 'float32', 1);
    const k = tf.randomNormal([2, 3, 6, 5], 0, 1, 'float32', 2);
    const v = tf.randomNormal([2, 3, 6, 5], 0, 1, 'float32', 3);
    const w = tf.randomNormal([2, 3, 4, 5], 0, 1, 'float32', 4);
    const bias = tf.tensor4d(
      Array.from({ length: 24 }, (_, i) => (i % 6 > i / 6 + 1 ? NEG : 0)),
      [1, 1, 4, 6],
    );
    const plain = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.mul(tf.matMul(tf.softmax(tf.add(tf.div(tf.matMul(a, b, false, true), Math.sqrt(5)), bias)), c), w));
    const fused = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(attend(a, b, c, bias), w));
    const max = async (t: tf.Tensor) => (await readTensor(tf.max(tf.abs(t))))[0];
    expect(await max(tf.sub(fused(q, k, v), plain(q, k, v)))).toBeLessThan(1e-4);
    const gf = tf.grads(fused)([q, k, v]);
    const gp = tf.grads(plain)([q, k, v]);
    for (let i = 0; i < 3; i++) {
      expect(await max(gp[i])).toBeGreaterThan(1e-2);
      expect(await max(tf.sub(gf[i], gp[i]))).toBeLessThan(1e-4);
    }
  });
});
