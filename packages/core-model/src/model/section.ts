/**
 * The `model` section of a task config (zod, defaults here and only here) and the model it builds: a ViT variant by
 * name at a square image size, the decoder's sizes (default: the encoder's), and the initialisation choices that
 * decide whether a small model learns at all (sin-cos encoder positions and decoder position embeddings at std 1:
 * with learned positions at std 0.02 a toy detector learned nothing in 1000 steps, see
 * docs/experiments/toy-detection-calibration.md). The task supplies the vocabulary, the length and its logits
 * processors.
 */
import { z } from 'zod';
import type { LogitsProcessor } from './logits-processors';
import { EncoderDecoder, modelConfig } from './encoder-decoder';

export const modelSectionSchema = z
  .object({
    variant: z.string().default('nano/8'),
    imageSize: z.number().int().positive().default(64),
    decoderDepth: z.number().int().positive().optional(),
    decoderWidth: z.number().int().positive().optional(),
    decoderHeads: z.number().int().positive().optional(),
    decoderMlp: z.number().int().positive().optional(),
    encoderPosemb: z.enum(['sincos2d', 'learned']).default('sincos2d'),
    decoderPosembStd: z.number().positive().default(1),
  })
  .strict()
  .prefault({});

export type ModelSection = z.output<typeof modelSectionSchema>;

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
