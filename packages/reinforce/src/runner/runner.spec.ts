// The task runner's task-independent steps that need no model: config resolution from a preset or a base config
// plus --seed, --data and --set (in that order), configs saved under older key names, `--from` resolved to a
// checkpoint, the run of a checkpoint, and the usage errors of the commands before any work. The loops and the demo
// flow run in task-detection's and task-caption's commands.spec.ts (mu presets).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { checkpointPath, Rng, saveCheckpoint, UsageError } from '@reward-tune/core-model';
import { evalSectionSchema, mleSectionSchema, tuneSectionSchema } from '../config-sections';
import { parseTaskArgs } from './flags';
import { taskRunner, type TaskAdapter } from './index';
import {
  evalDirOf,
  moveKeys,
  newRunConfig,
  resolveCheckpoint,
  runConfigFrom,
  runOfCheckpoint,
  trainedConfig,
  type ConfigSource,
} from './run-config';
import { Interrupted } from './training';

const schema = z
  .object({
    seed: z.number().int().nonnegative().default(0),
    data: z.object({ dir: z.string().optional() }).strict().prefault({}),
    lr: z.number().default(1),
  })
  .strict();
type Cfg = z.output<typeof schema>;

const source: ConfigSource<Cfg> = {
  spec: { schema, presets: { small: { lr: 2 }, big: { lr: 3, seed: 5 } }, defaultPreset: 'small' },
  shippedCheckpoint: (p) => `/nowhere/${p}.safetensors`,
};
const runner = {
  newRunConfig: (opts: ReturnType<typeof parseTaskArgs>, saved?: { value: unknown; source: string }) =>
    newRunConfig(source, opts, saved),
};

describe('newRunConfig', () => {
  it('a preset, then --seed, --data (absolute) and --set in order', () => {
    const opts = parseTaskArgs(['--preset', 'big', '--seed', '7', '--data', 'rel/dir', '--set', 'lr=0.5']);
    expect(runner.newRunConfig(opts)).toEqual({ seed: 7, data: { dir: path.resolve('rel/dir') }, lr: 0.5 });
    // --set comes after --seed, so it wins.
    expect(runner.newRunConfig(parseTaskArgs(['--seed', '7', '--set', 'seed=9'])).seed).toBe(9);
  });

  it('the default preset when none is named; a base config replaces the preset', () => {
    expect(runner.newRunConfig(parseTaskArgs([]))).toEqual({ seed: 0, data: {}, lr: 2 });
    const base = { value: { seed: 3, data: {}, lr: 4 }, source: 'ckpt.safetensors' };
    expect(runner.newRunConfig(parseTaskArgs(['--preset', 'big', '--set', 'lr=6']), base)).toEqual({
      seed: 3,
      data: {},
      lr: 6,
    });
  });

  it('a bad override or preset is a UsageError naming it', () => {
    expect(() => runner.newRunConfig(parseTaskArgs(['--set', 'lr="x"']))).toThrow(UsageError);
    expect(() => runner.newRunConfig(parseTaskArgs(['--set', 'lr="x"']))).toThrow(/--set lr="x"/);
    expect(() => runner.newRunConfig(parseTaskArgs(['--preset', 'huge']))).toThrow(
      /--preset huge: unknown preset \(one of: small, big\)/,
    );
  });
});

