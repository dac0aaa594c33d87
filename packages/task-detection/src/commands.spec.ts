// The commands' fast checks: the tiny presets, and bad inputs refused with one line before anything is written. The
// commands run end to end (demo, resume, eval, noise) in commands.e2e.ts.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { orUsageError, resolveConfig, UsageError } from '@reward-tune/core-model';
import { pretrainCommand, shippedCheckpoint } from './commands';
import { detectionConfigSpec } from './config';
import { writeShapesDataset } from './dataset';
import { demoCommand } from './demo';

describe('the tiny presets', () => {
  const preset = (name: string) => orUsageError(resolveConfig(detectionConfigSpec, { preset: name, sets: [] }));

  it('tiny tunes with exact token values, tiny-paper as the paper does; they share the model, the data and the MLE checkpoint', () => {
    const tiny = preset('tiny');
    const paper = preset('tiny-paper');
    const estimator = preset('tiny-paper-estimator');
    expect(tiny.tune).toMatchObject({
      estimator: 'expected',
      discount: 0,
      batchSize: 32,
      numSamples: 2,
      steps: 700,
      optimizer: { lr: 1e-4 },
    });
    expect(paper.tune).toMatchObject({
      estimator: 'paper',
      discount: 1,
      batchSize: 16,
      numSamples: 4,
      steps: 200,
      optimizer: { lr: 2e-5 },
    });
    expect([tiny.reward.nmsWeight, paper.reward.nmsWeight]).toEqual([1, 0.3]);
    // The paper's confidence loss (form and scope, weight 0.3) and box score; tiny-paper-estimator keeps the project's.
    expect([paper.reward.confLoss, paper.tune.auxLossScope, paper.tune.auxLossWeight, paper.eval.score]).toEqual([
      'paper',
      'model',
      0.3,
      'confidence',
    ]);
    expect([estimator.reward.confLoss, estimator.tune.auxLossScope, estimator.eval.score]).toEqual([
      'boxes',
      'head',
      'likelihood',
    ]);
    expect({ ...estimator, reward: { ...estimator.reward, confLoss: 'paper' } }).toEqual({
      ...paper,
      tune: { ...paper.tune, auxLossScope: 'head' },
      eval: { ...paper.eval, score: 'likelihood' },
    });
    expect({ ...tiny, tune: undefined, reward: undefined, eval: undefined }).toEqual({
      ...paper,
      tune: undefined,
      reward: undefined,
      eval: undefined,
    });
    expect(shippedCheckpoint('tiny-paper')).toBe(shippedCheckpoint('tiny'));
    expect(shippedCheckpoint('tiny-paper-estimator')).toBe(shippedCheckpoint('tiny'));
    expect(existsSync(shippedCheckpoint('tiny'))).toBe(true);
    expect(shippedCheckpoint('quick')).not.toBe(shippedCheckpoint('tiny'));
  });
});

describe('task-detection commands (mu preset)', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'det-cmd-'));

  describe('bad inputs are one clear UsageError (exit code 2)', () => {
    const make = (): string => {
      const dir = mkdtempSync(path.join(tmpdir(), 'det-bad-'));
      writeShapesDataset(dir, { seed: 1, trainImages: 3, valImages: 2, size: 32, maxObjects: 3 });
      return dir;
    };
    const pretrain = (dir: string) =>
      pretrainCommand(['--preset', 'mu', '--data', dir, '--out', out, '--backend', 'cpu']);
    const edit = (file: string, f: (j: any) => void) => {
      const j = JSON.parse(readFileSync(file, 'utf8'));
      f(j);
      writeFileSync(file, JSON.stringify(j));
    };

    it.each(['REWARD_TUNE_WASM_THREADS', 'REWARD_TUNE_NATIVE_MATMUL'])(
      'a bad %s, before any data or run directory is made',
      async (name) => {
        const fresh = mkdtempSync(path.join(tmpdir(), 'det-env-'));
        process.env[name] = 'lots';
        try {
          await expect(pretrainCommand(['--preset', 'mu', '--out', fresh, '--backend', 'cpu'])).rejects.toThrow(
            new RegExp(`^${name} must be`),
          );
        } finally {
          delete process.env[name];
        }
        expect(readdirSync(fresh)).toEqual([]); // no synthetic data cache, no run directory
      },
    );

    it('a demo whose config the shipped checkpoint does not fit, before any run directory is made', async () => {
      const fresh = mkdtempSync(path.join(tmpdir(), 'det-demo-'));
      const small = ['trainImages=4', 'valImages=2', 'testImages=2'].flatMap((kv) => ['--set', `data.synthetic.${kv}`]);
      await expect(demoCommand(['--out', fresh, '--backend', 'cpu', '--name', 'x', ...small])).rejects.toThrow(
        /was trained with another model\/data config than this run's; use --from-scratch$/,
      );
      expect(readdirSync(fresh)).toEqual(['data']); // the small synthetic set, read before the check; no run
    });

    it('a missing image, before any run directory is made', async () => {
      const dir = make();
      rmSync(path.join(dir, 'train', '000002.png'));
      const runs = path.join(out, 'task-detection');
      const before = existsSync(runs) ? readdirSync(runs).sort() : [];
      await expect(pretrain(dir)).rejects.toThrow(
        new UsageError(
          `${path.join(dir, 'instances_train.json')}: images[1].file_name: file not found: ${path.join(dir, 'train', '000002.png')}`,
        ),
      );
      expect(existsSync(runs) ? readdirSync(runs).sort() : []).toEqual(before);
    });

    it('a bad bbox and an unknown category', async () => {
      const dir = make();
      const file = path.join(dir, 'instances_train.json');
      edit(file, (j) => (j.annotations[0].bbox = [1, 1, -3, 4]));
      await expect(pretrain(dir)).rejects.toThrow(
        /instances_train\.json: annotations\[0\]\.bbox: expected \[x, y, w, h\] with w > 0 and h > 0/,
      );
      edit(file, (j) => {
        j.annotations[0].bbox = [1, 1, 3, 4];
        j.annotations[0].category_id = 99;
      });
      await expect(pretrain(dir)).rejects.toThrow(/instances_train\.json: annotations\[0\]\.category_id: .*99/);
    });

    it('an empty dataset', async () => {
      const dir = make();
      edit(path.join(dir, 'instances_train.json'), (j) => {
        j.images = [];
        j.annotations = [];
      });
      await expect(pretrain(dir)).rejects.toThrow(/instances_train\.json: .*(no images|empty)/);
    });

    it('tune without --from', async () => {
      const { tuneCommand } = await import('./commands');
      await expect(tuneCommand(['--preset', 'mu', '--out', out])).rejects.toThrow(/needs --from/);
    });
  });
});
