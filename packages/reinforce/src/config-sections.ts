/**
 * The `mle`, `tune` and `eval` sections every task config shares (zod, defaults here and only here). The loops take
 * these sections as they are (MleConfig and TuneConfig are their output types), so every loop option is a config
 * key; a task gives only its step counts and what its reward can give (RewardGives), and keeps its own options
 * (e.g. detection's reward weights) in sections of its own.
 *
 * Defaults follow the toy detection runs (docs/experiments/toy-detection-calibration.md): MLE at lr 1e-3
 * (Adafactor, β2 cap 0.95, cosine after 200 warmup steps); tuning at a ~50× lower constant learning rate, N = 4
 * samples per image, the paper's estimator.
 */
import { z } from 'zod';
import {
  ORACLE_PRESET_NAMES,
  ORACLE_PRESETS,
  oracleConfigSchema,
  oracleOverridesSchema,
  optimizerConfigSchema,
  type OraclePreset,
} from '@reward-tune/core-model';
import { ESTIMATORS, normalizeProblem, rewardProblem, samplesProblem, type RewardGives } from './estimators';

/** Stop when the watched held-out value has not improved by `minDelta` for `patience` evaluations in a row. */
const earlyStopSchema = z.discriminatedUnion('on', [
  z
    .object({
      on: z.literal('loss'),
      patience: z.number().int().positive(),
      minDelta: z.number().nonnegative().optional(),
    })
    .strict(),
  z
    .object({
      on: z.literal('metric'),
      /** A key of the task's `evaluate`, e.g. `AP`. */
      key: z.string().min(1),
      mode: z.enum(['max', 'min']),
      patience: z.number().int().positive(),
      minDelta: z.number().nonnegative().optional(),
    })
    .strict(),
]);

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
      /** Held-out loss and greedy metric every this many updates (and after the last); 0 = none. */
      evalEvery: z.number().int().nonnegative().default(500),
      checkpointEvery: z.number().int().nonnegative().default(250),
      /** Validation images used for the held-out curve during training (the final eval uses `eval.images`). */
      heldOutImages: z.number().int().positive().default(200),
      /** Stop on a plateau of the held-out loss or a metric (absent: run all `steps`); needs `evalEvery`. */
      earlyStop: earlyStopSchema.optional(),
      /** Seed of the held-out targets' encoding (random box orders), the same at every evaluation. */
      evalSeed: z.number().int().nonnegative().default(0),
    })
    .strict()
    .refine((m) => m.earlyStop === undefined || m.evalEvery > 0, {
      path: ['earlyStop'],
      message: 'earlyStop needs evalEvery > 0',
    })
    .prefault({});
}

/** The truncated importance weight of stale samples: one per row (its whole sequence) or one per token. */
export const IMPORTANCE_PER = ['sequence', 'token'] as const;

/**
 * The tune section's default optimizer. A preset that changes one of its fields spells the whole object (presets
 * replace a section's objects, they do not merge into the defaults): `{ ...TUNE_OPTIMIZER, lr: 1e-4 }`.
 */
export const TUNE_OPTIMIZER = {
  name: 'adafactor',
  lr: 2e-5,
  wd: 0,
  schedule: { kind: 'constant', warmupSteps: 20 },
  adafactor: { beta2Cap: 0.95 },
} as const;

