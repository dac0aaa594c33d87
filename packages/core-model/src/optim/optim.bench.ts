/**
 * Optimizer step cost on a ViT-like parameter set (12 blocks of width 64: 192 variables, 0.6 M parameters): kernels
 * per step and wall time of Adafactor and AdamW, per-variable vs fused, against tfjs's own Adam. Not a test (the
 * default testMatch skips it); run it from packages/core-model with
 *   OPTIM_BENCH_BACKEND=wasm npx jest --runInBand --testMatch '<rootDir>/src/optim/optim.bench.ts'
 * (OPTIM_BENCH_BACKEND: cpu or wasm, default wasm).
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendChoice } from '../backend';
import type { Params } from '../model/policy';
import { Adafactor } from './adafactor';
import { AdamW } from './adamw';

it('optimizer step cost', async () => {
  const backend = process.env.OPTIM_BENCH_BACKEND ?? 'wasm';
  await initBackend(backend as BackendChoice, { quiet: true }); // with the project's kernels, as training runs
  const D = 64;
  const shapes: Array<[string, number[]]> = [];
  for (let b = 0; b < 12; b++) {
    const p = `encoder/encoderblock_${b}`;
    for (const ln of ['LayerNorm_0', 'LayerNorm_1']) shapes.push([`${p}/${ln}/scale`, [D]], [`${p}/${ln}/bias`, [D]]);
    for (const qkv of ['query', 'key', 'value']) {
      shapes.push(
        [`${p}/MultiHeadDotProductAttention_0/${qkv}/kernel`, [D, 4, D / 4]],
        [`${p}/MultiHeadDotProductAttention_0/${qkv}/bias`, [4, D / 4]],
      );
    }
    shapes.push(
      [`${p}/MultiHeadDotProductAttention_0/out/kernel`, [4, D / 4, D]],
      [`${p}/MultiHeadDotProductAttention_0/out/bias`, [D]],
    );
    shapes.push([`${p}/MlpBlock_0/Dense_0/kernel`, [D, 4 * D]], [`${p}/MlpBlock_0/Dense_0/bias`, [4 * D]]);
    shapes.push([`${p}/MlpBlock_0/Dense_1/kernel`, [4 * D, D]], [`${p}/MlpBlock_0/Dense_1/bias`, [D]]);
  }
  const makeParams = (): Params => new Map(shapes.map(([n, s]) => [n, tf.variable(tf.randomNormal(s))]));
  const grads = new Map(shapes.map(([n, s]) => [n, tf.randomNormal(s)]));
  const lines = [
    `${backend}: ${shapes.length} variables, ${shapes.reduce((a, [, s]) => a + tf.util.sizeFromShape(s), 0)} parameters`,
  ];
  const time = async (label: string, step: () => void): Promise<void> => {
    step();
    step();
    const info = await tf.profile(step);
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) step();
    const ms = (performance.now() - t0) / 20;
    const compute = info.kernels.filter((k) => k.name !== 'Reshape').length;
    lines.push(`${label}: ${info.kernels.length} kernels (${compute} besides Reshape), ${ms.toFixed(1)} ms/step`);
  };
  for (const fuseElementwise of [false, true]) {
    const p1 = makeParams();
    const a = new Adafactor(p1, { lr: 1e-3, wd: 1e-6, fuseElementwise });
    await time(`adafactor fused=${fuseElementwise}`, () => a.apply(p1, grads));
    const p2 = makeParams();
    const w = new AdamW(p2, { lr: 1e-3, wd: 1e-6, fuseElementwise });
    await time(`adamw fused=${fuseElementwise}`, () => w.apply(p2, grads));
  }
  const p3 = makeParams();
  const adam = tf.train.adam(1e-3);
  const byVar = [...p3].map(([n, v]) => ({ name: v.name, tensor: grads.get(n) as tf.Tensor }));
  await time('tf.train.adam', () => adam.applyGradients(byVar));
  console.log(lines.join('\n'));
});
