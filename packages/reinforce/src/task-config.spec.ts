// The task config's building blocks: the root adds the seed and refuses other keys, the data section keeps `dir`, the
// task's keys and `synthetic` in that order with every default filled, and the optimizer helpers are the sections'
// default optimizers at other step counts.
import * as E from 'fp-ts/Either';
import { z } from 'zod';
import { optimizerConfigSchema, resolveConfig } from '@reward-tune/core-model';
import { mleSectionSchema, oracleSectionSchema, TUNE_OPTIMIZER, tuneSectionSchema } from './config-sections';
import {
  adafactorCosine,
  dataSectionObject,
  dataSectionSchema,
  mleOptimizer,
  oracleOptimizer,
  syntheticSplits,
  taskConfigObject,
  taskConfigSpec,
  tuneOptimizer,
} from './task-config';

const schema = taskConfigObject({
  data: dataSectionSchema(
    { ...syntheticSplits({ trainImages: 40, valImages: 5, testImages: 6 }), size: z.number().default(8) },
    { maxImages: z.number().int().nonnegative().default(0) },
  ),
  mle: mleSectionSchema({ steps: 10 }),
});

describe('task config building blocks', () => {
  it('fills the seed, the data section and its synthetic options from nothing', () => {
    expect(schema.parse({})).toMatchObject({
      seed: 0,
      data: { maxImages: 0, synthetic: { seed: 0, trainImages: 40, valImages: 5, testImages: 6, size: 8 } },
      mle: { steps: 10 },
    });
    expect(schema.parse({}).data.dir).toBeUndefined();
    expect(Object.keys(schema.shape)).toEqual(['seed', 'data', 'mle']);
    expect(Object.keys(dataSectionObject({ a: z.number().default(1) }, { b: z.string().optional() }).shape)).toEqual([
      'dir',
      'b',
      'synthetic',
    ]);
  });

  it('refuses unknown keys at the root, in data and in data.synthetic, and bad split sizes', () => {
    for (const bad of [
      { extra: 1 },
      { data: { extra: 1 } },
      { data: { synthetic: { extra: 1 } } },
      { data: { synthetic: { trainImages: 0 } } },
      { data: { synthetic: { testImages: 1.5 } } },
      { seed: -1 },
    ])
      expect([bad, schema.safeParse(bad).success]).toEqual([bad, false]);
  });

  it('a spec resolves `tiny` when no preset is named, and names the unknown key with the section keys in order', () => {
    const spec = taskConfigSpec(schema, { tiny: { seed: 3 }, mu: {} });
    const tiny = resolveConfig(spec, {});
    expect(E.isRight(tiny) && tiny.right.seed).toBe(3);
    const unknown = resolveConfig(spec, { sets: ['data.nope=1'] });
    expect(E.isLeft(unknown) && unknown.left).toContain('(data has: dir, maxImages, synthetic)');
  });

  it('the optimizer helpers are the sections’ default optimizers at other step counts', () => {
    const parse = (o: unknown) => optimizerConfigSchema.parse(o);
    expect(parse(mleOptimizer(10, 200))).toEqual(mleSectionSchema({ steps: 10 }).parse(undefined).optimizer);
    expect(parse(oracleOptimizer(30, 200))).toEqual(
      oracleSectionSchema({ preset: 'mu', steps: 30 }).parse(undefined).optimizer,
    );
    expect(parse(tuneOptimizer(TUNE_OPTIMIZER.lr))).toEqual(
      tuneSectionSchema({ steps: 1, evalEvery: 1 }).parse(undefined).optimizer,
    );
    expect(tuneOptimizer(1e-4, 10)).toEqual({
      ...TUNE_OPTIMIZER,
      lr: 1e-4,
      schedule: { kind: 'constant', warmupSteps: 10 },
    });
    expect(oracleOptimizer(5, 1, 4e-4)).toMatchObject({ lr: 4e-4, wd: 4e-5, gradClipNorm: 1 });
    expect(adafactorCosine(1, 0, 9, 3)).not.toHaveProperty('gradClipNorm');
    expect(adafactorCosine(1, 0, 9, 3).schedule).toEqual({ kind: 'cosine', warmupSteps: 3, totalSteps: 9 });
  });
});
