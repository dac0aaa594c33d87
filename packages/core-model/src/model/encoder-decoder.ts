/**
 * The image-to-sequence model: ViT encoder + autoregressive decoder, implementing `SequencePolicy`. One object
 * holds the parameters, the configuration and the logits processors, so that sampling and teacher-forced
 * re-scoring always apply the same constraints.
 *
 * Dimension legend: B batch, N samples per input, L length, V vocabulary, Hi×Wi×C image, P patches, D width.
 */
import * as tf from '@tensorflow/tfjs-core';
import { sequenceBias, tokensTensorValues, type LogitsProcessor } from './logits-processors';
import { ParamInit, countParams, pickOneHot } from './ops';
import type { Params, RowScores, RowScoring, SampleOptions, SampleResult, SequencePolicy } from './policy';
import { Rng } from '../rng';
import { sampleSequences } from './sampler';
import { decoderFeatures, decoderHead, initDecoder, shiftRight, type DecoderConfig } from './decoder';
import { vitVariant } from './variants';
import { initVit, vitEncode, type VitConfig } from './vit';

export interface EncoderDecoderConfig {
  readonly encoder: VitConfig;
  readonly decoder: DecoderConfig;
}

/**
 * The model's defaults, stated here and nowhere else: `modelConfig` fills a spec's absent fields from them, and a
 * task config's `model` section (section.ts) takes its defaults from them. `variant` and `imageSize` are the model a
 * task config gets when it names none (the CPU demos' size). Encoder positions are fixed 2-D sin-cos, and the
 * decoder's learned positions start at std 1: with learned positions at std 0.02 a toy detector learned nothing in
 * 1000 steps (docs/experiments/toy-detection-calibration.md). `encoderPosembStd` applies to learned encoder positions.
 */
export const MODEL_DEFAULTS = {
  variant: 'nano/8',
  imageSize: 64,
  channels: 3,
  encoderPosemb: 'sincos2d',
  encoderPosembStd: 0.02,
  decoderPosembStd: 1,
} as const;

export interface ModelSpec {
  /** ViT variant name, e.g. `mu`, `Ti/16`, `S/16`, `B/16`, `Ti/4` (see variants.ts). */
  readonly variant: string;
  readonly imageSize: readonly [number, number];
  readonly channels?: number;
  readonly vocabSize: number;
  readonly length: number;
  /** Decoder depth (absent: the encoder's). Width, heads and MLP follow the encoder unless given. */
  readonly decoderDepth?: number;
  readonly decoderWidth?: number;
  readonly decoderHeads?: number;
  readonly decoderMlp?: number;
  /** Encoder position embeddings: 'sincos2d' or 'learned', drawn at `encoderPosembStd`. */
  readonly encoderPosemb?: 'sincos2d' | 'learned';
  readonly encoderPosembStd?: number;
  /** Init std of the decoder's learned position embeddings. */
  readonly decoderPosembStd?: number;
}

/** Resolves a variant name plus task sizes into the full configuration; absent fields take MODEL_DEFAULTS. */
export function modelConfig(spec: ModelSpec): EncoderDecoderConfig {
  const v = vitVariant(spec.variant);
  const encoder: VitConfig = {
    imageSize: spec.imageSize,
    channels: spec.channels ?? MODEL_DEFAULTS.channels,
    patch: v.patch,
    width: v.width,
    depth: v.depth,
    heads: v.heads,
    mlp: v.mlp,
    posemb: spec.encoderPosemb ?? MODEL_DEFAULTS.encoderPosemb,
    posembStd: spec.encoderPosembStd ?? MODEL_DEFAULTS.encoderPosembStd,
  };
  const decoder: DecoderConfig = {
    vocabSize: spec.vocabSize,
    length: spec.length,
    width: spec.decoderWidth ?? v.width,
    depth: spec.decoderDepth ?? v.depth,
    heads: spec.decoderHeads ?? v.heads,
    mlp: spec.decoderMlp ?? v.mlp,
    encoderWidth: v.width,
    posembStd: spec.decoderPosembStd ?? MODEL_DEFAULTS.decoderPosembStd,
  };
  return { encoder, decoder };
}

/** Fresh parameters, deterministic in `seed`: encoder first, then decoder, each in a fixed order. */
export function initParams(cfg: EncoderDecoderConfig, seed: number): Params {
  const init = new ParamInit(Rng.fromSeed(seed));
  initVit(init, cfg.encoder);
  initDecoder(init, cfg.decoder);
  return init.params;
}

export class EncoderDecoder implements SequencePolicy {
  readonly vocabSize: number;
  readonly length: number;

  constructor(
    readonly config: EncoderDecoderConfig,
    readonly params: Params,
    readonly processors: readonly LogitsProcessor[] = [],
  ) {
    this.vocabSize = config.decoder.vocabSize;
    this.length = config.decoder.length;
  }

  static create(cfg: EncoderDecoderConfig, seed: number, processors: readonly LogitsProcessor[] = []): EncoderDecoder {
    return new EncoderDecoder(cfg, initParams(cfg, seed), processors);
  }

  /** The same parameters under other constraints (e.g. unconstrained evaluation). */
  withProcessors(processors: readonly LogitsProcessor[]): EncoderDecoder {
    return new EncoderDecoder(this.config, this.params, processors);
  }

