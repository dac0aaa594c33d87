/**
 * The detection task's configuration: one zod schema (defaults here and only here) and the named presets.
 *
 *   mu     the smallest, for unit tests (seconds)
 *   quick  a smoke run of the whole recipe, under a minute on 2 CPU cores
 *   tiny   the CPU demo: 64×64 synthetic shapes, a 0.8M-parameter model (the toy run's scale), tuned with exact
 *          token values (docs/experiments/detection-tiny-demo.md)
 *   tiny-paper  the same model and data tuned with the paper's recipe, whole as far as it is known (below)
 *   tiny-paper-estimator  the paper's estimator and reward with this project's confidence loss and box score (the
 *          schema's tune defaults): the recipe of every measurement before 2026-11-28, which called it `tiny-paper`
 *   b16    ViT-B/16 for a GPU and real COCO (--data <coco dir>)
 *
 * Step counts follow the toy runs (docs/experiments/toy-detection-calibration.md): MLE learns nothing visible before
 * ~750 steps and reaches its plateau around 3500–4000 at batch 32; tuning needs a few hundred steps at a learning
 * rate ~50× lower.
 *
 * The `mle`, `tune` and `eval` sections are reinforce's (the loops read them as they are); `reward` is detection's
 * own: the reward's weights and the form of the confidence loss.
 */
import { z } from 'zod';
import { MODEL_PRESETS, modelSectionSchema, SCENE_DEFAULTS } from '@reward-tune/core-model';
import {
  dataSectionSchema,
  evalSectionObject,
  mleSectionSchema,
  SEQUENCE_LOOPS,
  syntheticSplits,
  taskConfigObject,
  taskConfigSpec,
  tuneOptimizer,
  tuneSectionSchema,
} from '@reward-tune/reinforce';

/**
 * How a box is scored for mAP (eval.ts): the box's likelihood, its expected IoU read at the confidence token, or the
 * expected IoU of a score head fitted to the model's boxes (score-head.ts; needs `eval.scoreHead`).
 */
export const SCORE_RULES = ['likelihood', 'confidence', 'fitted'] as const;
export type ScoreRule = (typeof SCORE_RULES)[number];

const synthetic = {
  ...syntheticSplits({ trainImages: 4000, valImages: 1000, testImages: 1000 }),
  size: z.number().int().min(8).default(64),
  maxObjects: z.number().int().min(1).max(8).default(8),
  /** Scene difficulty (core-model's SceneOptions): clutter strokes, the largest box overlap, the object sides. */
  clutter: z.boolean().default(SCENE_DEFAULTS.clutter),
  maxOverlap: z.number().min(0).max(1).default(SCENE_DEFAULTS.maxOverlap),
  sideMin: z.number().positive().max(1).default(SCENE_DEFAULTS.sideMin),
  sideRange: z.number().nonnegative().max(1).default(SCENE_DEFAULTS.sideRange),
};

export const detectionConfigSchema = taskConfigObject({
  // data.dir: a COCO-layout directory (see dataset.ts); absent = the built-in synthetic shapes.
  data: dataSectionSchema(synthetic),
  model: modelSectionSchema,
  tokens: z
    .object({
      /** Coordinate levels (1001 in the paper; one per pixel suits small images). */
      bins: z.number().int().min(2).default(65),
      maxBoxes: z.number().int().positive().default(8),
      order: z.enum(['random', 'area', 'given']).default('random'),
      /** Tuning and evaluation decode with well-formed slots: null iff the first token is 0 (sequence.ts). */
      wellFormed: z.boolean().default(true),
      /**
       * What a null slot is in the MLE targets (sequence.ts): `zeros` (six 0 tokens, so the model decides box or
       * null at a slot's first token) or `noise` (a random box with confidence 0, its first five tokens unweighted,
       * so it decides at the confidence token, after drawing a box, as the paper's layout reads).
       */
      nullBoxes: z.enum(['zeros', 'noise']).default('zeros'),
    })
    .strict()
    .prefault({}),
  reward: z
    .object({
      /** Duplicate penalty of the reward (paper: 0.3). */
      nmsWeight: z.number().nonnegative().default(0.3),
      /**
       * Penalty for each box on no object or of the wrong class (not in the paper, whose reward charges them nothing;
       * rewards-metrics `falsePositiveWeight`). Default 0: the paper's reward.
       */
      falsePositiveWeight: z.number().nonnegative().default(0),
      /** Score rewards with the released code's threshold weighting instead of the plain mean over 10 thresholds. */
      releasedWeighting: z.boolean().default(false),
      /**
       * Form of the confidence ("expected IoU") loss, the task's auxiliary loss (weighted by tune.auxLossWeight):
       * `paper` (every slot, over {0, 1, 2}) or `boxes` (box slots, over {1, 2}); task.ts.
       */
      confLoss: z.enum(['paper', 'boxes']).default('boxes'),
    })
    .strict()
    .prefault({}),
  mle: mleSectionSchema({ steps: 4000 }),
  // The paper's recipe at the tiny scale (preset tiny-paper): 200 updates of it took 3–4 minutes in `npm start`,
  // and no probe of it showed a gain that grew over them (docs/experiments/toy-detection-calibration.md).
  tune: tuneSectionSchema({ steps: 200, evalEvery: 50 }),
  eval: evalSectionObject
    .extend({
      /**
       * The box score of the headline stats and the results JSON (eval.ts): `likelihood` (class × coordinate token
       * probabilities; the same rule for an MLE and a tuned model), `confidence` (the expected IoU, paper §3.1.4;
       * meaningful only once tuning has trained it) or `fitted` (the expected IoU of the head `scoreHead` names).
       * The first two are always reported in eval/metrics.json, `fitted` too with a head.
       */
      score: z.enum(SCORE_RULES).default('likelihood'),
      /**
       * A score head fitted by `fit-score` (its `score-head.json`): the evaluation then also reports AP under the
       * `fitted` rule, which `score` may name. Absent: no fitted score.
       */
      scoreHead: z.string().optional(),
    })
    .prefault({}),
});

