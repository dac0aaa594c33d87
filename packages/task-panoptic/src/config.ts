/**
 * The panoptic task's configuration: one zod schema (defaults here and only here) and the named presets.
 *
 *   mu     the smallest, for unit tests (seconds): 16 px scenes, core-model's `mu` oracle, a `mu/8` stage II
 *   quick  a smoke run of the whole recipe: 32 px, the `quick` oracle, a `pico/8` stage II
 *   tiny   the CPU demo: 64 px scenes, patch 8; oracle D 96 (2 encoder, 3 decoder layers), a 4×4 = 16-token code of
 *          256 codewords of 32; stage II `nano/8` with a 3-layer decoder over the vocabulary 257
 *   b16    big_vision's UViM sizes for a GPU and real COCO panoptic (`--data <dir>`): 512 px, code 256 of 4096
 *
 * Stage I reconstructs two one-hot maps (the UViM panoptic labels): `semantics` (void + the K categories) and
 * `instances` (`panoptic.instances` canonical ids); thing pixels weigh `panoptic.thingWeight` in both
 * cross-entropies, since at this resolution things are a small share of the pixels and an unweighted loss learns
 * mostly stuff. The image size of the data, the oracle and the stage II model must agree.
 */
import { z } from 'zod';
import { MODEL_PRESETS, modelSectionSchema, ORACLE_PRESETS } from '@reward-tune/core-model';
import {
  evalSectionSchema,
  mleSectionSchema,
  oracleSectionSchema,
  TUNE_OPTIMIZER,
  tuneSectionSchema,
  WHOLE_OUTPUT_REWARD,
} from '@reward-tune/reinforce';
import { SCENE_DEFAULTS } from './scenes';

const synthetic = z
  .object({
    seed: z.number().int().nonnegative().default(0),
    trainImages: z.number().int().positive().default(4000),
    valImages: z.number().int().positive().default(500),
    testImages: z.number().int().positive().default(500),
    size: z.number().int().min(8).default(64),
    minThings: z.number().int().min(0).default(SCENE_DEFAULTS.minThings),
    maxThings: z.number().int().min(0).default(SCENE_DEFAULTS.maxThings),
    twinProb: z.number().min(0).max(1).default(SCENE_DEFAULTS.twinProb),
    crowdProb: z.number().min(0).max(1).default(SCENE_DEFAULTS.crowdProb),
  })
  .strict();

export const panopticConfigSchema = z
  .object({
    seed: z.number().int().nonnegative().default(0),
    data: z
      .object({
        /** A directory in COCO panoptic form (synthetic layout or COCO 2017's); absent: the synthetic scenes. */
        dir: z.string().optional(),
        synthetic: synthetic.prefault({}),
      })
      .strict()
      .prefault({}),
    panoptic: z
      .object({
        /** I, the instance head's channels: canonical ids 0..I−1 (0 = void); segments beyond it get no id target. */
        instances: z.number().int().min(2).default(16),
        /** Loss weight of thing pixels in both stage I cross-entropies (stuff and void pixels weigh 1). */
        thingWeight: z.number().positive().default(5),
      })
      .strict()
      .prefault({}),
    /** The stage II model (image encoder + code decoder); its vocabulary is the oracle's dictionary + 1. */
    model: modelSectionSchema,
    oracle: oracleSectionSchema({ preset: 'tiny', steps: 3000 }),
    mle: mleSectionSchema({ steps: 6000 }),
    tune: tuneSectionSchema({ steps: 300, evalEvery: 50, reward: WHOLE_OUTPUT_REWARD }),
    eval: evalSectionSchema,
  })
  .strict()
  .superRefine((c, ctx) => {
    const oracleSize = c.oracle.model.imageSize ?? ORACLE_PRESETS[c.oracle.preset].imageSize;
    if (c.model.imageSize !== oracleSize)
      ctx.addIssue({
        code: 'custom',
        path: ['model', 'imageSize'],
        message: `${c.model.imageSize} differs from the oracle's image size ${oracleSize} (oracle.model.imageSize)`,
      });
    if (c.data.dir === undefined && c.data.synthetic.size !== oracleSize)
      ctx.addIssue({
        code: 'custom',
        path: ['data', 'synthetic', 'size'],
        message: `${c.data.synthetic.size} differs from the oracle's image size ${oracleSize}`,
      });
    if (c.data.synthetic.minThings > c.data.synthetic.maxThings)
      ctx.addIssue({ code: 'custom', path: ['data', 'synthetic', 'minThings'], message: 'more than maxThings' });
  });

export type PanopticConfig = z.output<typeof panopticConfigSchema>;

