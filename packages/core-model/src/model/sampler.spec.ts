// The KV-cached sampler against naive full-prefix decoding (same tokens, greedy and seeded), its log-probs against
// the teacher-forced scorer, masks, and the token-selection rule (top-k, top-p, temperature) on hand-made logits.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, readTensor } from '../backend';
import { allowedAt, prefixConstraint, slotMask, tokenSet, type LogitsProcessor } from './logits-processors';
import { decoderLogits, decoderStep, disposeKvCache, initKvCache, shiftRight } from './decoder';
import { EncoderDecoder, modelConfig } from './encoder-decoder';
import type { SampleOptions, SampleResult } from './policy';
import { Rng } from '../rng';
import { selectTokens } from './sampler';

const V = 12;
const L = 6;
const MU = { variant: 'mu', imageSize: [16, 16] as const, vocabSize: V, length: L, decoderDepth: 2 };

/** Slots of 3: [1, 5) then [5, 9) then [9, 12); the middle slot must also be ≥ previous token + 4 (dynamic). */
function processors(): LogitsProcessor[] {
  return [
    slotMask([tokenSet(V, [[1, 5]]), tokenSet(V, [[5, 9]]), tokenSet(V, [[9, 12]])]),
    prefixConstraint((t, prefix) => (t % 3 === 1 ? tokenSet(V, [[prefix[t - 1] + 4, V]]) : null)),
  ];
}

function model(procs: LogitsProcessor[], seed = 1): EncoderDecoder {
  const m = EncoderDecoder.create(modelConfig(MU), seed, procs);
  // A zero head makes every distribution uniform; random values make the test discriminating.
  const k = m.params.get('decoder/head/kernel')!;
  k.assign(tf.randomNormal(k.shape, 0, 1.5, 'float32', seed + 100));
  return m;
}

/** Reference: decode without a cache, re-running the full teacher-forced decoder on the prefix at every step. */
async function naiveSample(m: EncoderDecoder, images: tf.Tensor4D, opts: SampleOptions): Promise<SampleResult> {
  const n = opts.numSamples;
  const encoded = m.encode(images);
  const [b, p, d] = encoded.shape;
  const rows = b * n;
  const tiled = tf.reshape(tf.tile(tf.expandDims(encoded, 1), [1, n, 1, 1]), [rows, p, d]) as tf.Tensor3D;
  const tokens = new Int32Array(rows * L);
  const logProbs = new Float32Array(rows * L);
  for (let t = 0; t < L; t++) {
    const inputs = shiftRight(tf.tensor2d(tokens, [rows, L], 'int32'));
    const logits = decoderLogits(m.params, m.config.decoder, tiled, inputs); // raw: the processors come below
    const all = (await readTensor(logits)) as Float32Array;
    const row = new Float32Array(rows * V);
    for (let r = 0; r < rows; r++) row.set(all.subarray((r * L + t) * V, (r * L + t + 1) * V), r * V);
    const allowed = allowedAt(m.processors, { position: t, rows, length: L, vocabSize: V, tokens });
    const sel = selectTokens(row, rows, V, allowed, opts, opts.rng);
    for (let r = 0; r < rows; r++) {
      tokens[r * L + t] = sel.tokens[r];
      logProbs[r * L + t] = sel.logProbs[r];
    }
  }
  return { batch: b, numSamples: n, length: L, tokens, logProbs };
}

const images = (): tf.Tensor4D => tf.randomUniform([2, 16, 16, 3], -1, 1, 'float32', 42) as tf.Tensor4D;

function expectClose(a: Float32Array, b: Float32Array, tol: number): void {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  expect(worst).toBeLessThan(tol);
}

beforeAll(async () => {
  await initBackend('wasm', { quiet: true });
});