function tuneSectionFields(defaults: { readonly steps: number; readonly evalEvery: number }) {
  return {
    steps: z.number().int().nonnegative().default(defaults.steps),
    batchSize: z.number().int().positive().default(16),
    numSamples: z.number().int().min(1).default(4),
    /** Inputs sampled and differentiated at a time (absent: the whole batch), for batches beyond memory. */
    microBatch: z.number().int().positive().optional(),
    /** The REINFORCE estimator (estimators.ts has the table). */
    estimator: z.enum(ESTIMATORS).default('paper'),
    /** Centre and scale each step's advantages to unit std (off in the paper; not with `expected`). */
    normalizeAdvantages: z.boolean().default(false),
    /** `token` (the paper: mean over all R×L positions) or `sequence` (sum over L, mean over R rows). */
    reduction: z.enum(['token', 'sequence']).default('token'),
    /**
     * `rtg` and `expected`: discount per decision step (detection: box slot) of later rewards (1 = unbiased; lower
     * trades bias for less noise).
     */
    discount: z.number().min(0).max(1).default(1),
    /** Sampling temperature of the training samples; the gradient re-scores them at the same T. */
    temperature: z.number().positive().default(1),
    /**
     * Where each update's randomness comes from: `stream` (absent; the published runs) draws batches and samples in
     * turn from the run's one RNG; `per-job` gives the batch draw and each `microBatch` part's sampling an RNG of its
     * own derived from (seed, step, part) (rollout.ts `jobRng`), so that distributed tuning (@reward-tune/distributed)
     * gives the same updates however many actors sample the parts, and this loop gives them too.
     */
    seedDerivation: z.enum(['stream', 'per-job']).optional(),
    /**
     * Where the samples are drawn (sampler-process.ts): `inline`, in this process between updates; `process`, in a
     * second process (the task CLI's `sampler` command) with per-job seeds, update k sampling with the weights of
     * update k − `staleness` (S = 1 samples the next batch while this process makes the update, on a second core;
     * S = 0 gives the inline loop's per-job updates bit for bit) and, for S ≥ 1, the truncated importance weight
     * min(`clip`, π/μ), of each row's whole sequence or, with `importance` 'token', of each token (reinforce-loss.ts
     * ImportanceInput). `processes`: how many such processes share each update's parts (`microBatch` images each;
     * part p goes to process p mod n, so more processes than parts leave some idle); the samples do not depend on it.
     */
    sampler: z
      .object({
        kind: z.enum(['inline', 'process']).default('inline'),
        staleness: z.number().int().nonnegative().default(1),
        clip: z.number().positive().default(2),
        importance: z.enum(IMPORTANCE_PER).default('sequence'),
        processes: z.number().int().positive().default(1),
      })
      .prefault({}),
    optimizer: optimizerConfigSchema.default(TUNE_OPTIMIZER),
    /** Weight of the KL penalty to the frozen MLE model (0 = off, as in the paper). */
    klCoef: z.number().nonnegative().default(0),
    /** Weight of the task's auxiliary loss, where it has one (detection's confidence loss; paper: 0.3). */
    auxLossWeight: z.number().nonnegative().default(0.3),
    /** What the auxiliary loss trains: `head` (the output layer only, a read-out) or `model` (all, the paper). */
    auxLossScope: z.enum(['head', 'model']).default('head'),
    /**
     * Steps of the auxiliary loss alone, in `auxLossScope`, before the first update, with `auxWarmupOptimizer`: fits
     * a read-out (detection's expected IoU) that the tuning rate barely moves in a few hundred updates. 0 = off.
     */
    auxWarmup: z.number().int().nonnegative().default(0),
    auxWarmupOptimizer: optimizerConfigSchema.prefault({ name: 'adamw', lr: 3e-3, wd: 0 }),
    evalEvery: z.number().int().nonnegative().default(defaults.evalEvery),
    checkpointEvery: z.number().int().nonnegative().default(50),
    heldOutImages: z.number().int().positive().default(200),
    /** T=1 samples per held-out image for the reward distributions before and after tuning (0 = none). */
    distributionSamples: z.number().int().nonnegative().default(4),
    /** Seed of those samples, apart from the training stream so that they do not change training. */
    distributionSeed: z.number().int().nonnegative().default(0),
  };
}

/**
 * The `tune` section of a task whose reward gives `reward` (default: every estimator's needs): the estimator's
 * sample count, normalisation and needs are checked against the estimator table.
 */
export function tuneSectionSchema(defaults: {
  readonly steps: number;
  readonly evalEvery: number;
  readonly reward?: RewardGives;
}) {
  return z
    .object(tuneSectionFields(defaults))
    .strict()
    .superRefine((t, ctx) => {
      const add = (path: string, message: string | undefined) =>
        message !== undefined && ctx.addIssue({ code: 'custom', path: [path], message });
      add('numSamples', samplesProblem(t.estimator, t.numSamples));
      add('normalizeAdvantages', normalizeProblem(t.estimator, t.normalizeAdvantages));
      add('estimator', rewardProblem(t.estimator, defaults.reward ?? {}));
    })
    .prefault({});
}

