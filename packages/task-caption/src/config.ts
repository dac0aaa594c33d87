/**
 * The captioning task's configuration: one zod schema (defaults here and only here) and the named presets, in
 * task-detection's shape.
 *
 *   mu     the smallest, for unit tests (seconds)
 *   quick  a smoke run of the whole recipe, a few minutes on 2 CPU cores
 *   tiny   the CPU demo: 64×64 synthetic captioned scenes, the nano model
 *   b16    ViT-B/16 for a GPU and real COCO captions (Karpathy split: data.karpathy + data.imageDir)
 *
 * The step counts and learning rates of `quick` and `tiny` are starting points carried over from detection's toy
 * runs, not yet measured for captions. Longest synthetic caption over 2000 scenes (seed 0): 22 words with ≤ 4 objects,
 * 20 with ≤ 3, 17 with ≤ 2; so L = 24 (tiny) and 21 (quick) cut none, and mu's 16 cuts about 0.2% of its
 * references (a cut target still ends in END).
 */
import { z } from 'zod';
import { MODEL_PRESETS, modelSectionSchema } from '@reward-tune/core-model';
import {
  dataSectionObject,
  evalSectionSchema,
  mleSectionSchema,
  SEQUENCE_LOOPS,
  syntheticSplits,
  taskConfigObject,
  taskConfigSpec,
  tuneSectionSchema,
  type RewardGives,
} from '@reward-tune/reinforce';
import { DEFAULT_MAX_OBJECTS, NUMBER_WORDS } from './synthetic';

/** CIDEr-D scores a whole caption: no split over tokens, so no `rtg` or `expected` estimator (estimators.ts). */
export const CIDER_REWARD: RewardGives = {
  tokenRewards: false,
  tokenValues: false,
  why: 'CIDEr-D does not split over tokens',
};

/** The synthetic captioned scenes (test: scene stream 2), used when neither `data.dir` nor `data.karpathy` is given. */
const synthetic = {
  ...syntheticSplits({ trainImages: 4000, valImages: 500, testImages: 500 }),
  size: z.number().int().min(8).default(64),
  maxObjects: z
    .number()
    .int()
    .min(1)
    .max(NUMBER_WORDS.length - 1)
    .default(DEFAULT_MAX_OBJECTS),
};

export const captionConfigSchema = taskConfigObject({
  // data.dir: a directory in any accepted layout (layouts.ts), e.g. the one `writeCaptionDataset` writes.
  data: dataSectionObject(synthetic, {
    /** Karpathy's dataset_coco.json (train = train + restval, val = val, test = test); needs `imageDir`. */
    karpathy: z.string().optional(),
    /** The COCO root the Karpathy file's filepaths are relative to. */
    imageDir: z.string().optional(),
  })
    .superRefine((d, ctx) => {
      if (d.dir !== undefined && d.karpathy !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['karpathy'],
          message: 'give either data.dir or data.karpathy, not both',
        });
      if (d.karpathy !== undefined && d.imageDir === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['imageDir'],
          message: 'data.karpathy needs data.imageDir (the COCO root)',
        });
    })
    .prefault({}),
  model: modelSectionSchema,
  caption: z
    .object({
      /** L, tokens per caption: words, END, then PAD; longer references are cut to L − 1 words for MLE. */
      length: z.number().int().min(2).default(24),
      /** Words seen fewer times in the training references map to the unknown id. */
      minCount: z.number().int().positive().default(1),
    })
    .strict()
    .prefault({}),
  mle: mleSectionSchema({ steps: 3000 }),
  tune: tuneSectionSchema({ steps: 300, evalEvery: 50, reward: CIDER_REWARD }),
  eval: evalSectionSchema,
});

export type CaptionConfig = z.output<typeof captionConfigSchema>;

export const captionPresets: Readonly<Record<string, unknown>> = {
  mu: {
    data: { synthetic: { trainImages: 16, valImages: 8, testImages: 8, size: 32, maxObjects: 2 } },
    model: MODEL_PRESETS.mu,
    caption: { length: 16 },
    ...SEQUENCE_LOOPS.mu,
  },
  quick: {
    data: { synthetic: { trainImages: 512, valImages: 128, testImages: 128, size: 48, maxObjects: 3 } },
    model: MODEL_PRESETS.quick,
    caption: { length: 21 },
    ...SEQUENCE_LOOPS.quick,
  },
  tiny: {},
  b16: {
    model: MODEL_PRESETS.b16,
    // Karpathy-split practice: words seen at least 5 times; 19 words + END keep nearly every COCO caption whole.
    caption: { length: 20, minCount: 5 },
    ...SEQUENCE_LOOPS.b16,
  },
};

export const captionConfigSpec = taskConfigSpec(captionConfigSchema, captionPresets);