  get numParams(): number {
    return countParams(this.params);
  }

  /** images [B, Hi, Wi, C] in [−1, 1] → encoder tokens [B, P, D]; run once and reuse for sampling and scoring. */
  encode(images: tf.Tensor4D): tf.Tensor3D {
    return vitEncode(this.params, this.config.encoder, images);
  }

  /**
   * The processors' additive bias for targets `tokens` [B, L]: [1, L, V] when all processors are static, [B, L, V]
   * otherwise (then the token values are read: on webgpu they must come from `tokensTensor`, as there is no
   * synchronous read there).
   */
  private processorBias(tokens: tf.Tensor2D): tf.Tensor3D | null {
    if (this.processors.length === 0) return null;
    let values: Int32Array | null = null;
    if (this.processors.some((p) => p.dynamic)) {
      values = tokensTensorValues(tokens) ?? null;
      // webgpu in Node has no synchronous read (it would fail deep inside tfjs on OffscreenCanvas).
      if (values === null && tf.getBackend() === 'webgpu') {
        throw new Error('dynamic logits processors on webgpu: make the tokens with tokensTensor');
      }
      values ??= tokens.dataSync() as Int32Array; // eslint-disable-line no-restricted-syntax
    }
    const b = tokens.shape[0];
    return sequenceBias(
      this.processors,
      values === null ? null : Int32Array.from(values),
      b,
      this.length,
      this.vocabSize,
    );
  }

  /**
   * Teacher-forced log-softmax [B, L, V] after the processors, from encoder tokens [B, P, D]; `headOnly` as in
   * `headLogProbs`.
   */
  logProbsFromEncoded(encoded: tf.Tensor3D, tokens: tf.Tensor2D, headOnly = false): tf.Tensor3D {
    const bias = this.processorBias(tokens);
    try {
      return tf.tidy(() => {
        const features = decoderFeatures(this.params, this.config.decoder, encoded, shiftRight(tokens));
        return this.logProbsFromFeatures(features, bias, headOnly);
      });
    } finally {
      bias?.dispose();
    }
  }

  /** The head's log-softmax [B, L, V] of decoder features [B, L, D], after the processors' bias. */
  private logProbsFromFeatures(features: tf.Tensor3D, bias: tf.Tensor3D | null, headOnly: boolean): tf.Tensor3D {
    return tf.tidy(() => {
      const logits = decoderHead(this.params, features, headOnly);
      return tf.logSoftmax(bias === null ? logits : tf.add(logits, bias)) as tf.Tensor3D;
    });
  }

  /** SequencePolicy: teacher-forced, processed log-softmax [B, L, V] for targets `tokens` [B, L]. */
  logProbs(images: tf.Tensor4D, tokens: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => this.logProbsFromEncoded(this.encode(images), tokens));
  }

  /**
   * SequencePolicy: the same log-probs as `logProbs`, but differentiable only with respect to the output layer
   * (`decoder/head/*`): the decoder features it reads are treated as constants.
   */
  headLogProbs(images: tf.Tensor4D, tokens: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => this.logProbsFromEncoded(this.encode(images), tokens, true));
  }

  /**
   * SequencePolicy: rows sharing images (REINFORCE's N samples per image) cost one encoder pass per image, not per
   * row: the rows' encoder tokens are gathered (so the encoder's gradient sums over the rows of an image), and the
   * head-only log-probs read the same decoder features.
   */
  scoreRows(images: tf.Tensor4D, tokens: tf.Tensor2D, opts: RowScoring): RowScores {
    const bias = this.processorBias(tokens);
    try {
      return tf.tidy(() => {
        const encoded = this.encode(images);
        const rows = opts.rowImages ? tf.gather(encoded, tf.tensor1d(opts.rowImages, 'int32')) : encoded;
        const features = decoderFeatures(this.params, this.config.decoder, rows, shiftRight(tokens));
        const logProbs = this.logProbsFromFeatures(features, bias, false);
        return opts.head ? { logProbs, headLogProbs: this.logProbsFromFeatures(features, bias, true) } : { logProbs };
      });
    } finally {
      bias?.dispose();
    }
  }

  /** Per-token log-probs [B, L] of `tokens` [B, L] (one-hot product, so that no gather gradient is needed). */
  tokenLogProbs(images: tf.Tensor4D, tokens: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const lp = this.logProbsFromEncoded(this.encode(images), tokens);
      return pickOneHot(lp, tf.oneHot(tf.cast(tokens, 'int32'), this.vocabSize)) as tf.Tensor2D;
    });
  }

  /** SequencePolicy: KV-cached sampling of N sequences per image (no gradient). */
  async sample(images: tf.Tensor4D, opts: SampleOptions): Promise<SampleResult> {
    const encoded = this.encode(images);
    try {
      return await this.sampleFromEncoded(encoded, opts);
    } finally {
      encoded.dispose();
    }
  }

  sampleFromEncoded(encoded: tf.Tensor3D, opts: SampleOptions): Promise<SampleResult> {
    return sampleSequences(this.params, this.config.decoder, encoded, this.processors, opts);
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}