export type MleSection = z.output<ReturnType<typeof mleSectionSchema>>;
export type TuneSection = z.output<ReturnType<typeof tuneSectionSchema>>;

/** What the MLE loop reads: the `mle` section as it is, or (programmatic use) any part of it with `steps`. */
export type MleConfig = Pick<MleSection, 'steps'> & Partial<MleSection>;
/** What the tuning loop reads: the `tune` section as it is, or any part of it with `steps` and `numSamples`. */
export type TuneConfig = Pick<TuneSection, 'steps' | 'numSamples'> & Partial<TuneSection>;

/** The `eval` section as an object schema, for tasks that add keys of their own (`.extend`). */
export const evalSectionObject = z
  .object({
    /**
     * The split the evaluation suite reports (`eval`, `pool`, and pretrain's and tune's closing numbers): `test`, held
     * out from every choice, or `val`, where the choices are made (the held-out curves during training stay on val).
     */
    split: z.enum(['val', 'test']).default('test'),
    /** Images of that split evaluated, the first ones (0 = all). */
    images: z.number().int().nonnegative().default(0),
    batchSize: z.number().int().positive().default(64),
    /** Evaluated images drawn with their predictions in the reports. */
    pictures: z.number().int().nonnegative().default(8),
  })
  .strict();

export const evalSectionSchema = evalSectionObject.prefault({});
export type EvalSection = z.output<typeof evalSectionSchema>;

/**
 * The `oracle` section of a UViM task (stage I): the oracle's size preset (`mu`, `quick`, `tiny`, `b16`, core-model's
 * ORACLE_PRESETS) and any of its fields to change (`model`, e.g. `{ momentum: 0.99 }`; the output keys are the
 * task's), how the `pretrain-oracle` command trains it, and `checkpoint`, the frozen stage I checkpoint (a file, or a
 * run directory whose latest checkpoint is taken) that stage II, tuning and evaluation decode with. Defaults after
 * big_vision's UViM VQ-VAE configs, at the CPU plan's step count: Adafactor (β2 cap 0.95), lr 1e-3, wd 4e-5, gradient
 * clip 1, cosine after 200 warm-up steps. A preset and overrides that make no valid oracle are refused here, one line
 * naming the field (`oracle.model.codeLen: …`).
 */
export function oracleSectionSchema(defaults: { readonly preset: OraclePreset; readonly steps: number }) {
  return z
    .object({
      preset: z.enum(ORACLE_PRESET_NAMES).default(defaults.preset),
      model: oracleOverridesSchema.prefault({}),
      steps: z.number().int().nonnegative().default(defaults.steps),
      batchSize: z.number().int().positive().default(32),
      optimizer: optimizerConfigSchema.default({
        name: 'adafactor',
        lr: 1e-3,
        wd: 4e-5,
        gradClipNorm: 1,
        schedule: { kind: 'cosine', warmupSteps: 200, totalSteps: defaults.steps },
        adafactor: { beta2Cap: 0.95 },
      }),
      /** Held-out reconstruction loss and codebook use every this many updates (and after the last); 0 = none. */
      evalEvery: z.number().int().nonnegative().default(250),
      checkpointEvery: z.number().int().nonnegative().default(250),
      /** Validation examples of the held-out evaluation. */
      heldOutImages: z.number().int().positive().default(64),
      /** The frozen stage I checkpoint of stage II (absent until one is trained). */
      checkpoint: z.string().min(1).optional(),
    })
    .strict()
    .superRefine((o, ctx) => {
      // The task's output keys are not known here: one placeholder stands in (none of the checks involves them).
      const outputs = [{ name: 'x', channels: 1, loss: 'mse' }];
      const r = oracleConfigSchema.safeParse({ ...ORACLE_PRESETS[o.preset], ...o.model, outputs });
      if (!r.success)
        for (const issue of r.error.issues)
          ctx.addIssue({ code: 'custom', path: ['model', ...issue.path], message: issue.message });
    })
    .prefault({});
}

export type OracleSection = z.output<ReturnType<typeof oracleSectionSchema>>;
