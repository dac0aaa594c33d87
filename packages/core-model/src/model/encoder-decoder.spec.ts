// The encoder-decoder model: parameter names and counts as documented (hand-counted below), deterministic init,
// shapes, teacher-forced causality, and gradients that agree with central finite differences.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, readTensor } from '../backend';
import { Rng } from '../rng';
import { EncoderDecoder, initParams, modelConfig } from './encoder-decoder';
import { patchify } from './vit';

const MU = { variant: 'mu', imageSize: [16, 16] as const, vocabSize: 12, length: 6, decoderDepth: 1 };

function randomImages(b: number, seed: number): tf.Tensor4D {
  return tf.randomUniform([b, 16, 16, 3], -1, 1, 'float32', seed) as tf.Tensor4D;
}

/** The head is zero at init (all logits equal): give it random values so that gradients reach every layer. */
function randomiseHead(model: EncoderDecoder, seed: number): void {
  const k = model.params.get('decoder/head/kernel')!;
  k.assign(tf.randomNormal(k.shape, 0, 1, 'float32', seed));
}

beforeAll(async () => {
  await initBackend('wasm', { quiet: true });
});

describe('encoder-decoder parameters', () => {
  it('mu: names and counts as documented', () => {
    const params = initParams(modelConfig(MU), 0);
    // Hand count (D=16, mlp 32, patch 8 on 16×16×3 → 4 patches of 192 values, vocab 12, length 6):
    // encoder 192·16+16 + [LN 32 + attn 4·(16·16+16) + LN 32 + mlp (16·32+32)+(32·16+16)] + norm 32 = 3088+2224+32
    // decoder 12·16 + 6·16 + [3 LN 96 + 2 attn 2176 + mlp 1072] + norm 32 + head 16·12+12 = 192+96+3344+32+204
    let total = 0;
    for (const v of params.values()) total += v.size;
    expect(total).toBe(5344 + 3868);
    expect(params.get('img/embedding/kernel')!.shape).toEqual([192, 16]);
    expect(params.has('img/pos_embedding')).toBe(false); // sincos2d by default: no parameter
    expect(params.get('img/Transformer/encoderblock_0/MultiHeadDotProductAttention_0/query/kernel')!.shape).toEqual([
      16, 16,
    ]);
    expect(params.get('img/Transformer/encoderblock_0/MlpBlock_0/Dense_0/kernel')!.shape).toEqual([16, 32]);
    expect(params.get('img/Transformer/encoder_norm/scale')!.shape).toEqual([16]);
    expect(params.get('decoder/EmbedTargets/embedding')!.shape).toEqual([12, 16]);
    expect(params.get('decoder/pos_embedding')!.shape).toEqual([1, 6, 16]);
    expect(params.get('decoder/decoderblock_0/MultiHeadDotProductAttention_1/key/kernel')!.shape).toEqual([16, 16]);
    expect(params.get('decoder/decoderblock_0/LayerNorm_2/bias')!.shape).toEqual([16]);
    expect(params.get('decoder/head/kernel')!.shape).toEqual([16, 12]);
    expect([...params.keys()].every((n) => /^(img|decoder)\//.test(n))).toBe(true);
    // Tensors: encoder 2 + block (2+8+2+4) + 2; decoder 1 + 1 + block (3·2 + 2·8 + 4) + 2 + 2.
    expect(params.size).toBe(2 + 16 + 2 + (1 + 1 + 26 + 2 + 2));
    tf.dispose([...params.values()]);
  });

  it('create + dispose leaves no tensors behind', () => {
    const before = tf.memory().numTensors;
    EncoderDecoder.create(modelConfig(MU), 0).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('standard variants resolve to the ViT paper sizes', () => {
    expect(modelConfig({ ...MU, variant: 'B/16', imageSize: [224, 224] }).encoder).toMatchObject({
      width: 768,
      depth: 12,
      heads: 12,
      mlp: 3072,
      patch: 16,
    });
    expect(modelConfig({ ...MU, variant: 'S/16', imageSize: [224, 224] }).encoder).toMatchObject({
      width: 384,
      depth: 12,
      heads: 6,
      mlp: 1536,
    });
    expect(modelConfig({ ...MU, variant: 'Ti/4', imageSize: [32, 32] }).encoder).toMatchObject({
      width: 192,
      heads: 3,
      patch: 4,
    });
    expect(() => modelConfig({ ...MU, variant: 'XL/16' })).toThrow(/unknown ViT variant 'XL\/16'/);
  });

  it('initialisation is deterministic in the seed; the head starts at zero; decoder positions have std ≈ 1', async () => {
    const a = initParams(modelConfig(MU), 7);
    const b = initParams(modelConfig(MU), 7);
    const c = initParams(modelConfig(MU), 8);
    const name = 'decoder/decoderblock_0/MlpBlock_0/Dense_0/kernel';
    expect(Array.from(await readTensor(a.get(name)!))).toEqual(Array.from(await readTensor(b.get(name)!)));
    expect(Array.from(await readTensor(a.get(name)!))).not.toEqual(Array.from(await readTensor(c.get(name)!)));
    expect(Array.from(await readTensor(a.get('decoder/head/kernel')!)).every((v) => v === 0)).toBe(true);
    const big = initParams(modelConfig({ ...MU, length: 64, decoderPosembStd: 1 }), 3);
    const pos = await readTensor(big.get('decoder/pos_embedding')!);
    const std = Math.sqrt(Array.from(pos).reduce((s, v) => s + v * v, 0) / pos.length);
    expect(std).toBeGreaterThan(0.9);
    expect(std).toBeLessThan(1.1);
    tf.dispose([...a.values(), ...b.values(), ...c.values(), ...big.values()]);
  });
});

describe('encoder-decoder forward', () => {
  it('patchify flattens each patch in (row, column, channel) order', async () => {
    // 4×4×1 image with values 0..15, patch 2: patch 0 is rows 0–1 × cols 0–1 = [0, 1, 4, 5].
    const img = tf.tensor4d(
      Array.from({ length: 16 }, (_, i) => i),
      [1, 4, 4, 1],
    );
    expect(Array.from(await readTensor(patchify(img, 2)))).toEqual([
      0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15,
    ]);
  });

  it('teacher-forced log-probs are normalised and position t ignores targets ≥ t', async () => {
    const model = EncoderDecoder.create(modelConfig(MU), 1);
    randomiseHead(model, 2);
    const images = randomImages(2, 3);
    const t1 = tf.tensor2d(
      [
        [1, 2, 3, 4, 5, 6],
        [7, 8, 9, 10, 11, 1],
      ],
      undefined,
      'int32',
    );
    const t2 = tf.tensor2d(
      [
        [1, 2, 3, 9, 9, 9],
        [7, 8, 9, 0, 0, 0],
      ],
      undefined,
      'int32',
    );
    const lp1 = model.logProbs(images, t1);
    expect(lp1.shape).toEqual([2, 6, 12]);
    const sums = await readTensor(tf.sum(tf.exp(lp1), -1));
    for (const s of sums) expect(s).toBeCloseTo(1, 5);
    const a = await readTensor(lp1);
    const b = await readTensor(model.logProbs(images, t2));
    // Positions 0..3 see targets 0..2 only (shift right), identical in t1 and t2.
    for (let r = 0; r < 2; r++) {
      for (let i = 0; i < 4 * 12; i++) expect(b[r * 72 + i]).toBeCloseTo(a[r * 72 + i], 5);
    }
    let differs = false;
    for (let i = 4 * 12; i < 72; i++) differs ||= Math.abs(a[i] - b[i]) > 1e-4;
    expect(differs).toBe(true);
    model.dispose();
  });

  it('scoreRows: rows sharing images score and differentiate as logProbs/headLogProbs of the gathered images', async () => {
    const model = EncoderDecoder.create(modelConfig(MU), 8);
    randomiseHead(model, 9);
    const images = randomImages(2, 10);
    const rowImages = Int32Array.from([1, 0, 1, 1]); // uneven sharing, out of order
    const tokens = tf.tensor2d(
      [
        [3, 1, 4, 1, 5, 9],
        [2, 6, 5, 3, 5, 8],
        [9, 7, 9, 3, 2, 3],
        [8, 4, 6, 2, 6, 4],
      ],
      undefined,
      'int32',
    );
    const weights = tf.randomNormal([4, 6, 12], 0, 1, 'float32', 11);
    const headWeights = tf.randomNormal([4, 6, 12], 0, 1, 'float32', 12);
    const objective = (lp: tf.Tensor3D, head: tf.Tensor3D) =>
      tf.add(tf.sum(tf.mul(lp, weights)), tf.sum(tf.mul(head, headWeights))) as tf.Scalar;
    const variables = [...model.params.values()];
    const shared = tf.variableGrads(() => {
      const s = model.scoreRows(images, tokens, { rowImages, head: true });
      return objective(s.logProbs, s.headLogProbs!);
    }, variables);
    const gathered = tf.gather(images, tf.tensor1d(rowImages, 'int32')) as tf.Tensor4D;
    const separate = tf.variableGrads(
      () => objective(model.logProbs(gathered, tokens), model.headLogProbs(gathered, tokens)),
      variables,
    );
    expect((await readTensor(shared.value))[0]).toBeCloseTo((await readTensor(separate.value))[0], 3);
    let largest = 0;
    for (const v of variables) {
      const a = await readTensor(shared.grads[v.name]);
      const b = await readTensor(separate.grads[v.name]);
      for (let i = 0; i < a.length; i++) {
        expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(1e-4 + 1e-4 * Math.abs(b[i]));
        largest = Math.max(largest, Math.abs(b[i]));
      }
    }
    // The encoder's gradient is summed over the rows that share an image: not vacuously zero.
    expect(
      Math.max(...(await readTensor(shared.grads[model.params.get('img/embedding/kernel')!.name])).map(Math.abs)),
    ).toBeGreaterThan(1e-3);
    expect(largest).toBeGreaterThan(1e-2);
    // Without head, only log-probs; without rowImages, row r is image r.
    const plain = model.scoreRows(images, tf.slice(tokens, [0, 0], [2, 6]), {});
    expect(plain.headLogProbs).toBeUndefined();
    const direct = await readTensor(model.logProbs(images, tf.slice(tokens, [0, 0], [2, 6])));
    const viaRows = await readTensor(plain.logProbs);
    for (let i = 0; i < direct.length; i++) expect(viaRows[i]).toBeCloseTo(direct[i], 5);
    model.dispose();
  });

  it('gradients agree with central finite differences (float32-aware tolerance)', async () => {
    const model = EncoderDecoder.create(modelConfig(MU), 4);
    randomiseHead(model, 5);
    const images = randomImages(2, 6);
    const tokens = tf.tensor2d(
      [
        [3, 1, 4, 1, 5, 9],
        [2, 6, 5, 3, 5, 8],
      ],
      undefined,
      'int32',
    );
    const weights = tf.randomNormal([2, 6], 0, 1, 'float32', 7);
    const loss = () => tf.sum(tf.mul(model.tokenLogProbs(images, tokens), weights)) as tf.Scalar;
    const { grads } = tf.variableGrads(loss, [...model.params.values()]);
    const rng = Rng.fromSeed(11);
    const names = [
      'img/embedding/kernel',
      'img/Transformer/encoderblock_0/MultiHeadDotProductAttention_0/key/kernel',
      'img/Transformer/encoderblock_0/LayerNorm_1/scale',
      'decoder/EmbedTargets/embedding',
      'decoder/pos_embedding',
      'decoder/decoderblock_0/MultiHeadDotProductAttention_0/query/kernel',
      'decoder/decoderblock_0/MultiHeadDotProductAttention_1/value/bias',
      'decoder/decoderblock_0/MlpBlock_0/Dense_0/kernel',
      'decoder/head/kernel',
    ];
    const eps = 1e-2;
    const checked: { name: string; g: number; fd: number; ok: boolean }[] = [];
    for (const name of names) {
      const v = model.params.get(name)!;
      const g = await readTensor(grads[v.name]);
      const values = Float32Array.from(await readTensor(v));
      // The embedding row of a token that occurs, so that its gradient is not trivially zero.
      const idx = name === 'decoder/EmbedTargets/embedding' ? 3 * 16 + rng.int(16) : rng.int(values.length);
      const at = async (delta: number): Promise<number> => {
        const w = Float32Array.from(values);
        w[idx] += delta;
        v.assign(tf.tensor(w, v.shape));
        return (await readTensor(loss()))[0];
      };
      const fd = ((await at(eps)) - (await at(-eps))) / (2 * eps);
      v.assign(tf.tensor(values, v.shape));
      // float32 loss (|loss| ~ 10) with eps 1e-2: rounding error of the difference quotient is ~1e-3.
      const err = Math.abs(g[idx] - fd);
      checked.push({ name, g: g[idx], fd, ok: err <= 3e-3 + 2e-2 * Math.abs(fd) });
    }
    expect(checked.filter((c) => !c.ok)).toEqual([]);
    // The comparison is not vacuous: most chosen entries have a clearly non-zero gradient.
    expect(checked.filter((c) => Math.abs(c.fd) > 1e-2).length).toBeGreaterThanOrEqual(6);
    model.dispose();
  });
});
