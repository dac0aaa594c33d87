// The stage I oracle: parameter names and shapes (big_vision's), zero-initialised heads, code dropout's kept share,
// deterministic frozen encoding, the three ways to give a code to the decoder, and a `mu` oracle overfitting 8
// examples with a healthy codebook.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, registerGradients } from '../../backend';
import { AdamW } from '../../optim/adamw';
import { Rng } from '../../rng';
import { ORACLE_PRESETS, oracleConfig, type OracleConfig } from './config';
import { codebookHealth, codeHistogram, type OracleState } from './dictionary';
import {
  codeDropoutMask,
  initOracle,
  oracleDecode,
  oracleEncode,
  oracleLoss,
  oracleTrainStep,
  type OracleBatch,
} from './oracle';

const OUTPUTS = [
  { name: 'seg', channels: 4, loss: 'xent' as const },
  { name: 'rgb', channels: 3, loss: 'mse' as const },
];
const MU: OracleConfig = oracleConfig({ ...ORACLE_PRESETS.mu, outputs: OUTPUTS });

beforeAll(async () => {
  await initBackend('wasm', { quiet: true });
  registerGradients();
});

/**
 * B examples at 16×16: `seg` a one-hot class per 4×4 block, `rgb` a colour per block, the context image the luma of
 * that colour (so the image tells the blocks apart but not their class or hue).
 */
function makeBatch(b: number, seed: number): OracleBatch {
  const rng = Rng.fromSeed(seed);
  const seg = new Float32Array(b * 16 * 16 * 4);
  const rgb = new Float32Array(b * 16 * 16 * 3);
  const ctx = new Float32Array(b * 16 * 16 * 3);
  for (let n = 0; n < b; n++) {
    for (let by = 0; by < 4; by++) {
      for (let bx = 0; bx < 4; bx++) {
        const cls = rng.int(4);
        const col = [rng.next() * 2 - 1, rng.next() * 2 - 1, rng.next() * 2 - 1];
        const luma = 0.299 * col[0] + 0.587 * col[1] + 0.114 * col[2];
        for (let y = by * 4; y < by * 4 + 4; y++) {
          for (let x = bx * 4; x < bx * 4 + 4; x++) {
            const px = (n * 16 + y) * 16 + x;
            seg[px * 4 + cls] = 1;
            for (let c = 0; c < 3; c++) {
              rgb[px * 3 + c] = col[c];
              ctx[px * 3 + c] = luma;
            }
          }
        }
      }
    }
  }
  return {
    labels: { seg: tf.tensor4d(seg, [b, 16, 16, 4]), rgb: tf.tensor4d(rgb, [b, 16, 16, 3]) },
    ctx: tf.tensor4d(ctx, [b, 16, 16, 3]),
  };
}

function disposeBatch(batch: OracleBatch): void {
  tf.dispose([...Object.values(batch.labels), batch.ctx!]);
}

describe('oracle parameters', () => {
  it('mu: big_vision names, documented shapes, zero heads', async () => {
    const { params, state } = initOracle(MU, 0);
    const shapes = Object.fromEntries([...params].map(([n, v]) => [n, v.shape]));
    // patch 4: p² = 16; D 16; P = 16 tokens; Dc 8.
    expect(shapes['embedding_seg/kernel']).toEqual([64, 16]);
    expect(shapes['embedding_rgb/kernel']).toEqual([48, 16]);
    expect(shapes['ctx_enc_embedding/kernel']).toEqual([48, 16]);
    expect(shapes['pos_embedding_encoder']).toEqual([1, 16, 16]);
    expect(shapes['encoder/encoderblock_0/MultiHeadDotProductAttention_0/query/kernel']).toEqual([16, 16]);
    expect(shapes['encoder/encoderblock_0/MlpBlock_0/Dense_0/kernel']).toEqual([16, 32]);
    expect(shapes['encoder/encoder_norm/scale']).toEqual([16]);
    expect(shapes['encoder_head/kernel']).toEqual([16, 8]);
    expect(shapes['decoder_stem/kernel']).toEqual([8, 16]);
    expect(shapes['ctx_dec_embedding/bias']).toEqual([16]);
    expect(shapes['pos_embedding_decoder']).toEqual([1, 16, 16]);
    expect(shapes['decoder/encoder_norm/bias']).toEqual([16]);
    expect(shapes['head_seg/kernel']).toEqual([16, 64]);
    expect(shapes['head_rgb/bias']).toEqual([48]);
    const tops = new Set([...params.keys()].map((n) => n.split('/')[0]));
    expect([...tops].sort()).toEqual(
      [
        'ctx_dec_embedding',
        'ctx_enc_embedding',
        'decoder',
        'decoder_stem',
        'embedding_rgb',
        'embedding_seg',
        'encoder',
        'encoder_head',
        'head_rgb',
        'head_seg',
        'pos_embedding_decoder',
        'pos_embedding_encoder',
      ].sort(),
    );
    for (const n of ['head_seg/kernel', 'head_rgb/kernel', 'head_seg/bias'])
      expect((await params.get(n)!.data()).every((v) => v === 0)).toBe(true);
    expect(state.dictionary.length).toBe(16 * 8);
    // Deterministic in the seed.
    const again = initOracle(MU, 0);
    expect(await again.params.get('encoder_head/kernel')!.data()).toEqual(
      await params.get('encoder_head/kernel')!.data(),
    );
    expect(again.state.dictionary).toEqual(state.dictionary);
    tf.dispose([...params.values(), ...again.params.values()]);
  });
});

