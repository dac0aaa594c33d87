// The loops with a task that takes the batched pair of the contract (UViM: encodeTargetsBatch, decodeBatch), on the
// toy blocks over a `mu` oracle: stage II targets are the frozen code + 1, decoding a batch of rows equals decoding
// one row at a time (and decodeRows keeps a per-sequence task's decode as it was), rollouts reward the batch-decoded
// outputs, the per-token estimators are refused in one line, and MLE and tuning run.
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  initBackend,
  initOracle,
  oracleConfig,
  oracleEncode,
  ORACLE_PRESETS,
  registerGradients,
  Rng,
  validate,
  type FrozenOracle,
} from '@reward-tune/core-model';
import * as E from 'fp-ts/Either';
import { z } from 'zod';
import { tuneSectionSchema } from './config-sections';
import { ESTIMATOR_SPECS, ESTIMATORS, WHOLE_OUTPUT_REWARD } from './estimators';
import { heldOutLoss, trainMle } from './mle';
import { sampleAndReward } from './rollout';
import { decodeRows, encodeTargetRows } from './task';
import { toyBatch, toyTask } from './testing/toys';
import { tune } from './tune';
import { checkUpdateConfig } from './update';
import {
  blockExample,
  blockModel,
  BlockTask,
  imagesOf,
  segLabels,
  SEG_OUTPUT,
  type BlockExample,
} from './testing/uvim-toys';

const CFG = oracleConfig({ ...ORACLE_PRESETS.mu, outputs: [SEG_OUTPUT] });
let frozen: FrozenOracle;
let task: BlockTask;

beforeAll(async () => {
  await initBackend('wasm', { quiet: true });
  registerGradients();
  const m = initOracle(CFG, 3);
  // Heads that are not zero, so that the decoded map depends on the code.
  for (const [n, v] of m.params) if (n.startsWith('head_')) v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', 4));
  frozen = { cfg: CFG, params: m.params, state: m.state };
  task = new BlockTask(() => frozen);
});

const examples = (n: number, seed = 1): BlockExample[] => Array.from({ length: n }, (_, i) => blockExample(seed, i));

describe('stage II targets', () => {
  it('are the frozen oracle code + 1 of the labels, computed per batch', async () => {
    const exs = examples(6);
    const images = imagesOf(exs);
    const seg = segLabels(exs);
    const enc = await oracleEncode(frozen.params, frozen.state, CFG, { seg }, images);
    const { targets, weights } = await encodeTargetRows(task, exs, images, CFG.codeLen, Rng.fromSeed(0));
    expect(weights).toBeUndefined();
    expect(targets).toEqual(Int32Array.from(enc.codes, (c) => c + 1));
    expect(new Set(targets).size).toBeGreaterThan(1);
    // The wrong length is an error naming the hook.
    await expect(encodeTargetRows(task, exs, images, 5, Rng.fromSeed(0))).rejects.toThrow(
      /^task\.encodeTargetsBatch gave 24 tokens for 6 examples, the policy's length is 5$/,
    );
    tf.dispose([images, seg, enc.preQuant, enc.quantised]);
  });

  it('the MLE loop trains on them: a zero-initialised head scores every code token at ln K, then the loss falls', async () => {
    const model = blockModel(CFG.dictSize + 1, CFG.codeLen, 0);
    const held = examples(4, 9);
    const heldOut = [{ images: imagesOf(held), examples: held }];
    // Token 0 is suppressed and the head is zero: uniform over the 16 code tokens, so any target in 1..16 costs ln 16.
    expect(await heldOutLoss(model, task, heldOut, 0)).toBeCloseTo(Math.log(CFG.dictSize), 4);
    const optimizer = new AdamW(model.params, { lr: 3e-3 });
    const r = await trainMle({
      policy: model,
      optimizer,
      task,
      train: (_step, rng) => {
        const exs = Array.from({ length: 4 }, () => blockExample(1, rng.int(8)));
        return { images: imagesOf(exs), examples: exs };
      },
      rng: Rng.fromSeed(1),
      config: { steps: 6 },
    });
    expect(r.stopped).toBe('done');
    expect(r.losses.every(Number.isFinite)).toBe(true);
    expect(r.losses[5]).toBeLessThan(r.losses[0]);
    optimizer.dispose();
    model.dispose();
    heldOut[0].images.dispose();
  });
});