export type DetectionConfig = z.output<typeof detectionConfigSchema>;

export const detectionPresets: Readonly<Record<string, unknown>> = {
  mu: {
    data: { synthetic: { trainImages: 16, valImages: 8, testImages: 8, size: 32, maxObjects: 4 } },
    model: MODEL_PRESETS.mu,
    tokens: { bins: 33, maxBoxes: 4 },
    ...SEQUENCE_LOOPS.mu,
  },
  quick: {
    data: { synthetic: { trainImages: 512, valImages: 128, testImages: 128, size: 48, maxObjects: 4 } },
    model: MODEL_PRESETS.quick,
    tokens: { bins: 49, maxBoxes: 4 },
    ...SEQUENCE_LOOPS.quick,
  },
  // 700 updates keep `npm start` inside 20 minutes on 2 CPU cores with a margin (800 took 18–20 min;
  // docs/experiments/detection-tiny-demo.md).
  tiny: {
    tune: {
      estimator: 'expected',
      discount: 0,
      batchSize: 32,
      numSamples: 2,
      steps: 700,
      evalEvery: 100,
      optimizer: tuneOptimizer(1e-4),
    },
    reward: { nmsWeight: 1 },
  },
  // The paper's recipe at this scale, each part we know as the paper has it: the estimator (`paper`: sample 0 against
  // the mean reward of the other N − 1, the schema's default), the reward (recall over IoU 0.50:0.05:0.95 with the
  // duplicate penalty 0.3 and no charge for a box on no object: the reward section's defaults), the confidence loss in
  // the paper's form (every slot, over {0, 1, 2}) and scope (every parameter) at weight 0.3, and boxes ranked for mAP
  // by the learned expected IoU (`eval.score=confidence`). This project's, because the paper gives no value at this
  // scale or the model needs it: the model and data (`nano/8`, 64 px synthetic shapes, 65 coordinate bins, 8 slots of
  // `zeros` null boxes: the shipped MLE checkpoint), the well-formed slots when decoding, confidence 1 tied to token
  // 2's input embedding before tuning (task.ts), and the loop's numbers (200 updates of 16 images × 4 samples,
  // Adafactor at lr 2e-5, temperature 1). What it does here: the package README's Results.
  'tiny-paper': {
    reward: { confLoss: 'paper' },
    tune: { auxLossScope: 'model' },
    eval: { score: 'confidence' },
  },
  // The paper's estimator and reward (as tiny-paper) with this project's confidence loss (the `boxes` form, scope
  // `head`, which kept tuning from collapsing: docs/experiments/detection-confidence.md) and boxes ranked by their
  // likelihood: the schema's defaults, called `tiny-paper` until 2026-12-06.
  'tiny-paper-estimator': {},
  b16: {
    model: MODEL_PRESETS.b16,
    tokens: { bins: 1001, maxBoxes: 100 },
    ...SEQUENCE_LOOPS.b16,
  },
};

/**
 * Keys renamed since runs were saved, old dotted path → new: the loop's names for the confidence loss's options, and
 * the reward's options in their own section. The task runner applies them to every config it reads back from a run
 * directory or a checkpoint (the shipped ones included), so older runs still load and resume.
 */
export const detectionMovedKeys: Readonly<Record<string, string>> = {
  'tune.confWeight': 'tune.auxLossWeight',
  'tune.confScope': 'tune.auxLossScope',
  'tune.confWarmup.steps': 'tune.auxWarmup',
  'tune.confWarmup.optimizer': 'tune.auxWarmupOptimizer',
  'tune.nmsWeight': 'reward.nmsWeight',
  'tune.falsePositiveWeight': 'reward.falsePositiveWeight',
  'tune.releasedWeighting': 'reward.releasedWeighting',
  'tune.confLoss': 'reward.confLoss',
};

export const detectionConfigSpec = taskConfigSpec(detectionConfigSchema, detectionPresets);
