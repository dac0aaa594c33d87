// The flags every task command shares: defaults, a command's own flags, and each bad flag as one UsageError line.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli, UsageError } from '@reward-tune/core-model';
import { parseTaskArgs, taskOptionsHelp } from './flags';

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
      '--preset',
      'tiny',
      '--data',
      'coco/val.json',
      '--out',
      'r',
      '--name',
      'a',
      '--backend',
      'wasm',
      '--seed',
      '4294967295',
      '--set',
      'lr=1e-4',
      '--set=model.depth=2',
      '--json',
      '--from',
      dir,
      '-h',
    ]);
    expect(o).toMatchObject({
      preset: 'tiny',
      data: 'coco/val.json',
      out: 'r',
      name: 'a',
      backend: 'wasm',
      seed: 4294967295,
      sets: ['lr=1e-4', 'model.depth=2'],
      json: true,
      from: dir,
      help: true,
    });
  });

  it('adds task-specific options and positionals when asked', () => {
    const o = parseTaskArgs(['--samples', '4', '--greedy', 'img.png'], {
      extra: {
        samples: { type: 'string', description: 'samples per image' },
        greedy: { type: 'boolean', description: 'argmax' },
      },
      positionals: true,
    });
    expect(o.extra).toEqual({ samples: '4', greedy: true });
    expect(o.positionals).toEqual(['img.png']);
    expect(taskOptionsHelp({ extra: { samples: { type: 'string', description: 'samples per image' } } })).toContain(
      '--samples <value>  samples per image',
    );
  });

  it('turns bad flags into one-line UsageErrors', () => {
    expect(usageError(() => parseTaskArgs(['--nope']))).toBe('unknown option --nope (see --help)');
    expect(usageError(() => parseTaskArgs(['--preset']))).toBe('--preset: expects a value');
    expect(usageError(() => parseTaskArgs(['--json=yes']))).toBe('--json: takes no value');
    expect(usageError(() => parseTaskArgs(['stray']))).toBe("unexpected argument 'stray'");
    expect(usageError(() => parseTaskArgs(['--backend', 'cuda']))).toBe(
      '--backend cuda: expected one of auto, tensorflow, webgpu, wasm, cpu',
    );
    expect(usageError(() => parseTaskArgs(['--seed', '-1']))).toBe(
      "--seed: a value starting with '-' must be written --seed=<value>",
    );
    expect(usageError(() => parseTaskArgs(['--seed=-1']))).toBe('--seed -1: expected an integer in [0, 4294967295]');
    expect(usageError(() => parseTaskArgs(['--seed', '4294967296']))).toBe(
      '--seed 4294967296: expected an integer in [0, 4294967295]',
    );
    expect(usageError(() => parseTaskArgs(['--seed', '1.5']))).toBe(
      '--seed 1.5: expected an integer in [0, 4294967295]',
    );
    expect(usageError(() => parseTaskArgs(['--set', 'lr']))).toBe('--set lr: expected key=value');
    expect(usageError(() => parseTaskArgs(['--from', path.join(dir, 'none')]))).toBe(
      `--from ${path.join(dir, 'none')}: no such file or directory`,
    );
    expect(usageError(() => parseTaskArgs(['--preset', '']))).toBe('--preset: expects a non-empty value');
  });

  it('exits with code 2 through runCli', async () => {
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await runCli(
        { tool: 'task-x', commands: { tune: { summary: 's', run: (a) => void parseTaskArgs(a) } } },
        ['tune', '--bogus'],
      );
      expect(code).toBe(2);
      expect(spy).toHaveBeenCalledWith('task-x tune: unknown option --bogus (see --help)\n');
    } finally {
      spy.mockRestore();
    }
  });
});