describe('runConfigFrom: the config of tune, noise and eval from a checkpoint', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'runner-cfg-'));
  const shippedDir = path.join(root, 'pkg', 'checkpoints');
  const shippedSource: ConfigSource<Cfg> = {
    ...source,
    shippedCheckpoint: (p) => path.join(shippedDir, `${p}-mle.safetensors`),
  };
  const withShipped = {
    runConfigFrom: (file: string, opts: ReturnType<typeof parseTaskArgs>) => runConfigFrom(shippedSource, file, opts),
  };
  const save = async (file: string) => {
    mkdirSync(path.dirname(file), { recursive: true });
    // What an older version of the code trained with: a config the presets have since moved on from.
    await saveCheckpoint(file, {
      params: new Map([['w', tf.zeros([1])]]),
      step: 1,
      rngState: Rng.fromSeed(0).state(),
      config: { seed: 0, data: {}, lr: 9 },
    });
  };

  it("a checkpoint's own config; a shipped one stands for its preset, as the demo takes it; --preset and --set win", async () => {
    const shipped = path.join(shippedDir, 'big-mle.safetensors');
    const elsewhere = path.join(root, 'runs', 'x', 'checkpoints', 'step_000001.safetensors');
    await save(shipped);
    await save(elsewhere);
    expect(withShipped.runConfigFrom(elsewhere, parseTaskArgs([])).lr).toBe(9);
    expect(withShipped.runConfigFrom(shipped, parseTaskArgs([]))).toEqual({ seed: 5, data: {}, lr: 3 });
    expect(
      withShipped.runConfigFrom(path.join(shippedDir, '..', 'checkpoints', 'big-mle.safetensors'), parseTaskArgs([]))
        .lr,
    ).toBe(3);
    expect(
      withShipped.runConfigFrom(shipped, parseTaskArgs(['--preset', 'small', '--set', 'lr=7', '--seed', '1'])),
    ).toEqual({ seed: 1, data: {}, lr: 7 });
    expect(withShipped.runConfigFrom(elsewhere, parseTaskArgs(['--preset', 'small'])).lr).toBe(2);
  });
});

describe('resolveCheckpoint', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'runner-'));
  const run = path.join(root, 'task-toy', 'r1');
  mkdirSync(path.join(run, 'checkpoints'), { recursive: true });

  it('a run directory gives its latest checkpoint, a .safetensors path itself', () => {
    expect(() => resolveCheckpoint(run)).toThrow(
      new UsageError(`--from ${run}: no checkpoint in ${path.join(run, 'checkpoints')}`),
    );
    for (const step of [2, 10, 9]) writeFileSync(checkpointPath(path.join(run, 'checkpoints'), step), '');
    const latest = checkpointPath(path.join(run, 'checkpoints'), 10);
    expect(resolveCheckpoint(run)).toBe(latest);
    expect(resolveCheckpoint(latest)).toBe(latest);
    expect(runOfCheckpoint(latest)).toBe(run);
  });

  it("eval writes into a checkpoint's run (an earlier checkpoint's or another split's beside it), or under --out when the file lies in no run", () => {
    writeFileSync(path.join(run, 'config.json'), '{}');
    expect(evalDirOf(checkpointPath(path.join(run, 'checkpoints'), 10), root, 'task-toy')).toBe(run);
    expect(evalDirOf(checkpointPath(path.join(run, 'checkpoints'), 9), root, 'task-toy')).toBe(
      path.join(run, 'evals', 'step_000009'),
    );
    // A checkpoint shipped in a package (<pkg>/checkpoints/x.safetensors, no config.json) or in a folder of its own.
    const shipped = path.join(root, 'pkg', 'checkpoints', 'tiny-mle.safetensors');
    expect(evalDirOf(shipped, 'out', 'task-toy')).toBe(path.resolve('out', 'task-toy', 'eval-tiny-mle'));
    expect(evalDirOf(path.join(root, 'loose.safetensors'), root, 'task-toy')).toBe(
      path.join(root, 'task-toy', 'eval-loose'),
    );
    // Another split than test never replaces the run's own (test) evaluation, nor an earlier checkpoint's.
    expect(evalDirOf(checkpointPath(path.join(run, 'checkpoints'), 10), root, 'task-toy', 'val')).toBe(
      path.join(run, 'evals', 'step_000010-val'),
    );
    expect(evalDirOf(checkpointPath(path.join(run, 'checkpoints'), 9), root, 'task-toy', 'val')).toBe(
      path.join(run, 'evals', 'step_000009-val'),
    );
    expect(evalDirOf(checkpointPath(path.join(run, 'checkpoints'), 10), root, 'task-toy', 'test')).toBe(run);
    expect(evalDirOf(shipped, 'out', 'task-toy', 'val')).toBe(path.resolve('out', 'task-toy', 'eval-tiny-mle-val'));
  });

  it('a path that does not exist', () => {
    const missing = path.join(root, 'nope');
    expect(() => resolveCheckpoint(missing)).toThrow(new UsageError(`--from ${missing}: no such file or directory`));
  });
});

