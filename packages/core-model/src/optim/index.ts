/**
 * Builds an optimizer from a config object (the `optimizer` section of a run config), with its zod schema so that
 * config files are validated with defaults filled in. Names follow big_vision's config keys where one exists
 * (lr, wd, lr_mults → lrMults, wd_mults → wdMults, grad_clip_norm → gradClipNorm, optax.beta2_cap → beta2Cap).
 */
import { z } from 'zod';
import type { Params } from '../model/policy';
import { Adafactor, type AdafactorOptions } from './adafactor';
import { AdamW, type AdamOptions } from './adamw';
import type { ChainConfig } from './chain';
import type { Optimizer } from './optimizer';

const patternMults = z.array(z.tuple([z.string(), z.number().nonnegative()]));

const scheduleSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('constant'), warmupSteps: z.number().int().nonnegative().optional() }).strict(),
  z
    .object({
      kind: z.literal('cosine'),
      warmupSteps: z.number().int().nonnegative().optional(),
      totalSteps: z.number().int().positive(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('rsqrt'),
      warmupSteps: z.number().int().nonnegative().optional(),
      timescale: z.number().positive(),
    })
    .strict(),
]);

const common = {
  lr: z.number().nonnegative(),
  wd: z.number().nonnegative().default(0),
  lrMults: patternMults.optional(),
  wdMults: patternMults.optional(),
  gradClipNorm: z.number().positive().optional(),
  schedule: scheduleSchema.default({ kind: 'constant' }),
  fuseElementwise: z.boolean().optional(),
};

export const optimizerConfigSchema = z.discriminatedUnion('name', [
  z
    .object({
      name: z.literal('adafactor'),
      ...common,
      adafactor: z
        .object({
          minDimSizeToFactor: z.number().int().positive().optional(),
          decayRate: z.number().positive().optional(),
          decayOffset: z.number().int().optional(),
          beta2Cap: z.number().gt(0).lt(1).optional(),
          clippingThreshold: z.number().positive().optional(),
          momentum: z.number().min(0).lt(1).optional(),
          eps: z.number().positive().optional(),
        })
        .strict()
        .default({}),
    })
    .strict(),
  z
    .object({
      name: z.literal('adamw'),
      ...common,
      adam: z
        .object({
          b1: z.number().min(0).lt(1).optional(),
          b2: z.number().min(0).lt(1).optional(),
          eps: z.number().nonnegative().optional(),
        })
        .strict()
        .default({}),
    })
    .strict(),
]);

export type OptimizerConfig =
  | (ChainConfig & { readonly name: 'adafactor'; readonly adafactor?: AdafactorOptions })
  | (ChainConfig & { readonly name: 'adamw'; readonly adam?: AdamOptions });

// Compile-time check that what the schema parses is what the factory takes.
const schemaFits: z.output<typeof optimizerConfigSchema> extends OptimizerConfig ? true : never = true;
void schemaFits;

/** The optimizer a config names, with zero state for every non-frozen parameter of `params`. */
export function createOptimizer(config: OptimizerConfig, params: Params): Optimizer {
  switch (config.name) {
    case 'adafactor':
      return new Adafactor(params, config);
    case 'adamw':
      return new AdamW(params, config);
  }
}

export { Adafactor, factoredDims, type AdafactorOptions } from './adafactor';
export { AdamW, type AdamOptions } from './adamw';
export type { ChainConfig } from './chain';
export { createGroupMemory, GradientGroup, type GroupMemory } from './data-parallel';
export { globalNorm, globalNormClipFactor, clipByBlockRms } from './clip';
export { planParams, multiplierFor, DEFAULT_WD_MULTS, type PatternMults, type ParamPlan } from './lr-mults';
export type { Optimizer } from './optimizer';
