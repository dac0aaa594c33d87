import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as E from 'fp-ts/Either';
import { encodePng, ORACLE_PRESETS, UsageError } from '@reward-tune/core-model';
import { parseTaskArgs } from '@reward-tune/reinforce';
import { panopticAdapter, runner, shippedLm, shippedOracle } from './commands';
import { panopticConfigSchema } from './config';
import { ensureSyntheticPanoptic, segmentIdsToRgb } from './dataset';
import { sceneAt } from './scenes';

const tmp = (): string => mkdtempSync(path.join(tmpdir(), 'panoptic-cmd-'));
const configOf = (...args: string[]) => runner.newRunConfig(parseTaskArgs(args));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('the config and its presets', () => {
  it('tiny: 64 px, the tiny oracle (16-token code of 256), thing pixels ×5, 16 instance ids, nano/8 + 3 decoder layers', () => {
    const c = configOf('--preset', 'tiny');
    expect(c.data.synthetic.size).toBe(64);
    expect(c.oracle.preset).toBe('tiny');
    expect(ORACLE_PRESETS[c.oracle.preset]).toMatchObject({
      imageSize: 64,
      patch: 8,
      width: 96,
      codeLen: 16,
      dictSize: 256,
    });
    expect(c.oracle.model).toEqual({});
    expect(c.panoptic).toEqual({ instances: 16, thingWeight: 5 });
    expect(c.model).toMatchObject({ variant: 'nano/8', imageSize: 64, decoderDepth: 3 });
    expect(c.tune.numSamples).toBe(8);
    expect(c.oracle.optimizer.schedule).toMatchObject({ totalSteps: c.oracle.steps });
    expect(c.mle.optimizer.schedule).toMatchObject({ totalSteps: c.mle.steps });
  });

  it("tiny tunes with the project's recipe, tiny-paper with the paper's, on the same model and data", () => {
    const tiny = configOf('--preset', 'tiny');
    const inline = configOf('--preset', 'tiny-32');
    expect(tiny.reward.kind).toBe('pq-gain');
    expect(inline.tune).toMatchObject({ estimator: 'rloo', temperature: 0.5, klCoef: 0.2, steps: 600, batchSize: 32 });
    expect(inline.tune.numSamples).toBe(4);
    expect(inline.tune.sampler.kind).toBe('inline');
    const process = { kind: 'process', staleness: 1, clip: 2, importance: 'sequence', processes: 1 };
    expect(tiny.tune).toEqual({ ...inline.tune, numSamples: 8, microBatch: 16, klCoef: 0.1, sampler: process });
    const wide = configOf('--preset', 'tiny-64');
    expect(wide.tune).toEqual({ ...inline.tune, batchSize: 64, microBatch: 32, sampler: process });
    for (const p of ['tiny-32', 'tiny-64']) {
      expect(panopticAdapter.shippedCheckpoint(p)).toBe(panopticAdapter.shippedCheckpoint('tiny'));
      expect(panopticAdapter.modelKey(configOf('--preset', p))).toBe(panopticAdapter.modelKey(tiny));
    }
    expect(tiny.tune.optimizer).toMatchObject({
      lr: 2e-4,
      schedule: { kind: 'cosine', warmupSteps: 20, totalSteps: 600 },
    });
    expect(tiny.tune.optimizer.lrMults).toEqual([['img/.*', 0]]);
    const paper = configOf('--preset', 'tiny-paper');
    expect(paper.reward.kind).toBe('pq');
    expect(paper.tune).toMatchObject({ estimator: 'paper', temperature: 1, klCoef: 0, steps: 300, batchSize: 16 });
    expect(paper.tune.optimizer.lrMults ?? []).toEqual([]);
    expect(panopticAdapter.modelKey(paper)).toBe(panopticAdapter.modelKey(tiny));
    expect(panopticAdapter.shippedCheckpoint('tiny-paper')).toBe(panopticAdapter.shippedCheckpoint('tiny'));
    expect(panopticAdapter.oracle!.shipped!('tiny-paper')).toBe(panopticAdapter.oracle!.shipped!('tiny'));
  });

  it('every preset resolves (b16 with a data directory: real COCO)', () => {
    for (const p of ['mu', 'quick', 'tiny', 'tiny-32', 'tiny-paper', 'tiny-64'])
      expect(configOf('--preset', p).seed).toBe(0);
    expect(configOf('--preset', 'b16', '--data', '/coco').panoptic.instances).toBe(100);
  });

  it('refuses a stage II model whose image size is not the oracle’s, one line naming the field', () => {
    const r = panopticConfigSchema.safeParse({ model: { imageSize: 32 } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].path).toEqual(['model', 'imageSize']);
    expect(() => configOf('--preset', 'tiny', '--set', 'model.imageSize=32')).toThrow(UsageError);
  });

  it('a run from the shipped stage II checkpoint takes the shipped oracle unless --set names one', () => {
    const from = (...args: string[]) => runner.runConfigFrom(shippedLm('tiny'), parseTaskArgs(args)).oracle.checkpoint;
    expect(existsSync(shippedOracle('tiny'))).toBe(true);
    expect(from()).toBe(shippedOracle('tiny'));
    expect(from('--preset', 'tiny-paper')).toBe(shippedOracle('tiny'));
    expect(from('--set', 'oracle.checkpoint="elsewhere"')).toBe('elsewhere');
  });

  it('takes rtg with the pq-gain reward (split over code tokens), refuses it with per-image PQ, and refuses expected', () => {
    expect(configOf('--preset', 'tiny', '--set', 'tune.estimator=rtg').tune.estimator).toBe('rtg');
    const message = (args: string[]) => {
      try {
        configOf(...args);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      return undefined;
    };
    expect(message(['--preset', 'tiny-paper', '--set', 'tune.estimator=rtg'])).toMatch(
      /tune\.estimator: estimator 'rtg' needs reward\.kind 'pq-gain'/,
    );
    expect(message(['--preset', 'tiny-paper', '--set', 'tune.estimator=expected'])).toMatch(
      /tune\.estimator: estimator 'expected' needs the values of the tokens not drawn/,
    );
  });
});

describe('the adapter on the mu preset', () => {
  const out = tmp();
  const cfg = configOf('--preset', 'mu');
  const setup = panopticAdapter.setUp(cfg, out);

  it('reads the three splits of the synthetic scenes through the COCO reader', () => {
    expect(setup.images('train', 0).examples).toHaveLength(16);
    expect(setup.images('val', 0).examples).toHaveLength(8);
    expect(setup.images('test', 3).examples).toHaveLength(3);
    expect(setup.images('test', 0).size).toBe(16);
  });

  it('gives stage I one-hot semantics (void + 6) and instances (8), the image as context, things weighted ×5', () => {
    const table = setup.oracleData!('train', 0);
    expect(table.size).toBe(16);
    const b = table.batch([0, 1]);
    expect(b.labels.semantics.shape).toEqual([2, 16, 16, 7]);
    expect(b.labels.instances.shape).toEqual([2, 16, 16, 8]);
    expect(b.ctx!.shape).toEqual([2, 16, 16, 3]);
    const sem = tf.argMax(b.labels.semantics, -1).dataSync();
    const w = b.weights!.semantics.dataSync();
    const thing = (s: number) => s >= 1 && s <= 3; // categories 1–3 (square, disc, triangle) are things
    let things = 0;
    for (let p = 0; p < w.length; p++) {
      expect(w[p]).toBe(thing(sem[p]) ? 5 : 1);
      if (thing(sem[p])) things++;
    }
    expect(things).toBeGreaterThan(0);
    expect(Array.from(b.weights!.instances.dataSync())).toEqual(Array.from(w));
    [...Object.values(b.labels), b.ctx!, ...Object.values(b.weights!)].forEach((t) => t.dispose());
  });

  it('builds the stage II model over the code: vocabulary dictSize + 1, length the code length', () => {
    const m = setup.buildModel(0);
    expect(m.vocabSize).toBe(ORACLE_PRESETS.mu.dictSize + 1);
    m.dispose();
  });

  it('names the oracle’s outputs with the data’s classes', () => {
    expect(panopticAdapter.oracle!.outputs(cfg)).toEqual([
      { name: 'semantics', channels: 7, loss: 'xent' },
      { name: 'instances', channels: 8, loss: 'xent' },
    ]);
  });
});

describe('bad input: one line, exit 2, no run directory', () => {
  /** A small dataset in the synthetic layout, to damage. */
  const dataset = (): string => {
    const d = path.join(tmp(), 'data');
    const r = ensureSyntheticPanoptic(d, { seed: 3, train: 4, val: 2, test: 2, size: 16 });
    if (E.isLeft(r)) throw new Error(r.left);
    return d;
  };
  const refuses = async (args: string[], out: string): Promise<string> => {
    const err = await runner.pretrainOracleCommand([...args, '--out', out]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UsageError);
    const msg = (err as Error).message;
    expect(msg).not.toContain('\n');
    expect(existsSync(path.join(out, 'task-panoptic'))).toBe(false);
    return msg;
  };

  it('a PNG id that no segment has', async () => {
    const d = dataset();
    const ids = Uint32Array.from(sceneAt(3, 'val', 0, { size: 16 }).ids);
    ids[5] = 4242;
    writeFileSync(
      path.join(d, 'panoptic_val', '000001.png'),
      encodePng({ width: 16, height: 16, data: segmentIdsToRgb(ids) }),
    );
    expect(await refuses(['--preset', 'mu', '--data', d], tmp())).toContain('segment id 4242');
  });

  it('a segment with no pixels', async () => {
    const d = dataset();
    const file = path.join(d, 'panoptic_train.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    json.annotations[0].segments_info.push({ id: 777, category_id: 2, area: 1, bbox: [0, 0, 1, 1], iscrowd: 0 });
    writeFileSync(file, JSON.stringify(json));
    expect(await refuses(['--preset', 'mu', '--data', d], tmp())).toContain('segment 777 has no pixels');
  });

  it('an unknown category', async () => {
    const d = dataset();
    const file = path.join(d, 'panoptic_test.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    json.annotations[0].segments_info[0].category_id = 99;
    writeFileSync(file, JSON.stringify(json));
    expect(await refuses(['--preset', 'mu', '--data', d], tmp())).toContain('no category with id 99');
  });

  it('an oracle checkpoint that does not fit the stage II model', async () => {
    const out = tmp();
    await runner.pretrainOracleCommand(['--preset', 'mu', '--out', out, '--name', 'o', '--set', 'oracle.steps=1']);
    const oracle = path.join(out, 'task-panoptic', 'o');
    const err = await runner
      .pretrainCommand([
        '--preset',
        'mu',
        '--out',
        out,
        '--name',
        'lm',
        '--set',
        `oracle.checkpoint=${oracle}`,
        '--set',
        'panoptic.instances=4',
      ])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/^oracle\.checkpoint .*: its oracle has outputs /);
    expect(existsSync(path.join(out, 'task-panoptic', 'lm'))).toBe(false);
  }, 20000);
});