describe('configs saved by older code', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'runner-old-'));
  const withTune = z
    .object({
      seed: z.number().int().default(0),
      lr: z.number().default(1),
      tune: z
        .object({ w: z.number().default(1) })
        .strict()
        .prefault({}),
    })
    .strict();
  const renamed: ConfigSource<z.output<typeof withTune>> = {
    spec: { schema: withTune, presets: { p: {} } },
    movedKeys: { 'old.w': 'tune.w' },
    shippedCheckpoint: (p) => p,
  };

  it('moveKeys moves renamed keys (nested ones too), keeps a key already at its new place, and copies', () => {
    const saved = { a: { b: 1, c: { d: 2 } }, e: 3 };
    expect(moveKeys(saved, { 'a.b': 'x.y', 'a.c.d': 'a.f', e: 'a.g' })).toEqual({ a: { f: 2, g: 3 }, x: { y: 1 } });
    expect(moveKeys({ a: 1, b: 2 }, { a: 'b' })).toEqual({ b: 2 });
    expect(saved).toEqual({ a: { b: 1, c: { d: 2 } }, e: 3 });
    expect(newRunConfig(renamed, parseTaskArgs([]), { value: { lr: 4, old: { w: 7 } }, source: 'x' })).toEqual({
      seed: 0,
      lr: 4,
      tune: { w: 7 },
    });
  });

  it("a checkpoint's model and data are read without its loop sections, which older code may have spelled otherwise", async () => {
    const file = path.join(root, 'old.safetensors');
    await saveCheckpoint(file, {
      params: new Map([['w', tf.zeros([1])]]),
      step: 1,
      rngState: Rng.fromSeed(0).state(),
      config: { seed: 2, lr: 9, tune: { gone: 1 } },
    });
    expect(() => runConfigFrom(renamed, file, parseTaskArgs([]))).toThrow(/gone/);
    expect(trainedConfig(renamed, file, parseTaskArgs(['--set', 'lr=1']))).toEqual({ seed: 2, lr: 9, tune: { w: 1 } });
  });
});

describe('commands: usage errors before any work', () => {
  const fail = (): never => {
    throw new Error('not used by these tests');
  };
  const full = schema.extend({
    mle: mleSectionSchema({ steps: 1 }),
    tune: tuneSectionSchema({ steps: 1, evalEvery: 1 }),
    eval: evalSectionSchema,
  });
  const adapter: TaskAdapter<z.output<typeof full>, unknown, unknown, unknown, unknown> = {
    tool: 'task-toy',
    spec: { schema: full, presets: { small: {} } },
    setUp: fail,
    shippedCheckpoint: (p) => `/nowhere/${p}.safetensors`,
    modelKey: fail,
    summaryLine: fail,
    jsonStats: fail,
    demoCompare: fail,
  };
  const runner = taskRunner(adapter);

  it('tune and eval need --from; --resume needs --from', async () => {
    await expect(runner.tuneCommand([])).rejects.toThrow(
      new UsageError('tune needs --from <MLE run directory or checkpoint>'),
    );
    await expect(runner.evalCommand([])).rejects.toThrow(
      new UsageError('eval needs --from <run directory or checkpoint>'),
    );
    await expect(runner.pretrainCommand(['--resume', '--backend', 'cpu'])).rejects.toThrow(
      new UsageError('--resume needs --from <run directory>'),
    );
    await expect(runner.tuneCommand(['--resume', '--backend', 'cpu'])).rejects.toThrow(
      new UsageError('--resume needs --from <run directory>'),
    );
  });

  it('eval and pool read --preset, as tune does (an unknown one is a UsageError naming it)', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'runner-preset-')), 'model.safetensors');
    writeFileSync(file, '');
    for (const command of [runner.evalCommand, runner.poolCommand])
      await expect(command(['--from', file, '--preset', 'huge', '--backend', 'cpu'])).rejects.toThrow(
        /^--preset huge: unknown preset \(one of: small\)/,
      );
  });

  it('Interrupted ends a command with exit code 130', () => {
    expect(new Interrupted('x').exitCode).toBe(130);
  });
});
