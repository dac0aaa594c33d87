/**
 * The colorization task's configuration: one zod schema (defaults here and only here) and the named presets.
 *
 *   mu     the smallest, for unit and end-to-end tests (seconds): 16×16 scenes, core-model's `mu` oracle
 *   quick  a smoke run of the whole recipe, a few minutes on 2 CPU cores: 32×32, the `quick` oracle, `pico/4`
 *   tiny   the CPU demo: 64×64 scenes, patch 8, the `tiny` oracle (D 96, 2 + 3 layers, a 4×4 = 16-token code of
 *          256 codewords of width 32), stage II `nano/8` with a 3-layer decoder (the defaults)
 *   b16    big_vision's UViM sizes for a GPU and a real folder (--data): 512×512, code 256 of 4096, ViT-B/16
 *
 * The model: the grey image (luma repeated ×3) is the context of the oracle and the input of stage II; the oracle's
 * one output key `rgb` (3 channels, MSE) is the colour image in [−1, 1]; the prediction is the decoded image clipped
 * to [−1, 1]. The stage I step count of `tiny` follows what a calibration run needed for the code to matter (true
 * code well above zero code in PSNR and colourfulness); the stage II and tuning counts are starting points. Tuning took
 * 4.4 s per update (16 × 4 samples) on the 2-core machine under a load average of ~10, so `tiny` tunes 200 updates,
 * not 300, to keep the demo near 20 minutes.
 */
import { z } from 'zod';
import { MODEL_PRESETS, ORACLE_PRESETS, modelSectionSchema, type OracleOutputInput } from '@reward-tune/core-model';
import {
  B16_STAGE,
  dataSectionSchema,
  evalSectionObject,
  mleOptimizer,
  mleSectionSchema,
  MU_STAGE,
  MU_UVIM_TUNE,
  oracleOptimizer,
  oracleSectionSchema,
  syntheticSplits,
  taskConfigObject,
  taskConfigSpec,
  tuneOptimizer,
  tuneSectionSchema,
  WHOLE_OUTPUT_REWARD,
  type OracleSection,
} from '@reward-tune/reinforce';
import { COLOUR_REWARDS, GRAY_DIVERSITY_DEFAULTS } from '@reward-tune/rewards-metrics';

/** The oracle's one output key: the colour image, 3 channels, mean squared error. */
export const RGB_OUTPUT: OracleOutputInput = { name: 'rgb', channels: 3, loss: 'mse' };

const synthetic = {
  ...syntheticSplits({ trainImages: 8000, valImages: 500, testImages: 500 }),
  /** Probability that a region is exactly grey (the dull mode). */
  greyProbability: z.number().min(0).max(1).default(0.5),
  /** Radius of a vivid hue in the (Cb, Cr) plane before the gamut shrink. */
  chroma: z.number().min(0).max(0.5).default(0.22),
};

export const colorizeConfigSchema = taskConfigObject({
  // data.dir: a folder of colour images (JPEG/PNG, any size): `<dir>/train`, `<dir>/val` and optionally `<dir>/test`
  // when `<dir>/train` exists, else every image split by a hash of its path (data.ts). Absent: synthetic scenes.
  data: dataSectionSchema(synthetic, {
    /** At most this many images per split of a folder (the first in sorted order; 0 = all). */
    maxImages: z.number().int().nonnegative().default(0),
  }),
  oracle: oracleSectionSchema({ preset: 'tiny', steps: 2500 }),
  /** The stage II model; its image size must be the oracle's. */
  model: modelSectionSchema,
  reward: z
    .object({
      /** `colorfulness`: Hasler–Süsstrunk M3; `gray-diversity`: the project's Lab reward (not-grey × hue entropy). */
      kind: z.enum(COLOUR_REWARDS).default('colorfulness'),
      /** Weight of the luma PSNR (dB) to the grey input added to the reward: a project extension, 0 = off. */
      fidelityWeight: z.number().nonnegative().default(0),
      /** Lab chroma above which a pixel counts as coloured (gray-diversity and the near-grey fraction). */
      chromaThreshold: z.number().positive().default(GRAY_DIVERSITY_DEFAULTS.chromaThreshold),
      /** Hue bins of gray-diversity's entropy term. */
      hueBins: z.number().int().min(2).default(GRAY_DIVERSITY_DEFAULTS.hueBins),
    })
    .strict()
    .prefault({}),
  mle: mleSectionSchema({ steps: 3000 }),
  tune: tuneSectionSchema({ steps: 300, evalEvery: 25, reward: WHOLE_OUTPUT_REWARD }),
  eval: evalSectionObject
    .extend({
      /**
       * T = 1 samples per image in the suite (MLE and tuned samples' colourfulness; 0 = none); the demo's picture
       * grid shows up to three of them.
       */
      samples: z.number().int().nonnegative().default(3),
    })
    .prefault({}),
}).superRefine((c, ctx) => {
  const size = oracleImageSize(c.oracle);
  if (c.model.imageSize !== size)
    ctx.addIssue({
      code: 'custom',
      path: ['model', 'imageSize'],
      message: `${c.model.imageSize} must equal the oracle's image size ${size}`,
    });
});

