/**
 * What every task's config builds on besides the loop sections (config-sections.ts): the root schema (the run's seed
 * and the task's sections, no other key), the `data` section (a directory, else synthetic data of the given split
 * sizes), the optimizers the presets spell whole, and the loop sizes that several tasks' presets of one scale share.
 * A task keeps its own sections, data options and cross-field rules. The schemas keep their keys in the order given,
 * which the "unknown key" errors list.
 */
import { z } from 'zod';
import { TUNE_OPTIMIZER } from './config-sections';

/** The root schema of a task config: `seed` (the run's, apart from the data's), then `sections`, no other key. */
export function taskConfigObject<S extends z.ZodRawShape>(sections: S) {
  return z.object({ seed: z.number().int().nonnegative().default(0), ...sections }).strict();
}

/** A task's config spec (core-model's resolveConfig): its schema and presets, `tiny` when no preset is named. */
export function taskConfigSpec<S extends z.ZodType>(schema: S, presets: Readonly<Record<string, unknown>>) {
  return { schema, presets, defaultPreset: 'tiny' } as const;
}

/** The synthetic data's seed and split sizes, the first keys of every task's `data.synthetic`. */
export function syntheticSplits(defaults: {
  readonly trainImages: number;
  readonly valImages: number;
  readonly testImages: number;
}) {
  return {
    /** The data's seed, apart from the run's, so that every run of a preset sees the same data. */
    seed: z.number().int().nonnegative().default(0),
    trainImages: z.number().int().positive().default(defaults.trainImages),
    valImages: z.number().int().positive().default(defaults.valImages),
    /** The held-out test split (a seed stream of its own: train and val are as they were without it). */
    testImages: z.number().int().positive().default(defaults.testImages),
  };
}

/**
 * The `data` section as an object schema, for a task that adds rules of its own (`.superRefine`): `dir` (the task's
 * data on disk; absent: synthetic data), the task's other keys (`extra`), and `synthetic`, the options of its
 * synthetic data (`synthetic`'s fields, no other key).
 */
export function dataSectionObject<Y extends z.ZodRawShape, X extends z.ZodRawShape = Record<never, never>>(
  synthetic: Y,
  extra?: X,
) {
  return z
    .object({
      dir: z.string().optional(),
      ...(extra as X),
      // Every synthetic option has a default, which the generic shape cannot show the compiler: hence `never`.
      synthetic: z
        .object(synthetic)
        .strict()
        .prefault({} as never),
    })
    .strict();
}

/** The `data` section (dataSectionObject), all defaults when absent. */
export function dataSectionSchema<Y extends z.ZodRawShape, X extends z.ZodRawShape = Record<never, never>>(
  synthetic: Y,
  extra?: X,
) {
  return dataSectionObject(synthetic, extra).prefault({} as never);
}

/**
 * Adafactor (β2 cap 0.95) at `lr` and weight decay `wd` on a cosine schedule over a stage's `steps` updates after
 * `warmup` warm-up steps, its gradient norm clipped at `clip` when given.
 */
export const adafactorCosine = (lr: number, wd: number, steps: number, warmup: number, clip?: number) => ({
  name: 'adafactor',
  lr,
  wd,
  ...(clip === undefined ? {} : { gradClipNorm: clip }),
  schedule: { kind: 'cosine', warmupSteps: warmup, totalSteps: steps },
  adafactor: { beta2Cap: 0.95 },
});

/** The `mle` section's default optimizer (lr 1e-3, wd 1e-4) for `steps` updates, the first `warmup` warm-up. */
export const mleOptimizer = (steps: number, warmup: number) => adafactorCosine(1e-3, 1e-4, steps, warmup);

/** The `oracle` section's default optimizer (wd 4e-5, gradient clip 1) for `steps` updates, at `lr` (default 1e-3). */
export const oracleOptimizer = (steps: number, warmup: number, lr = 1e-3) =>
  adafactorCosine(lr, 4e-5, steps, warmup, 1);