describe('KV-cached sampling equals naive decoding', () => {
  it.each([
    ['greedy', { numSamples: 1, greedy: true }],
    ['seeded, T=1', { numSamples: 4 }],
    ['seeded, T=0.7, top-k 3', { numSamples: 3, temperature: 0.7, topK: 3 }],
    ['seeded, top-p 0.8', { numSamples: 3, topP: 0.8 }],
  ] as const)('%s, with static and dynamic processors', async (_, o) => {
    const m = model(processors());
    const imgs = images();
    const cached = await m.sample(imgs, { ...o, rng: Rng.fromSeed(5) });
    const naive = await naiveSample(m, imgs, { ...o, rng: Rng.fromSeed(5) });
    expect(Array.from(cached.tokens)).toEqual(Array.from(naive.tokens));
    expectClose(cached.logProbs, naive.logProbs, 1e-5);
    expect([cached.batch, cached.numSamples, cached.length]).toEqual([2, o.numSamples, L]);
    m.dispose();
  });

  it('without processors too, and samples differ across the N draws', async () => {
    const m = model([], 3);
    const imgs = images();
    const cached = await m.sample(imgs, { numSamples: 4, rng: Rng.fromSeed(9) });
    const naive = await naiveSample(m, imgs, { numSamples: 4, rng: Rng.fromSeed(9) });
    expect(Array.from(cached.tokens)).toEqual(Array.from(naive.tokens));
    const seqs = new Set(Array.from({ length: 8 }, (_, r) => cached.tokens.slice(r * L, (r + 1) * L).join(',')));
    expect(seqs.size).toBeGreaterThan(1);
    m.dispose();
  });
});

describe('sampler log-probs', () => {
  it('equal the teacher-forced scorer on the sampled tokens (T=1, processors applied in both)', async () => {
    const m = model(processors(), 2);
    const imgs = images();
    const s = await m.sample(imgs, { numSamples: 4, rng: Rng.fromSeed(1) });
    // Image b's samples are rows b·N..b·N+N−1: score them against the image repeated N times.
    const rep = tf.reshape(tf.tile(tf.expandDims(imgs, 1), [1, 4, 1, 1, 1]), [8, 16, 16, 3]) as tf.Tensor4D;
    const tf_lp = m.tokenLogProbs(rep, tf.tensor2d(s.tokens, [8, L], 'int32'));
    expectClose(s.logProbs, (await readTensor(tf_lp)) as Float32Array, 1e-5);
    // Not trivially zero: the model is far from deterministic here.
    expect(s.logProbs.some((v) => v < -0.1)).toBe(true);
    m.dispose();
  });

  it('masked tokens get a large negative finite log-prob in the scorer', async () => {
    const m = model(processors(), 2);
    const lp = await readTensor(
      m.logProbs(images(), tf.tensor2d([1, 5, 9, 4, 8, 11, 2, 6, 10, 1, 5, 9], [2, L], 'int32')),
    );
    expect(lp.every((v) => Number.isFinite(v))).toBe(true);
    expect(lp[0]).toBeLessThan(-1e8); // token 0 at slot 0 is outside [1, 5)
    expect(lp[1 * V + 4]).toBeLessThan(-1e8); // slot 1 is [5, 9)
    expect(lp[1 * V + 5]).toBeGreaterThan(-50); // row 0: 5 ≥ prefix 1 + 4, allowed
    expect(lp[(L + 1) * V + 5]).toBeLessThan(-1e8); // row 1: prefix 2 needs ≥ 6 (the dynamic rule)
    expect(lp[(L + 1) * V + 6]).toBeGreaterThan(-50);
    m.dispose();
  });
});

describe('across backends', () => {
  it('wasm and cpu draw the same tokens from the same seed (selection runs on the CPU side)', async () => {
    const m = model(processors(), 8);
    const imgs = images();
    const run = () => m.sample(imgs, { numSamples: 3, rng: Rng.fromSeed(21) });
    const onWasm = await run();
    await initBackend('cpu', { quiet: true });
    try {
      const onCpu = await run();
      expect(Array.from(onCpu.tokens)).toEqual(Array.from(onWasm.tokens));
      expectClose(onCpu.logProbs, onWasm.logProbs, 1e-4);
    } finally {
      await initBackend('wasm', { quiet: true });
      m.dispose();
    }
  });
});

describe('fixed shapes', () => {
  it('every decoding step runs the same kernels on the same shapes (WebGPU compiles per shape)', async () => {
    const m = model([], 7);
    const enc = m.encode(images());
    let cache = initKvCache(m.params, m.config.decoder, enc);
    const signatures: string[] = [];
    for (let t = 0; t < L; t++) {
      const input = tf.tensor1d([t, 1], 'int32');
      const prof = await tf.profile(() => {
        const out = decoderStep(m.params, m.config.decoder, cache, input, t);
        cache = out.cache;
        return out.logits;
      });
      signatures.push(prof.kernels.map((k) => `${k.name}${JSON.stringify(k.inputShapes)}`).join(';'));
    }
    expect(new Set(signatures).size).toBe(1);
    expect(signatures[0]).toContain('BatchMatMul');
    disposeKvCache(cache);
    m.dispose();
  });
});