describe('batched decoding', () => {
  it('a batch of rows decodes as decoding one row at a time', async () => {
    const exs = examples(3);
    const images = imagesOf(exs);
    const n = 4;
    const rng = Rng.fromSeed(5);
    const tokens = Int32Array.from({ length: exs.length * n * CFG.codeLen }, () => 1 + rng.int(CFG.dictSize));
    const before = tf.memory().numTensors;
    const all = await decodeRows(task, tokens, CFG.codeLen, images, exs, n);
    expect(tf.memory().numTensors).toBe(before); // the tiled row images are disposed
    expect(all).toHaveLength(exs.length * n);
    for (let r = 0; r < all.length; r++) {
      const i = Math.floor(r / n);
      const one = tf.slice(images, [i, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
      const row = tokens.slice(r * CFG.codeLen, (r + 1) * CFG.codeLen);
      const [single] = await task.decodeBatch(row, [exs[i]], one);
      expect(all[r]).toEqual(single);
      one.dispose();
    }
    // Different codes decode to different maps (the comparison is not vacuous).
    expect(new Set(all.map((p) => p.join(''))).size).toBeGreaterThan(1);
    images.dispose();
  });

  it("a per-sequence task's rows go through its decode, in row order", async () => {
    const { images, examples: exs } = toyBatch(Rng.fromSeed(2), 2, 3, 4);
    const tokens = Int32Array.from({ length: 2 * 3 * 4 }, (_, i) => i % 4);
    const got = await decodeRows(toyTask, tokens, 4, images, exs, 3);
    expect(got).toEqual(Array.from({ length: 6 }, (_, r) => tokens.slice(r * 4, r * 4 + 4)));
    images.dispose();
  });

  it('rollouts reward the batch-decoded outputs (greedy rewards too)', async () => {
    const model = blockModel(CFG.dictSize + 1, CFG.codeLen, 1);
    for (const [name, v] of model.params)
      if (name.startsWith('decoder/head')) v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', 6));
    const exs = examples(2, 3);
    const images = imagesOf(exs);
    const s = await sampleAndReward(model, task, images, exs, 3, { greedy: true }, Rng.fromSeed(8));
    expect(s.tokens.every((t) => t >= 1 && t <= CFG.dictSize)).toBe(true); // token 0 never drawn
    for (let r = 0; r < 6; r++) {
      const i = Math.floor(r / 3);
      const one = tf.slice(images, [i, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
      const [pred] = await task.decodeBatch(s.tokens.slice(r * 4, r * 4 + 4), [exs[i]], one);
      expect(s.rewards[r]).toBe(task.reward([pred], exs[i]).rewards[0]);
      one.dispose();
    }
    expect(s.greedyRewards).toHaveLength(2);
    images.dispose();
    model.dispose();
  });
});

describe('estimators of a batch-decoding task', () => {
  it('rtg and expected are refused in one line, by the config section and by the loop', () => {
    const section = z.object({ tune: tuneSectionSchema({ steps: 1, evalEvery: 0, reward: WHOLE_OUTPUT_REWARD }) });
    const refused = validate(section, { tune: { estimator: 'rtg' } }, 'config');
    expect(refused).toEqual(
      E.left(
        "config: tune.estimator: estimator 'rtg' needs a reward that splits over tokens; this task decodes its samples a batch at a time and rewards each decoded output as a whole",
      ),
    );
    for (const estimator of ESTIMATORS) {
      const problem = (() => {
        try {
          checkUpdateConfig({ steps: 1, numSamples: 2, estimator }, task);
          return undefined;
        } catch (e) {
          return (e as Error).message;
        }
      })();
      // The per-token estimators (rtg, expected) are refused; the others run.
      if (ESTIMATOR_SPECS[estimator].needs.tokenRewards) {
        expect(problem).toMatch(new RegExp(`^estimator '${estimator}' needs a reward that splits over tokens`));
        expect(problem!.split('\n')).toHaveLength(1);
      } else expect(problem).toBeUndefined();
      // A per-sequence task is not concerned.
      expect(() => checkUpdateConfig({ steps: 1, numSamples: 2, estimator }, toyTask)).not.toThrow();
    }
  });

  it('a batch-decoding task that says its reward splits over tokens (rewardGives) may use rtg, not expected', () => {
    const splitting = Object.assign(Object.create(task) as typeof task, {
      rewardGives: { tokenRewards: true, tokenValues: false, why: 'no values of undrawn tokens' },
    });
    expect(() => checkUpdateConfig({ steps: 1, numSamples: 2, estimator: 'rtg' }, splitting)).not.toThrow();
    expect(() => checkUpdateConfig({ steps: 1, numSamples: 2, estimator: 'expected' }, splitting)).toThrow(
      /^estimator 'expected' needs the values of the tokens not drawn; no values of undrawn tokens$/,
    );
  });

  it('tuning with the greedy baseline runs on batch-decoded rewards', async () => {
    const model = blockModel(CFG.dictSize + 1, CFG.codeLen, 2);
    const optimizer = new AdamW(model.params, { lr: 1e-3 });
    const r = await tune({
      policy: model,
      optimizer,
      task,
      train: (_step, rng) => {
        const exs = Array.from({ length: 2 }, () => blockExample(1, rng.int(8)));
        return { images: imagesOf(exs), examples: exs };
      },
      rng: Rng.fromSeed(3),
      config: { steps: 2, numSamples: 2, estimator: 'greedy' },
    });
    expect(r.stopped).toBe('done');
    expect(r.losses.every(Number.isFinite)).toBe(true);
    await expect(
      tune({
        policy: model,
        optimizer,
        task,
        train: () => {
          throw new Error('not reached');
        },
        rng: Rng.fromSeed(3),
        config: { steps: 1, numSamples: 2, estimator: 'expected' },
      }),
    ).rejects.toThrow(
      /^estimator 'expected' needs a reward that splits over tokens and the values of the tokens not drawn; this task decodes/,
    );
    optimizer.dispose();
    model.dispose();
  });
});
