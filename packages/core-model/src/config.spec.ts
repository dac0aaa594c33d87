import * as E from 'fp-ts/Either';
import { z } from 'zod';
import { checkPath, parseOverride, resolveConfig, setPath, type ConfigSpec } from './config';

const schema = z
  .object({
    model: z
      .object({
        depth: z.number().int().positive().default(2),
        width: z.number().int().positive().default(64),
      })
      .strict()
      .prefault({}),
    lr: z.number().positive().default(1e-3),
    name: z.string().default('demo'),
    thresholds: z.array(z.number()).default([0.5]),
    reward: z.union([z.literal('map'), z.literal('recall')]).default('map'),
    extra: z.record(z.string(), z.number()).default({}),
    optimizer: z
      .discriminatedUnion('name', [
        z.object({ name: z.literal('sgd'), lr: z.number() }).strict(),
        z.object({ name: z.literal('adam'), lr: z.number(), beta: z.number() }).strict(),
      ])
      .default({ name: 'adam', lr: 1e-3, beta: 0.9 }),
  })
  .strict();

const spec: ConfigSpec<typeof schema> = {
  schema,
  presets: {
    mu: { model: { depth: 1, width: 8 } },
    tiny: { lr: 3e-4 },
    broken: { model: { depht: 3 } },
  },
  defaultPreset: 'tiny',
};

const ok = <A>(e: E.Either<string, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left);
  return e.right;
};

describe('resolveConfig', () => {
  it('fills schema defaults under a preset', () => {
    expect(ok(resolveConfig(spec, { preset: 'mu' }))).toEqual({
      model: { depth: 1, width: 8 },
      lr: 1e-3,
      name: 'demo',
      optimizer: { name: 'adam', lr: 1e-3, beta: 0.9 },
      thresholds: [0.5],
      reward: 'map',
      extra: {},
    });
    expect(ok(resolveConfig(spec)).lr).toBe(3e-4); // default preset
  });

  it('applies --set overrides on dotted paths, JSON when it parses, else a string', () => {
    const c = ok(
      resolveConfig(spec, {
        preset: 'mu',
        sets: [
          'model.depth=4',
          'lr=1e-4',
          'name=run-a',
          'thresholds=[0.5, 0.75]',
          'thresholds.1=0.9',
          'reward="recall"',
          'extra.beta=2',
        ],
      }),
    );
    expect(c.model).toEqual({ depth: 4, width: 8 });
    expect(c.lr).toBe(1e-4);
    expect(c.name).toBe('run-a');
    expect(c.thresholds).toEqual([0.5, 0.9]);
    expect(c.reward).toBe('recall');
    expect(c.extra).toEqual({ beta: 2 });
    expect(ok(resolveConfig(spec, { preset: 'mu', sets: ['reward=recall'] })).reward).toBe('recall');
  });

  it('changes one field of an object the input lacks, starting from its schema default', () => {
    expect(ok(resolveConfig(spec, { preset: 'mu', sets: ['optimizer.lr=2e-5'] })).optimizer).toEqual({
      name: 'adam',
      lr: 2e-5,
      beta: 0.9,
    });
    // A field the default's variant lacks is still the schema's to refuse, naming the override.
    const bad = resolveConfig(spec, { preset: 'mu', sets: ['optimizer.name=sgd'] });
    expect(E.isLeft(bad) && bad.left).toMatch(/--set optimizer.name=sgd/);
    // Given whole, the object replaces the default.
    expect(ok(resolveConfig(spec, { preset: 'mu', sets: ['optimizer={"name":"sgd","lr":0.1}'] })).optimizer).toEqual({
      name: 'sgd',
      lr: 0.1,
    });
  });

  it('rejects unknown keys naming the key and the known ones', () => {
    expect(resolveConfig(spec, { preset: 'mu', sets: ['model.dpeth=4'] })).toEqual(
      E.left('--set model.dpeth=4: unknown key "model.dpeth" (model has: depth, width)'),
    );
    expect(resolveConfig(spec, { sets: ['rl=1'] })).toEqual(
      E.left('--set rl=1: unknown key "rl" (known keys: model, lr, name, thresholds, reward, extra, optimizer)'),
    );
    expect(resolveConfig(spec, { sets: ['lr.x=1'] })).toEqual(
      E.left('--set lr.x=1: unknown key "lr.x" (lr is a number, not an object)'),
    );
    expect(resolveConfig(spec, { sets: ['thresholds.a=1'] })).toEqual(
      E.left('--set thresholds.a=1: unknown key "thresholds.a" (thresholds is a list: use an index)'),
    );
  });

  it('rejects wrong types naming the override and the field', () => {
    expect(resolveConfig(spec, { sets: ['model.depth=deep'] })).toEqual(
      E.left('--set model.depth=deep: model.depth: Invalid input: expected number, received string'),
    );
    expect(resolveConfig(spec, { sets: ['model.depth=1.5'] })).toEqual(
      E.left('--set model.depth=1.5: model.depth: Invalid input: expected int, received number'),
    );
    expect(resolveConfig(spec, { sets: ['model={"depth": 2, "heads": 4}'] })).toEqual(
      E.left('--set model={"depth": 2, "heads": 4}: model.heads: unknown key'),
    );
  });

  it('names the preset or the base file when they are at fault, and bad preset names', () => {
    expect(resolveConfig(spec, { preset: 'broken' })).toEqual(E.left('preset "broken": model.depht: unknown key'));
    expect(resolveConfig(spec, { preset: 'huge' })).toEqual(
      E.left('--preset huge: unknown preset (one of: mu, tiny, broken)'),
    );
    expect(resolveConfig({ ...spec, defaultPreset: undefined })).toEqual(
      E.left('no preset given (--preset one of: mu, tiny, broken)'),
    );
    expect(resolveConfig(spec, { base: { value: { lr: -1 }, source: 'runs/det/a/config.json' } })).toEqual(
      E.left('runs/det/a/config.json: lr: Too small: expected number to be >0'),
    );
  });

  it('starts from a saved config when resuming, overrides still applying', () => {
    const saved = ok(resolveConfig(spec, { preset: 'mu' }));
    expect(
      ok(resolveConfig(spec, { preset: 'tiny', base: { value: saved, source: 'config.json' }, sets: ['lr=0.5'] })),
    ).toEqual({ ...saved, lr: 0.5 });
  });
});

describe('override helpers', () => {
  it('parses key=value (value may contain "=")', () => {
    expect(parseOverride('a.b=x=y')).toEqual(E.right({ text: 'a.b=x=y', path: ['a', 'b'], value: 'x=y' }));
    expect(parseOverride('a=')).toEqual(E.right({ text: 'a=', path: ['a'], value: '' }));
    expect(parseOverride('novalue')).toEqual(E.left('--set novalue: expected key=value'));
    expect(parseOverride('a..b=1')).toEqual(E.left('--set a..b=1: empty segment in key "a..b"'));
  });

  it('setPath copies rather than mutating', () => {
    const o = { a: { b: 1 }, l: [1, 2] };
    expect(setPath(o, ['a', 'c'], 2)).toEqual({ a: { b: 1, c: 2 }, l: [1, 2] });
    expect(setPath(o, ['l', '0'], 9)).toEqual({ a: { b: 1 }, l: [9, 2] });
    expect(o).toEqual({ a: { b: 1 }, l: [1, 2] });
  });

  it('checkPath lets unions and records through to the schema', () => {
    expect(checkPath(schema, ['extra', 'anything'], 't')).toEqual(E.right(undefined));
    expect(checkPath(schema, ['reward'], 't')).toEqual(E.right(undefined));
  });
});