export type ColorizeConfig = z.output<typeof colorizeConfigSchema>;

/** The oracle's image size (its preset's, or the override): the size of every image of the task. */
export const oracleImageSize = (o: OracleSection): number => o.model.imageSize ?? ORACLE_PRESETS[o.preset].imageSize;
export const dictSizeOf = (o: OracleSection): number => o.model.dictSize ?? ORACLE_PRESETS[o.preset].dictSize;
export const codeLenOf = (o: OracleSection): number => o.model.codeLen ?? ORACLE_PRESETS[o.preset].codeLen;

/** `quick`'s stage I and stage II: 300 updates of 16 images, evaluated on 32 held-out images and saved every 100. */
const QUICK_STAGE = { steps: 300, batchSize: 16, evalEvery: 100, checkpointEvery: 100, heldOutImages: 32 };

export const colorizePresets: Readonly<Record<string, unknown>> = {
  mu: {
    data: { synthetic: { trainImages: 32, valImages: 8, testImages: 8 } },
    oracle: {
      preset: 'mu',
      steps: 6,
      batchSize: 4,
      evalEvery: 3,
      checkpointEvery: 3,
      heldOutImages: 4,
      optimizer: oracleOptimizer(6, 2),
    },
    model: { variant: 'mu/4', imageSize: 16 },
    mle: { ...MU_STAGE, optimizer: mleOptimizer(MU_STAGE.steps, 1) },
    tune: MU_UVIM_TUNE,
    eval: { batchSize: 8, pictures: 2, samples: 2 },
  },
  quick: {
    data: { synthetic: { trainImages: 1000, valImages: 64, testImages: 128 } },
    oracle: { preset: 'quick', ...QUICK_STAGE, optimizer: oracleOptimizer(QUICK_STAGE.steps, 30) },
    model: { variant: 'pico/4', imageSize: 32 },
    mle: { ...QUICK_STAGE, optimizer: mleOptimizer(QUICK_STAGE.steps, 30) },
    tune: {
      steps: 20,
      batchSize: 8,
      numSamples: 4,
      evalEvery: 10,
      checkpointEvery: 10,
      heldOutImages: 32,
      optimizer: tuneOptimizer(1e-4, 10),
    },
    eval: { batchSize: 64, pictures: 4 },
  },
  tiny: {
    oracle: {
      preset: 'tiny',
      steps: 2500,
      batchSize: 32,
      evalEvery: 250,
      checkpointEvery: 250,
      heldOutImages: 128,
      optimizer: oracleOptimizer(2500, 200),
    },
    mle: {
      steps: 3000,
      batchSize: 32,
      evalEvery: 500,
      checkpointEvery: 250,
      heldOutImages: 128,
      optimizer: mleOptimizer(3000, 200),
    },
    tune: {
      steps: 200,
      batchSize: 16,
      numSamples: 4,
      evalEvery: 25,
      checkpointEvery: 25,
      heldOutImages: 128,
      optimizer: tuneOptimizer(1e-4, 10),
    },
    eval: { batchSize: 64, pictures: 8 },
  },
  b16: {
    oracle: { preset: 'b16', ...B16_STAGE, optimizer: oracleOptimizer(B16_STAGE.steps, 4000, 4e-4) },
    model: { ...MODEL_PRESETS.b16, imageSize: 512 },
    mle: { ...B16_STAGE, optimizer: mleOptimizer(B16_STAGE.steps, 4000) },
    tune: {
      steps: 5000,
      batchSize: 64,
      numSamples: 4,
      evalEvery: 500,
      checkpointEvery: 500,
      heldOutImages: 500,
      optimizer: tuneOptimizer(1e-5, 10),
    },
    eval: { batchSize: 16 },
  },
};

export const colorizeConfigSpec = taskConfigSpec(colorizeConfigSchema, colorizePresets);