describe('code dropout', () => {
  it('keeps exactly the share the per-example threshold implies, in a random order', () => {
    const L = 16;
    const B = 12;
    const rng = Rng.fromSeed(5);
    const twin = Rng.fromState(rng.state());
    const mask = codeDropoutMask(B, L, rng);
    // The thresholds are the first B draws; kept = #{i < L : 1 − (i+1)/(L+1) > thr}.
    const thr = Array.from({ length: B }, () => twin.next());
    const orders = new Set<string>();
    for (let b = 0; b < B; b++) {
      const row = [...mask.subarray(b * L, (b + 1) * L)];
      let expected = 0;
      for (let i = 0; i < L; i++) if (1 - (i + 1) / (L + 1) > thr[b]) expected++;
      expect(row.filter((v) => v === 0).length).toBe(L - expected);
      expect(row.every((v) => v === 0 || v === 1)).toBe(true);
      orders.add(row.join(''));
    }
    expect(new Set(thr.map((t) => Math.floor(t * (L + 1)))).size).toBeGreaterThan(3); // the shares differ
    expect(orders.size).toBeGreaterThan(6); // and so do the kept positions
  });

  it('zeroes the dropped tokens before the decoder in training only', async () => {
    const { params, state } = initOracle(MU, 1);
    const batch = makeBatch(4, 2);
    // With a zero code everything the decoder sees comes from the context: dropout cannot change it.
    const zeros = { vectors: tf.zeros([4, 4, 8]) as tf.Tensor3D };
    const a = oracleDecode(params, state, MU, zeros, batch.ctx, { train: true, rng: Rng.fromSeed(1) });
    const b = oracleDecode(params, state, MU, zeros, batch.ctx, { train: false });
    // The heads are zero at init: make them random so the outputs depend on the code.
    params.get('head_rgb/kernel')!.assign(tf.randomNormal([16, 48], 0, 1, 'float32', 3));
    const codes = Int32Array.from({ length: 16 }, (_, i) => i % 16);
    const c = oracleDecode(params, state, MU, codes, batch.ctx, { train: true, rng: Rng.fromSeed(1) });
    const d = oracleDecode(params, state, MU, codes, batch.ctx, { train: false });
    expect(await a.rgb.data()).toEqual(await b.rgb.data());
    expect(await c.rgb.data()).not.toEqual(await d.rgb.data());
    expect(() => oracleDecode(params, state, MU, codes, batch.ctx, { train: true })).toThrow(
      /code dropout in training needs an rng/,
    );
    tf.dispose([
      ...params.values(),
      zeros.vectors,
      ...Object.values(a),
      ...Object.values(b),
      ...Object.values(c),
      ...Object.values(d),
    ]);
    disposeBatch(batch);
  });
});