describe('memory', () => {
  it('sampling and scoring leave no tensors behind', async () => {
    const m = model(processors(), 6);
    const imgs = images();
    const tokens = tf.tensor2d(new Int32Array(2 * L).fill(1), [2, L], 'int32');
    await m.sample(imgs, { numSamples: 2, rng: Rng.fromSeed(1) });
    tf.dispose(m.tokenLogProbs(imgs, tokens));
    const before = tf.memory().numTensors;
    await m.sample(imgs, { numSamples: 2, rng: Rng.fromSeed(1) });
    tf.dispose(m.tokenLogProbs(imgs, tokens));
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});

describe('masks are respected', () => {
  it('every sampled token lies in its slot set and satisfies the prefix rule', async () => {
    const m = model(processors(), 4);
    const s = await m.sample(images(), { numSamples: 16, rng: Rng.fromSeed(3), temperature: 2 });
    for (let r = 0; r < 32; r++) {
      for (let t = 0; t < L; t++) {
        const tok = s.tokens[r * L + t];
        const [lo, hi] = [
          [1, 5],
          [5, 9],
          [9, 12],
        ][t % 3];
        expect(tok >= lo && tok < hi).toBe(true);
        if (t % 3 === 1) expect(tok).toBeGreaterThanOrEqual(s.tokens[r * L + t - 1] + 4);
      }
    }
    m.dispose();
  });
});

describe('selectTokens on hand-made logits', () => {
  // logits ln[1, 2, 3, 4] → probabilities [0.1, 0.2, 0.3, 0.4].
  const logits = Float32Array.from([1, 2, 3, 4].map(Math.log));
  const draw = (opts: SampleOptions, n = 4000): { freq: number[]; lp: Map<number, number> } => {
    const rng = Rng.fromSeed(17);
    const freq = [0, 0, 0, 0];
    const lp = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const s = selectTokens(logits, 1, 4, null, opts, rng);
      freq[s.tokens[0]] += 1 / n;
      lp.set(s.tokens[0], s.logProbs[0]);
    }
    return { freq, lp };
  };

  it('greedy takes the argmax and reports its T=1 log-prob', () => {
    const s = selectTokens(logits, 1, 4, null, { numSamples: 1, greedy: true });
    expect(s.tokens[0]).toBe(3);
    expect(s.logProbs[0]).toBeCloseTo(Math.log(0.4), 6);
  });

  it('top-k 2 keeps {3, 2} renormalised: 4/7 and 3/7', () => {
    const { freq, lp } = draw({ numSamples: 1, topK: 2 });
    expect(freq[0] + freq[1]).toBe(0);
    expect(freq[3]).toBeCloseTo(4 / 7, 1);
    expect(lp.get(3)).toBeCloseTo(Math.log(4 / 7), 6);
    expect(lp.get(2)).toBeCloseTo(Math.log(3 / 7), 6);
  });

  it('top-p 0.75 keeps the smallest set reaching 0.75: {3, 2, 1} with 4/9, 3/9, 2/9', () => {
    const { freq, lp } = draw({ numSamples: 1, topP: 0.75 });
    expect(freq[0]).toBe(0);
    expect(lp.get(1)).toBeCloseTo(Math.log(2 / 9), 6);
    expect(freq[1]).toBeCloseTo(2 / 9, 1);
  });

  it('temperature 0.5 squares the probabilities: [1, 4, 9, 16] / 30', () => {
    const { freq, lp } = draw({ numSamples: 1, temperature: 0.5 });
    expect(lp.get(0)).toBeCloseTo(Math.log(1 / 30), 5);
    expect(lp.get(3)).toBeCloseTo(Math.log(16 / 30), 5);
    expect(freq[3]).toBeCloseTo(16 / 30, 1);
  });

  it('a mask removes tokens from sampling and from the normalisation', () => {
    const allowed = Uint8Array.from([1, 0, 1, 0]);
    const { freq, lp } = draw({ numSamples: 1 }, 500);
    expect(freq.every((f) => f > 0)).toBe(true);
    expect(lp.size).toBe(4);
    const rng = Rng.fromSeed(1);
    for (let i = 0; i < 200; i++) {
      const s = selectTokens(logits, 1, 4, allowed, { numSamples: 1 }, rng);
      expect([0, 2]).toContain(s.tokens[0]);
      expect(s.logProbs[0]).toBeCloseTo(Math.log(s.tokens[0] === 0 ? 0.25 : 0.75), 5);
    }
  });
});
