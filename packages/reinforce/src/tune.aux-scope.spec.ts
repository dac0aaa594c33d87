// auxLossScope 'head': the auxiliary loss reaches the output layer only, with the same head gradient as 'model'.
import * as tf from '@tensorflow/tfjs-core';
import { EncoderDecoder, initBackend, modelConfig } from '@reward-tune/core-model';
import { reinforceLoss } from './reinforce-loss';

describe("reinforceLoss with auxLossScope 'head'", () => {
  beforeAll(async () => {
    await initBackend('cpu', { quiet: true });
  });

  /** Gradients by parameter name of an auxiliary-only loss (advantages 0) on a mu model. */
  function auxGrads(headOnly: boolean): Map<string, Float32Array> {
    const model = EncoderDecoder.create(
      modelConfig({ variant: 'mu', imageSize: [16, 16], vocabSize: 12, length: 6 }),
      0,
    );
    // The head starts at zero; random values let gradients flow back into the features.
    const head = model.params.get('decoder/head/kernel')!;
    head.assign(tf.randomNormal(head.shape, 0, 1, 'float32', 3));
    const images = tf.randomUniform([2, 16, 16, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
    const tokens = tf.tensor2d(
      [
        [1, 2, 3, 4, 5, 6],
        [7, 8, 9, 10, 11, 0],
      ],
      [2, 6],
      'int32',
    );
    const names = [...model.params.keys()];
    const vars = names.map((n) => model.params.get(n)!);
    // An auxiliary loss that depends on every position: the mean log-prob of token 3.
    const loss = (lp: tf.Tensor3D): tf.Scalar => tf.neg(tf.mean(tf.slice(lp, [0, 0, 3], [2, 6, 1]))) as tf.Scalar;
    const { value, grads } = tf.variableGrads(
      () =>
        reinforceLoss(model, {
          images,
          tokens,
          advantages: Float64Array.from([0, 0]),
          reduction: 'token',
          aux: { weight: 1, loss, values: [], headOnly },
        }),
      vars,
    );
    const out = new Map<string, Float32Array>();
    names.forEach((n, i) => {
      const g = grads[vars[i].name];
      out.set(n, g ? (g.dataSync() as Float32Array).slice() : new Float32Array(vars[i].size));
    });
    tf.dispose([value, images, tokens, ...Object.values(grads)]);
    model.dispose();
    return out;
  }

  it('gives the head the same gradient as scope model, and every other parameter none', () => {
    const model = auxGrads(false);
    const head = auxGrads(true);
    const maxAbs = (a: Float32Array): number => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    for (const [name, g] of head) {
      if (name.startsWith('decoder/head/')) {
        expect(maxAbs(g)).toBeGreaterThan(0);
        const ref = model.get(name)!;
        g.forEach((x, i) => expect(x).toBeCloseTo(ref[i], 6));
      } else {
        expect(maxAbs(g)).toBe(0);
      }
    }
    // Under scope 'model' the same loss moves the trunk too.
    expect(maxAbs(model.get('decoder/EmbedTargets/embedding')!)).toBeGreaterThan(0);
  });
});