const oracleOptimizer = (steps: number, warmupSteps: number) => ({
  name: 'adafactor',
  lr: 1e-3,
  wd: 4e-5,
  gradClipNorm: 1,
  schedule: { kind: 'cosine', warmupSteps, totalSteps: steps },
  adafactor: { beta2Cap: 0.95 },
});

const mleOptimizer = (steps: number, warmupSteps: number) => ({
  name: 'adafactor',
  lr: 1e-3,
  wd: 1e-4,
  schedule: { kind: 'cosine', warmupSteps, totalSteps: steps },
  adafactor: { beta2Cap: 0.95 },
});

/** Stage I step count of `tiny` (the shipped oracle's). */
export const TINY_ORACLE_STEPS = 3000;
/** Stage II step count of `tiny`. */
export const TINY_MLE_STEPS = 6000;

export const panopticPresets: Readonly<Record<string, unknown>> = {
  mu: {
    data: { synthetic: { trainImages: 16, valImages: 8, testImages: 8, size: 16 } },
    panoptic: { instances: 8 },
    model: { ...MODEL_PRESETS.mu, imageSize: 16 },
    oracle: {
      preset: 'mu',
      steps: 4,
      batchSize: 4,
      evalEvery: 2,
      checkpointEvery: 2,
      heldOutImages: 4,
      optimizer: oracleOptimizer(4, 1),
    },
    mle: { steps: 4, batchSize: 4, evalEvery: 2, checkpointEvery: 2, heldOutImages: 4, optimizer: mleOptimizer(4, 1) },
    tune: {
      steps: 2,
      batchSize: 2,
      numSamples: 2,
      evalEvery: 2,
      checkpointEvery: 1,
      heldOutImages: 4,
      distributionSamples: 2,
    },
    eval: { batchSize: 8, pictures: 2 },
  },
  quick: {
    data: { synthetic: { trainImages: 1000, valImages: 128, testImages: 128, size: 32 } },
    model: { ...MODEL_PRESETS.quick, imageSize: 32 },
    oracle: {
      preset: 'quick',
      steps: 300,
      batchSize: 32,
      evalEvery: 100,
      checkpointEvery: 100,
      heldOutImages: 64,
      optimizer: oracleOptimizer(300, 50),
    },
    mle: {
      steps: 300,
      batchSize: 32,
      evalEvery: 100,
      checkpointEvery: 100,
      heldOutImages: 64,
      optimizer: mleOptimizer(300, 50),
    },
    tune: { steps: 20, batchSize: 8, numSamples: 4, evalEvery: 10, checkpointEvery: 10, heldOutImages: 64 },
    eval: { batchSize: 64, pictures: 4 },
  },
  tiny: {
    model: { variant: 'nano/8', imageSize: 64, decoderDepth: 3 },
    oracle: {
      preset: 'tiny',
      steps: TINY_ORACLE_STEPS,
      batchSize: 32,
      evalEvery: 250,
      checkpointEvery: 250,
      heldOutImages: 64,
      optimizer: oracleOptimizer(TINY_ORACLE_STEPS, 200),
    },
    mle: {
      steps: TINY_MLE_STEPS,
      batchSize: 32,
      evalEvery: 500,
      checkpointEvery: 250,
      heldOutImages: 128,
      optimizer: mleOptimizer(TINY_MLE_STEPS, 200),
    },
    tune: {
      steps: 300,
      batchSize: 16,
      numSamples: 4,
      evalEvery: 50,
      checkpointEvery: 50,
      heldOutImages: 128,
      optimizer: { ...TUNE_OPTIMIZER, lr: 1e-4 },
    },
    eval: { batchSize: 64, pictures: 8 },
  },
  b16: {
    panoptic: { instances: 100 },
    model: { ...MODEL_PRESETS.b16, imageSize: 512 },
    oracle: {
      preset: 'b16',
      steps: 100000,
      batchSize: 64,
      evalEvery: 5000,
      checkpointEvery: 1000,
      heldOutImages: 500,
      optimizer: oracleOptimizer(100000, 4000),
    },
    mle: {
      steps: 100000,
      batchSize: 64,
      evalEvery: 5000,
      checkpointEvery: 1000,
      heldOutImages: 500,
      optimizer: mleOptimizer(100000, 4000),
    },
    tune: { steps: 10000, batchSize: 64, numSamples: 4, evalEvery: 1000, checkpointEvery: 500, heldOutImages: 500 },
    eval: { batchSize: 16 },
  },
};

export const panopticConfigSpec = {
  schema: panopticConfigSchema,
  presets: panopticPresets,
  defaultPreset: 'tiny',
} as const;
