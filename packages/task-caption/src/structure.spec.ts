// The caption structure processor on a real `mu` EncoderDecoder (cpu backend): samples are always words, one END,
// then only PAD; without the processor the same model does emit PAD before END (so the check can fail); and the
// teacher-forced re-scoring applies the same masks.
import * as tf from '@tensorflow/tfjs-core';
import { EncoderDecoder, initBackend, modelConfig, Rng } from '@reward-tune/core-model';
import { captionStructure } from './structure';
import { END, PAD } from './vocabulary';

const V = 12;
const L = 8;
const B = 4;
const N = 16;

/** Row problems: PAD before END, anything but PAD after it, no END at all, or END first. */
function malformed(row: Int32Array): string | undefined {
  const end = row.indexOf(END);
  if (end < 0) return 'no END';
  if (end === 0) return 'END first';
  if (row.subarray(0, end).includes(PAD)) return 'PAD before END';
  if (row.subarray(end + 1).some((t) => t !== PAD)) return 'not PAD after END';
  return undefined;
}

function rows(tokens: Int32Array): Int32Array[] {
  return Array.from({ length: tokens.length / L }, (_, r) => tokens.subarray(r * L, (r + 1) * L));
}

describe('captionStructure', () => {
  let model: EncoderDecoder;
  let images: tf.Tensor4D;

  beforeAll(async () => {
    await initBackend('cpu', { quiet: true });
    model = EncoderDecoder.create(modelConfig({ variant: 'mu/8', imageSize: [16, 16], vocabSize: V, length: L }), 0, [
      captionStructure(V, L),
    ]);
    // The head is zero at init (uniform logits): random values give the rows a preference each, as a trained model has.
    const head = model.params.get('decoder/head/kernel')!;
    head.assign(tf.randomNormal(head.shape, 0, 1, 'float32', 3));
    images = tf.randomUniform([B, 16, 16, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
  });

  afterAll(() => {
    tf.dispose([images, ...model.params.values()]);
  });

  it('T=1 samples and greedy outputs are words, one END, then only PAD', async () => {
    const s = await model.sample(images, { numSamples: N, rng: Rng.fromSeed(7) });
    const problems = rows(s.tokens)
      .map(malformed)
      .filter((p) => p !== undefined);
    expect(problems).toEqual([]);
    // Both kinds of ending occur: END chosen early, and END forced at the last position.
    const ends = rows(s.tokens).map((r) => r.indexOf(END));
    expect(ends.some((e) => e < L - 1)).toBe(true);
    expect(ends.some((e) => e === L - 1)).toBe(true);
    const g = await model.sample(images, { numSamples: 1, greedy: true });
    expect(
      rows(g.tokens)
        .map(malformed)
        .filter((p) => p !== undefined),
    ).toEqual([]);
  });

  it('without it, the same model samples ill-formed rows', async () => {
    const free = model.withProcessors([]);
    const s = await free.sample(images, { numSamples: N, rng: Rng.fromSeed(7) });
    expect(rows(s.tokens).some((r) => malformed(r) !== undefined)).toBe(true);
  });

  it('re-scoring applies the same masks: forced PAD costs nothing, PAD before END is (near) impossible', () => {
    const good = [4, 5, 6, END, PAD, PAD, PAD, PAD];
    const bad = [4, PAD, 6, END, PAD, PAD, PAD, PAD];
    const lp = tf.tidy(() => {
      const tokens = tf.tensor2d([...good, ...bad], [2, L], 'int32');
      // [2, L] log-probability of each given token.
      return tf.sum(
        tf.mul(model.logProbs(tf.slice(images, [0, 0, 0, 0], [2, 16, 16, 3]), tokens), tf.oneHot(tokens, V)),
        2,
      );
    });
    const v = lp.arraySync() as number[][];
    lp.dispose();
    for (let t = 4; t < L; t++) expect(v[0][t]).toBeCloseTo(0, 5); // only PAD is allowed after END
    expect(v[0].every((x) => x > -50)).toBe(true);
    expect(v[1][1]).toBeLessThan(-1e6); // NEG bias on PAD before END
  });
});
