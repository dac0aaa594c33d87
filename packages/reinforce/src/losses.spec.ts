// The loss reductions against hand computations (cpu backend; label smoothing also on wasm). Log-probabilities:
// position 0 = log(.5, .25, .25), position 1 = log(.2, .3, .5); targets/tokens (0, 1), so the token losses are
// −ln .5 = 0.693147 and −ln .3 = 1.203973.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import path from 'node:path';
import { expectedValueLoss, klPenalty, policyGradientLoss, selectTokenLogProbs, weightedSoftmaxXent } from './losses';

const P = [
  [0.5, 0.25, 0.25],
  [0.2, 0.3, 0.5],
];
const lp = (rows: number) => tf.log(tf.tensor3d(Array.from({ length: rows }, () => P))) as tf.Tensor3D;
const tok = (rows: number) =>
  tf.tensor2d(
    Array.from({ length: rows }, () => [0, 1]),
    [rows, 2],
    'int32',
  );
const value = (t: tf.Tensor) => t.dataSync()[0];

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('weightedSoftmaxXent (big_vision weighted_softmax_xent, normalize=True)', () => {
  it('unweighted: the mean token loss, (0.693147 + 1.203973)/2', () => {
    expect(value(weightedSoftmaxXent(lp(1), tok(1)))).toBeCloseTo(0.94856, 5);
  });

  it('normalises each sequence by its own weight sum, then averages sequences', () => {
    // Row A weights (2, 1): (2·0.693147 + 1.203973)/3 = 0.863422. Row B weights (0, 1): 1.203973.
    // Mean 1.033698; a single normaliser over all weights would give 0.948560 instead.
    const w = tf.tensor2d([
      [2, 1],
      [0, 1],
    ]);
    expect(value(weightedSoftmaxXent(lp(2), tok(2), { weights: w }))).toBeCloseTo(1.0336976, 5);
  });

  it('label smoothing ε puts 1−ε on the label and ε/(V−1) elsewhere', () => {
    // ε = 0.3: position 0: 0.7·0.693147 + 0.15·1.386294·2 = 0.901091; position 1:
    // 0.15·1.609438 + 0.7·1.203973 + 0.15·0.693147 = 1.188169; mean 1.044630.
    expect(value(weightedSoftmaxXent(lp(1), tok(1), { labelSmoothing: 0.3 }))).toBeCloseTo(1.04463, 5);
    expect(() => weightedSoftmaxXent(lp(1), tok(1), { labelSmoothing: 1 })).toThrow(/labelSmoothing/);
  });

  it('label smoothing gives the same loss on wasm, whose OneHot cannot hold fractional values', async () => {
    setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/');
    expect(await tf.setBackend('wasm')).toBe(true);
    try {
      expect(value(weightedSoftmaxXent(lp(1), tok(1), { labelSmoothing: 0.3 }))).toBeCloseTo(1.04463, 5);
      expect(value(weightedSoftmaxXent(lp(1), tok(1)))).toBeCloseTo(0.94856, 5);
    } finally {
      await tf.setBackend('cpu');
    }
  });
});

describe('policyGradientLoss', () => {
  // Both rows: log P(y) = −1.897120. Advantages (2, −1): Σ_r A_r·log P = −1.897120.
  const adv = () => tf.tensor1d([2, -1]);

  it('token reduction divides by R×L, sequence reduction by R', () => {
    expect(value(policyGradientLoss(lp(2), tok(2), adv(), 'token'))).toBeCloseTo(1.89712 / 4, 5);
    expect(value(policyGradientLoss(lp(2), tok(2), adv(), 'sequence'))).toBeCloseTo(1.89712 / 2, 5);
  });

  it('its gradient is −A·(onehot − p) on the logits of the sampled tokens', () => {
    // d(−A·log softmax(z)_y)/dz = −A·(onehot(y) − softmax(z)); one row, sequence reduction, A = 2.
    const logits = tf.variable(tf.log(tf.tensor3d([P])));
    const g = tf.grad((z: tf.Tensor) =>
      policyGradientLoss(tf.logSoftmax(z) as tf.Tensor3D, tok(1), tf.tensor1d([2]), 'sequence'),
    )(logits);
    const expected = [
      [-2 * (1 - 0.5), -2 * (0 - 0.25), -2 * (0 - 0.25)],
      [-2 * (0 - 0.2), -2 * (1 - 0.3), -2 * (0 - 0.5)],
    ];
    Array.from(g.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(expected.flat()[i], 5));
  });

  it('rejects mis-shaped advantages', () => {
    expect(() => policyGradientLoss(lp(2), tok(2), tf.tensor1d([1]), 'token')).toThrow(
      /advantages has shape \[1\], expected \[2\]/,
    );
  });
});

describe('klPenalty (k3 estimator)', () => {
  it('is 0 against an identical reference', () => {
    const ref = selectTokenLogProbs(lp(1), tok(1));
    expect(value(klPenalty(lp(1), tok(1), ref))).toBeCloseTo(0, 7);
  });

  it('averages exp(Δ) − Δ − 1 over tokens', () => {
    // Reference probabilities of the tokens .25 and .6: Δ = ln ½ and ln 2, giving 0.193147 and 0.306853; mean 0.25.
    const ref = tf.log(tf.tensor2d([[0.25, 0.6]])) as tf.Tensor2D;
    expect(value(klPenalty(lp(1), tok(1), ref))).toBeCloseTo(0.25, 5);
  });
});

describe('expectedValueLoss (the expected estimator at enumerated positions)', () => {
  it('is −Σ π·Q over the R×L positions; its logit gradient is −π⊙(Q − Σπ·Q)/(R·L), the same for Q shifted per position', () => {
    // Position 0 enumerated with Q = (1, 0, 3), position 1 not (Q = 0). Σπ·Q = .5 + .75 = 1.25, so the loss is
    // −1.25/2 = −0.625, and ∂/∂logit_v = −π_v(Q_v − 1.25)/2: (.0625, .15625, −.21875).
    const logits = tf.log(tf.tensor3d([P])) as tf.Tensor3D;
    const q = tf.tensor3d([
      [
        [1, 0, 3],
        [0, 0, 0],
      ],
    ]);
    const shifted = tf.tensor3d([
      [
        [11, 10, 13],
        [0, 0, 0],
      ],
    ]);
    const f = (values: tf.Tensor3D) => (z: tf.Tensor) =>
      expectedValueLoss(tf.logSoftmax(z) as tf.Tensor3D, values, 'token');
    expect(value(f(q)(logits))).toBeCloseTo(-0.625, 6);
    const g = tf.grad(f(q))(logits).arraySync() as number[][][];
    [0.0625, 0.15625, -0.21875].forEach((x, v) => expect(g[0][0][v]).toBeCloseTo(x, 6));
    g[0][1].forEach((x) => expect(x).toBeCloseTo(0, 7));
    const gs = tf.grad(f(shifted))(logits).arraySync() as number[][][];
    gs[0][0].forEach((x, v) => expect(x).toBeCloseTo(g[0][0][v], 5));
    // `sequence` reduction: R instead of R·L.
    expect(value(expectedValueLoss(lp(1), q, 'sequence'))).toBeCloseTo(-1.25, 6);
    expect(() => expectedValueLoss(lp(1), tf.zeros([1, 2, 2]) as tf.Tensor3D, 'token')).toThrow(/values has shape/);
  });
});
