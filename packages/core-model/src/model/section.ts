/**
 * The `model` section of a task config (zod) and the model it builds: a ViT variant by name at a square image size,
 * the decoder's sizes (default: the encoder's), and the initialisation choices that decide whether a small model
 * learns at all. The defaults are encoder-decoder.ts's MODEL_DEFAULTS (the one place that states them); the sizes the
 * tasks' presets share are MODEL_PRESETS. The task supplies the vocabulary, the length and its logits processors.
 */
import { z } from 'zod';
import type { LogitsProcessor } from './logits-processors';
import { EncoderDecoder, MODEL_DEFAULTS, modelConfig } from './encoder-decoder';

export const modelSectionSchema = z
  .object({
    variant: z.string().default(MODEL_DEFAULTS.variant),
    imageSize: z.number().int().positive().default(MODEL_DEFAULTS.imageSize),
    decoderDepth: z.number().int().positive().optional(),
    decoderWidth: z.number().int().positive().optional(),
    decoderHeads: z.number().int().positive().optional(),
    decoderMlp: z.number().int().positive().optional(),
    encoderPosemb: z.enum(['sincos2d', 'learned']).default(MODEL_DEFAULTS.encoderPosemb),
    decoderPosembStd: z.number().positive().default(MODEL_DEFAULTS.decoderPosembStd),
  })
  .strict()
  .prefault({});

export type ModelSection = z.output<typeof modelSectionSchema>;

/**
 * The model sizes the tasks' presets share, as `model` sections (the `tiny` presets take the defaults):
 *
 *   mu     the smallest, for unit tests: `mu/8` at 32 px
 *   quick  smoke runs of a whole recipe: `pico/8` at 48 px
 *   b16    ViT-B/16 at 384 px with a 6-layer, 512-wide decoder (16 heads, MLP 2048), for a GPU and real COCO
 */
export const MODEL_PRESETS = {
  mu: { variant: 'mu/8', imageSize: 32 },
  quick: { variant: 'pico/8', imageSize: 48 },
  b16: { variant: 'B/16', imageSize: 384, decoderDepth: 6, decoderWidth: 512, decoderHeads: 16, decoderMlp: 2048 },
} as const satisfies Readonly<Record<string, z.input<typeof modelSectionSchema>>>;

/** A fresh model (deterministic in `seed`) from a config's model section. */
export function createModel(
  m: ModelSection,
  vocabSize: number,
  length: number,
  seed: number,
  processors: readonly LogitsProcessor[],
): EncoderDecoder {
  const config = modelConfig({
    variant: m.variant,
    imageSize: [m.imageSize, m.imageSize],
    vocabSize,
    length,
    decoderDepth: m.decoderDepth,
    decoderWidth: m.decoderWidth,
    decoderHeads: m.decoderHeads,
    decoderMlp: m.decoderMlp,
    encoderPosemb: m.encoderPosemb,
    decoderPosembStd: m.decoderPosembStd,
  });
  return EncoderDecoder.create(config, seed, processors);
}
