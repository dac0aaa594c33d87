import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { z } from 'zod';
import { runCli, UsageError } from './command-line';
import { readMetrics } from './run-dir';
import { classifyFrom, openTaskRun, parseTaskArgs, taskOptionsHelp } from './task-cli';

const usageError = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
  throw new Error('expected a UsageError');
};

describe('parseTaskArgs', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cm-cli-'));

  it('parses the shared options with their defaults', () => {
    expect(parseTaskArgs([])).toEqual({
      preset: undefined,
      data: undefined,
      out: 'runs',
      name: undefined,
      backend: 'auto',
      seed: undefined,
      sets: [],
      json: false,
      from: undefined,
      help: false,
      positionals: [],
      extra: {},
    });
    const o = parseTaskArgs([
      '--preset', 'tiny', '--data', 'coco/val.json', '--out', 'r', '--name', 'a', '--backend', 'wasm', '--seed', '4294967295',
      '--set', 'lr=1e-4', '--set=model.depth=2', '--json', '--from', dir, '-h',
    ]);
    expect(o).toMatchObject({
      preset: 'tiny', data: 'coco/val.json', out: 'r', name: 'a', backend: 'wasm', seed: 4294967295,
      sets: ['lr=1e-4', 'model.depth=2'], json: true, from: dir, help: true,
    });
  });

  it('adds task-specific options and positionals when asked', () => {
    const o = parseTaskArgs(['--samples', '4', '--greedy', 'img.png'], {
      extra: { samples: { type: 'string', description: 'samples per image' }, greedy: { type: 'boolean', description: 'argmax' } },
      positionals: true,
    });
    expect(o.extra).toEqual({ samples: '4', greedy: true });
    expect(o.positionals).toEqual(['img.png']);
    expect(taskOptionsHelp({ extra: { samples: { type: 'string', description: 'samples per image' } } })).toContain('--samples <value>  samples per image');
  });

  it('turns bad flags into one-line UsageErrors', () => {
    expect(usageError(() => parseTaskArgs(['--nope']))).toBe('unknown option --nope (see --help)');
    expect(usageError(() => parseTaskArgs(['--preset']))).toBe('--preset: expects a value');
    expect(usageError(() => parseTaskArgs(['--json=yes']))).toBe('--json: takes no value');
    expect(usageError(() => parseTaskArgs(['stray']))).toBe("unexpected argument 'stray'");
    expect(usageError(() => parseTaskArgs(['--backend', 'cuda']))).toBe('--backend cuda: expected one of auto, tensorflow, webgpu, wasm, cpu');
    expect(usageError(() => parseTaskArgs(['--seed', '-1']))).toBe("--seed: a value starting with '-' must be written --seed=<value>");
    expect(usageError(() => parseTaskArgs(['--seed=-1']))).toBe('--seed -1: expected an integer in [0, 4294967295]');
    expect(usageError(() => parseTaskArgs(['--seed', '4294967296']))).toBe('--seed 4294967296: expected an integer in [0, 4294967295]');
    expect(usageError(() => parseTaskArgs(['--seed', '1.5']))).toBe('--seed 1.5: expected an integer in [0, 4294967295]');
    expect(usageError(() => parseTaskArgs(['--set', 'lr']))).toBe('--set lr: expected key=value');
    expect(usageError(() => parseTaskArgs(['--from', path.join(dir, 'none')]))).toBe(`--from ${path.join(dir, 'none')}: no such file or directory`);
    expect(usageError(() => parseTaskArgs(['--preset', '']))).toBe('--preset: expects a non-empty value');
  });

  it('exits with code 2 through runCli', async () => {
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await runCli({ tool: 'task-x', commands: { tune: { summary: 's', run: (a) => void parseTaskArgs(a) } } }, ['tune', '--bogus']);
      expect(code).toBe(2);
      expect(spy).toHaveBeenCalledWith('task-x tune: unknown option --bogus (see --help)\n');
    } finally {
      spy.mockRestore();
    }
  });

  it('tells a run directory from a checkpoint', () => {
    const run = path.join(dir, 'run');
    mkdirSync(run);
    writeFileSync(path.join(run, 'config.json'), '{}');
    const ckpt = path.join(dir, 'step-10.safetensors');
    writeFileSync(ckpt, '');
    expect(classifyFrom(run)).toEqual({ kind: 'run', dir: run, configPath: path.join(run, 'config.json') });
    expect(classifyFrom(ckpt)).toEqual({ kind: 'checkpoint', path: ckpt });
  });
});

describe('openTaskRun', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'cm-taskrun-'));
  const spec = {
    schema: z.object({ lr: z.number().default(0.1), steps: z.number().int().default(10) }).strict(),
    presets: { mu: { steps: 2 }, tiny: {} },
  };

  it('starts a fresh run from a preset and overrides, then resumes it from --from with the saved config', () => {
    const fresh = openTaskRun('detection', spec, parseTaskArgs(['--preset', 'mu', '--set', 'lr=0.5', '--out', out, '--name', 'a']));
    if (E.isLeft(fresh)) throw new Error(fresh.left);
    expect(fresh.right.config).toEqual({ lr: 0.5, steps: 2 });
    fresh.right.run.logMetrics(2, 'train', { loss: 1 });

    const dir = path.join(out, 'detection', 'a');
    const resumed = openTaskRun('detection', spec, parseTaskArgs(['--from', dir, '--set', 'steps=4']), true);
    if (E.isLeft(resumed)) throw new Error(resumed.left);
    expect(resumed.right.config).toEqual({ lr: 0.5, steps: 4 });
    expect(resumed.right.run.resumed).toBe(true);
    expect(path.resolve(resumed.right.run.dir)).toBe(path.resolve(dir));
    resumed.right.run.logMetrics(3, 'train', { loss: 0.5 });
    const m = readMetrics(resumed.right.run.metricsPath);
    expect(E.isRight(m) && m.right.map((r) => r.step)).toEqual([2, 3]);
  });

  it('explains why it cannot start', () => {
    const dir = path.join(out, 'detection', 'a');
    expect(openTaskRun('caption', spec, parseTaskArgs(['--from', dir]), true)).toEqual(E.left(`--from ${dir}: not a caption run (expected <out>/caption/<name>)`));
    expect(openTaskRun('detection', spec, parseTaskArgs([]), true)).toEqual(E.left('resuming needs --from <run directory>'));
    expect(openTaskRun('detection', spec, parseTaskArgs(['--from', dir, '--preset', 'mu']), true)).toEqual(
      E.left('--preset mu: a resumed run keeps its saved config (change it with --set)'),
    );
    expect(openTaskRun('detection', spec, parseTaskArgs(['--out', out, '--set', 'lr=fast']))).toEqual(
      E.left('no preset given (--preset one of: mu, tiny)'),
    );
    expect(openTaskRun('detection', spec, parseTaskArgs(['--preset', 'tiny', '--out', out, '--set', 'lr=fast']))).toEqual(
      E.left('--set lr=fast: lr: Invalid input: expected number, received string'),
    );
  });
});