/** The `tune` section's default optimizer (TUNE_OPTIMIZER) at another learning rate and warm-up length. */
export const tuneOptimizer = (lr: number, warmupSteps: number = TUNE_OPTIMIZER.schedule.warmupSteps) => ({
  ...TUNE_OPTIMIZER,
  lr,
  schedule: { ...TUNE_OPTIMIZER.schedule, warmupSteps },
});

// The presets' loop sizes that tasks share at one scale. A preset spreads one into its section and adds the rest (its
// optimizer); presets replace a section's objects, so a preset spells whatever it sets whole.

/** `mu`'s MLE stage (unit tests): 4 updates of 4 images, evaluated on 4 held-out images and saved every 2. */
export const MU_STAGE = { steps: 4, batchSize: 4, evalEvery: 2, checkpointEvery: 2, heldOutImages: 4 } as const;

/** `quick`'s tuning (smoke runs): 20 updates of 8 images × 4 samples, evaluated on 64 and saved every 10. */
export const QUICK_TUNE = {
  steps: 20,
  batchSize: 8,
  numSamples: 4,
  evalEvery: 10,
  checkpointEvery: 10,
  heldOutImages: 64,
} as const;

/** `mu`'s tuning of a UViM task: 2 updates of 2 images × 2 samples, evaluated on 4 every 2, saved every update. */
export const MU_UVIM_TUNE = {
  steps: 2,
  batchSize: 2,
  numSamples: 2,
  evalEvery: 2,
  checkpointEvery: 1,
  heldOutImages: 4,
  distributionSamples: 2,
} as const;

/**
 * `b16`'s MLE stage, and its UViM oracle's (a GPU at the paper's scale): 100k updates of 64 images, evaluated every
 * 5000 on 500 held-out images, saved every 1000.
 */
export const B16_STAGE = {
  steps: 100000,
  batchSize: 64,
  evalEvery: 5000,
  checkpointEvery: 1000,
  heldOutImages: 500,
} as const;

/** `b16`'s tuning: 10k updates of 64 images × 4 samples, evaluated every 1000 on 500 held-out, saved every 500. */
export const B16_TUNE = {
  steps: 10000,
  batchSize: 64,
  numSamples: 4,
  evalEvery: 1000,
  checkpointEvery: 500,
  heldOutImages: 500,
} as const;

/**
 * The `mle`, `tune` and `eval` sections of detection's and captioning's `mu`, `quick` and `b16` presets, the same in
 * both: captioning carried detection's over (not yet measured for captions). `b16` trains the image encoder at a
 * tenth of the learning rate.
 */
export const SEQUENCE_LOOPS = {
  mu: {
    mle: { ...MU_STAGE, optimizer: { name: 'adafactor', lr: 1e-3 } },
    tune: { steps: 3, batchSize: 2, numSamples: 2, evalEvery: 3, checkpointEvery: 2, heldOutImages: 4 },
    eval: { batchSize: 8, pictures: 2 },
  },
  quick: {
    mle: {
      steps: 150,
      batchSize: 16,
      evalEvery: 75,
      checkpointEvery: 50,
      heldOutImages: 64,
      optimizer: { name: 'adafactor', lr: 1e-3, schedule: { kind: 'cosine', warmupSteps: 20, totalSteps: 150 } },
    },
    tune: QUICK_TUNE,
    eval: { batchSize: 64, pictures: 4 },
  },
  b16: {
    mle: {
      ...B16_STAGE,
      optimizer: {
        name: 'adafactor',
        lr: 1e-3,
        wd: 1e-4,
        lrMults: [['^img/.*', 0.1]],
        schedule: { kind: 'cosine', warmupSteps: 4000, totalSteps: B16_STAGE.steps },
      },
    },
    tune: B16_TUNE,
    eval: { batchSize: 32 },
  },
} as const;
