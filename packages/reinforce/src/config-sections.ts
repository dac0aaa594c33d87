/**
 * The `mle`, `tune` and `eval` sections every task config shares (zod, defaults here and only here); a task gives
 * its own step counts and adds its own tuning options (e.g. detection's confidence-loss weight).
 *
 * Defaults follow toy-detection-lessons.md: MLE at lr 1e-3 (Adafactor, β2 cap 0.95, cosine after 200 warmup
 * steps); tuning at a ~50× lower constant learning rate, N = 4 samples per image, the paper's estimator.
 */
import { z } from 'zod';
import { optimizerConfigSchema } from '@reward-tune/core-model';

export function mleSectionSchema(defaults: { readonly steps: number }) {
  return z
    .object({
      steps: z.number().int().nonnegative().default(defaults.steps),
      batchSize: z.number().int().positive().default(32),
      optimizer: optimizerConfigSchema.default({
        name: 'adafactor',
        lr: 1e-3,
        wd: 1e-4,
        schedule: { kind: 'cosine', warmupSteps: 200, totalSteps: defaults.steps },
        adafactor: { beta2Cap: 0.95 },
      }),
      labelSmoothing: z.number().min(0).lt(1).default(0),
      evalEvery: z.number().int().nonnegative().default(500),
      checkpointEvery: z.number().int().nonnegative().default(250),
      /** Validation images used for the held-out curve during training (the final eval uses `eval.images`). */
      heldOutImages: z.number().int().positive().default(200),
    })
    .strict()
    .prefault({});
}

/**
 * The tune section's default optimizer. A preset that changes one of its fields spells the whole object (presets
 * replace a section's objects, they do not merge into the defaults): `{ ...TUNE_OPTIMIZER, lr: 1e-4 }`.
 */
export const TUNE_OPTIMIZER = { name: 'adafactor', lr: 2e-5, wd: 0, schedule: { kind: 'constant', warmupSteps: 20 }, adafactor: { beta2Cap: 0.95 } } as const;

/**
 * The fields of the `tune` section; a task spreads them into its own object with its extra options, then applies
 * `.strict().refine(...enoughSamples).prefault({})`.
 */
export function tuneSectionFields(defaults: { readonly steps: number; readonly evalEvery: number }) {
  return {
    steps: z.number().int().nonnegative().default(defaults.steps),
    batchSize: z.number().int().positive().default(16),
    numSamples: z.number().int().min(1).default(4),
    /** Inputs sampled and differentiated at a time (absent: the whole batch), for batches beyond memory; same update. */
    microBatch: z.number().int().positive().optional(),
    /**
     * `paper` (sample 0 against the mean of the other N−1), `rloo`, `greedy` (self-critical), `rtg` (per-token
     * reward to go against the other N−1 samples'; needs a task whose reward splits over tokens) or `expected` (`rtg`
     * with the exact expectation over each token whose alternatives the task can value; tune.ts).
     */
    estimator: z.enum(['paper', 'rloo', 'greedy', 'rtg', 'expected']).default('paper'),
    /** `rtg` and `expected`: discount per decision step (detection: box slot) of later rewards (1 = unbiased; lower trades bias for less noise). */
    discount: z.number().min(0).max(1).default(1),
    /** Sampling temperature of the training samples; the gradient re-scores them at the same T (TuneConfig.temperature). */
    temperature: z.number().positive().default(1),
    optimizer: optimizerConfigSchema.default(TUNE_OPTIMIZER),
    /** Weight of the KL penalty to the frozen MLE model (0 = off, as in the paper). */
    klCoef: z.number().nonnegative().default(0),
    evalEvery: z.number().int().nonnegative().default(defaults.evalEvery),
    checkpointEvery: z.number().int().nonnegative().default(50),
    heldOutImages: z.number().int().positive().default(200),
  };
}

/** The paper's, RLOO's and reward-to-go's baselines (`expected`'s included) need another sample of the same input. */
export const enoughSamples: [(t: { readonly estimator: string; readonly numSamples: number }) => boolean, { path: string[]; message: string }] = [
  (t) => t.estimator === 'greedy' || t.numSamples >= 2,
  { path: ['numSamples'], message: 'the paper, rloo, rtg and expected estimators need numSamples ≥ 2' },
];

/** The `eval` section as an object schema, for tasks that add keys of their own (`.extend`). */
export const evalSectionObject = z
  .object({
    /** Validation images evaluated (0 = all). */
    images: z.number().int().nonnegative().default(0),
    batchSize: z.number().int().positive().default(64),
    /** Validation images drawn with their predictions in the reports. */
    pictures: z.number().int().nonnegative().default(8),
  })
  .strict();

export const evalSectionSchema = evalSectionObject.prefault({});