describe('encode and decode', () => {
  it('with the dictionary frozen, encode is deterministic and leaves the state alone', async () => {
    const { params, state } = initOracle(MU, 3);
    const dict = Float32Array.from(state.dictionary);
    const batch = makeBatch(4, 4);
    const e1 = await oracleEncode(params, state, MU, batch.labels, batch.ctx);
    const e2 = await oracleEncode(params, state, MU, batch.labels, batch.ctx);
    expect(e1.codes).toHaveLength(4 * 4);
    expect(e1.codes).toEqual(e2.codes);
    expect(await e1.preQuant.data()).toEqual(await e2.preQuant.data());
    expect(state.dictionary).toEqual(dict);
    // Standardised: each pre-quantisation vector has mean 0 and norm √Dc.
    const pre = await e1.preQuant.data();
    for (let n = 0; n < 16; n++) {
      const row = [...pre.subarray(n * 8, n * 8 + 8)];
      expect(row.reduce((a, v) => a + v, 0)).toBeCloseTo(0, 4);
      expect(Math.hypot(...row)).toBeCloseTo(Math.sqrt(8), 2);
    }
    tf.dispose([...params.values(), e1.preQuant, e1.quantised, e2.preQuant, e2.quantised]);
    disposeBatch(batch);
  });

  it('a code decodes the same given as an Int32Array, an int32 tensor or its quantised vectors', async () => {
    const { params, state } = initOracle(MU, 4);
    for (const [n, v] of params) if (n.startsWith('head_')) v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', 9));
    const batch = makeBatch(3, 5);
    const enc = await oracleEncode(params, state, MU, batch.labels, batch.ctx);
    const codeTensor = tf.tensor2d(enc.codes, [3, 4], 'int32');
    const outs = [
      oracleDecode(params, state, MU, enc.codes, batch.ctx),
      oracleDecode(params, state, MU, codeTensor, batch.ctx),
      oracleDecode(params, state, MU, { vectors: enc.quantised }, batch.ctx),
    ];
    for (const o of outs) {
      expect(o.seg.shape).toEqual([3, 16, 16, 4]);
      expect(o.rgb.shape).toEqual([3, 16, 16, 3]);
    }
    const ref = await outs[0].seg.data();
    for (const o of outs.slice(1)) {
      const v = await o.seg.data();
      for (let i = 0; i < v.length; i += 17) expect(v[i]).toBeCloseTo(ref[i], 5);
    }
    tf.dispose([...params.values(), enc.preQuant, enc.quantised, codeTensor, ...outs.flatMap((o) => Object.values(o))]);
    disposeBatch(batch);
  });

  it('the zero-initialised heads give uniform logits and zero colours: loss ln 4 + mean(rgb²)', async () => {
    const { params, state } = initOracle(MU, 6);
    const batch = makeBatch(2, 6);
    const r = oracleLoss(params, state, MU, batch);
    const rgb = Array.from(await batch.labels.rgb.data());
    const msq = rgb.reduce((a, v) => a + v * v, 0) / rgb.length;
    expect((await r.terms.rec_seg.data())[0]).toBeCloseTo(Math.log(4), 5);
    expect((await r.terms.rec_rgb.data())[0]).toBeCloseTo(msq, 5);
    expect((await r.loss.data())[0]).toBeCloseTo(Math.log(4) + msq, 5);
    // Per-pixel weights multiply the per-pixel loss before the mean: all ×3 → 3·ln 4.
    const w = tf.fill([2, 16, 16], 3) as tf.Tensor3D;
    const rw = oracleLoss(params, state, MU, { ...batch, weights: { seg: w } });
    expect((await rw.terms.rec_seg.data())[0]).toBeCloseTo(3 * Math.log(4), 4);
    // A key's weight scales its term in the total (rec_<key> stays unweighted).
    const weighted = oracleConfig({ ...MU, outputs: [OUTPUTS[0], { ...OUTPUTS[1], weight: 0.5 }] });
    const rk = oracleLoss(params, state, weighted, batch);
    expect((await rk.terms.rec_rgb.data())[0]).toBeCloseTo(msq, 5);
    expect((await rk.loss.data())[0]).toBeCloseTo(Math.log(4) + 0.5 * msq, 5);
    tf.dispose([...params.values(), w]);
    disposeBatch(batch);
  });
});

describe('training', () => {
  it('a mu oracle overfits 8 examples: loss falls ≥ 10×, codebook perplexity above half the dictionary', async () => {
    const cfg = oracleConfig({ ...ORACLE_PRESETS.mu, outputs: OUTPUTS, momentum: 0.9 });
    const model = initOracle(cfg, 0);
    const params = model.params;
    let state: OracleState = model.state;
    const batch = makeBatch(8, 11);
    const evalLoss = async () => {
      const r = oracleLoss(params, state, cfg, batch);
      const v = (await r.loss.data())[0];
      tf.dispose(r as unknown as tf.TensorContainer);
      return v;
    };
    const before = await evalLoss();
    // Momentum 0.9 (a dead code is split after ~22 idle steps, not ~460) suits a run this short.
    const optimizer = new AdamW(params, { lr: 1e-2 });
    const rng = Rng.fromSeed(0);
    let splits = 0;
    let tensorsAfterWarmup = -1;
    for (let step = 0; step < 150; step++) {
      const r = await oracleTrainStep(params, state, cfg, optimizer, batch, { rng });
      expect(r.codes).toHaveLength(8 * 4);
      state = r.state;
      splits += r.splits;
      if (step === 1) tensorsAfterWarmup = tf.memory().numTensors; // the optimizer's slots exist from step 0 on
    }
    expect(tf.memory().numTensors).toBe(tensorsAfterWarmup); // nothing leaks per step
    const after = await evalLoss();
    const enc = await oracleEncode(params, state, cfg, batch.labels, batch.ctx);
    expect(splits).toBeGreaterThan(0); // the dead-code split did run
    expect(after).toBeLessThan(before / 10);
    // Over the last ~10 steps (the EMA counts; measured 10.4 of 16) and in the frozen code of the 8 examples (10.1).
    expect(codebookHealth(state.counts).perplexity).toBeGreaterThan(cfg.dictSize / 2);
    expect(codebookHealth(codeHistogram(enc.codes, cfg.dictSize)).perplexity).toBeGreaterThan(cfg.dictSize / 2);
    tf.dispose([...params.values(), enc.preQuant, enc.quantised]);
    optimizer.dispose();
    disposeBatch(batch);
  });
});
