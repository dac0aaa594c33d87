/**
 * gradientStep and frozen parameters: what the optimizer ignores is not differentiated at all (with a frozen image
 * encoder, its backward pass is skipped), and the trainable gradients do not change by a bit.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@reward-tune/core-model';
import { accumulateGradients, gradientStep } from './loop';
import { CaptureOptimizer, FeaturePolicy } from './testing/toys';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('gradientStep with frozen parameters', () => {
  const policy = new FeaturePolicy(6, 8, 5, 3, Rng.fromSeed(3));
  const images = tf.tensor4d(
    Float32Array.from({ length: 4 * 6 }, (_, i) => Math.sin(i)),
    [4, 1, 1, 6],
  );
  const tokens = tf.tensor2d([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1], [4, 3], 'int32');
  // A loss that reaches every parameter: the mean log-probability of the tokens.
  const loss = () =>
    tf.tidy(() => {
      const lp = policy.logProbs(images, tokens);
      return tf.neg(tf.mean(tf.sum(tf.mul(lp, tf.oneHot(tokens, 5)), 2))) as tf.Scalar;
    });
  const hidden = (name: string) => name.startsWith('hidden/');

  it('hands the optimizer only the trainable gradients, bit for bit those of differentiating everything', async () => {
    const all = new CaptureOptimizer();
    await gradientStep(policy, all, loss);
    const some = new CaptureOptimizer(hidden);
    await gradientStep(policy, some, loss);
    expect([...all.grads.keys()].sort()).toEqual(['head/bias', 'head/kernel', 'hidden/bias', 'hidden/kernel']);
    expect([...some.grads.keys()].sort()).toEqual(['head/bias', 'head/kernel']);
    for (const k of some.grads.keys()) expect(some.grads.get(k)).toEqual(all.grads.get(k));
  });

  it('runs no backward kernel for what leads only to parameters left out (why freezing saves time)', async () => {
    const kernels = async (names: string[]) =>
      (await tf.profile(() => accumulateGradients(policy, names, [loss]).dispose())).kernels.map((k) => k.name);
    const full = await kernels([...policy.params.keys()]);
    const head = await kernels(['head/kernel', 'head/bias']);
    const count = (l: string[], name: string) => l.filter((k) => k === name).length;
    // Forward: two products. Backward, everything trained: the head's kernel, the hidden activations and the hidden
    // kernel; the head alone: its kernel only.
    expect(count(full, 'BatchMatMul')).toBe(5);
    expect(count(head, 'BatchMatMul')).toBe(3);
    expect(head.length).toBeLessThan(full.length);
  });

  it('refuses a step where every parameter is frozen', async () => {
    await expect(gradientStep(policy, new CaptureOptimizer(() => true), loss)).rejects.toThrow(
      /every parameter is frozen/,
    );
  });
});
