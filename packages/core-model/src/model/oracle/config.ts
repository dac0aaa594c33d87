/**
 * The UViM stage I ("oracle") configuration: a zod schema with defaults, the size presets, and the checks that make a
 * bad config one line naming its field (exit 2 at a CLI, through `UsageError`).
 *
 * Sizes: `mu` (unit tests), `quick` (a few minutes), `tiny` (the CPU demo: 64², patch 8, an 8×8 token grid resized
 * to a 4×4 = 16-token code, codewords of 32, a dictionary of 256), `b16` (big_vision's UViM sizes for a GPU and real
 * data: 512², patch 16, code 256, dictionary 4096, width 768, 6 encoder and 12 decoder layers). The task supplies the
 * output keys (`outputs`); the presets leave them out.
 */
import * as E from 'fp-ts/Either';
import { z } from 'zod';
import { UsageError } from '../../command-line';
import { orUsageError, validate } from '../../input';

/** One task output (and encoder input) key, e.g. `semantics` (one-hot, `xent`) or `rgb` (real values, `mse`). */
export const oracleOutputSchema = z
  .object({
    /** Parameter names use it: `embedding_<name>`, `head_<name>`. */
    name: z.string().regex(/^[A-Za-z0-9_]+$/, 'letters, digits and _ only'),
    /** C_k, the channels of the key's [B, H, W, C_k] maps. */
    channels: z.number().int().positive(),
    /** `xent`: softmax cross-entropy over the channel axis (labels one-hot or soft); `mse`: mean squared error. */
    loss: z.enum(['xent', 'mse']),
    /** The key's weight in the summed reconstruction loss (big_vision: 1 for every key). */
    weight: z.number().positive().default(1),
  })
  .strict();

export type OracleOutput = z.output<typeof oracleOutputSchema>;
/** An output key as a task writes it (`weight` may be left out). */
export type OracleOutputInput = z.input<typeof oracleOutputSchema>;

const oracleObject = z
  .object({
    /** Square input size (pixels); a multiple of `patch`. */
    imageSize: z.number().int().positive(),
    patch: z.number().int().positive(),
    /** Image context channels (3: RGB in [−1, 1]; colorization feeds luma repeated ×3). */
    ctxChannels: z.number().int().positive().default(3),
    /** D, the width of both Transformers. */
    width: z.number().int().positive(),
    encDepth: z.number().int().positive(),
    decDepth: z.number().int().positive(),
    heads: z.number().int().positive(),
    mlp: z.number().int().positive(),
    /** Init std of the learned position embeddings; default 1/√width (big_vision's `get_posemb`). */
    posembStd: z.number().positive().optional(),
    /** L, the number of code tokens. */
    codeLen: z.number().int().positive(),
    /** Dc, the codeword width (big_vision: the width when unset). */
    codewordDim: z.number().int().positive(),
    /** K, the number of codewords. */
    dictSize: z.number().int(),
    /** 'resize': linear (antialiased) resize of the token grid to √L×√L; 'learned': `bottleneck_{down,up}sample`. */
    bottleneck: z.enum(['resize', 'learned']).default('resize'),
    /** EMA momentum of the dictionary counts and sums. */
    momentum: z.number().gt(0).lt(1).default(0.995),
    /** A codeword whose discounted count falls below this is replaced by a split of the most used one. */
    minCount: z.number().positive().default(0.1),
    /** Weight of mean((x − sg(x_q))²) in the loss (big_vision's UViM configs: 0). */
    commitment: z.number().nonnegative().default(0),
    /** 'random': in training, zero a uniformly random fraction of each example's code tokens. */
    codeDropout: z.enum(['random', 'none']).default('random'),
    withEncoderCtx: z.boolean().default(true),
    withDecoderCtx: z.boolean().default(true),
    outputs: z.array(oracleOutputSchema).min(1),
  })
  .strict();

/**
 * The schema with the cross-field checks: heads divide the width, the image divides into patches, the code length
 * suits the bottleneck, a dictionary of at least 2, distinct output names.
 */
export const oracleConfigSchema = oracleObject.superRefine((c, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (c.width % c.heads !== 0) issue('heads', `${c.heads} heads do not divide width ${c.width}`);
  if (c.imageSize % c.patch !== 0) issue('patch', `image ${c.imageSize} is not a multiple of patch ${c.patch}`);
  if (c.dictSize < 2) issue('dictSize', `must be at least 2, got ${c.dictSize}`);
  const grid = c.imageSize / c.patch;
  if (c.bottleneck === 'resize' && Number.isInteger(grid)) {
    const side = Math.round(Math.sqrt(c.codeLen));
    if (side * side !== c.codeLen)
      issue('codeLen', `${c.codeLen} is not a perfect square (bottleneck 'resize' needs √codeLen × √codeLen)`);
    else if (side > grid) issue('codeLen', `a ${side}×${side} code is larger than the ${grid}×${grid} token grid`);
  }
  if (c.bottleneck === 'learned' && Number.isInteger(grid) && c.codeLen > grid * grid) {
    issue('codeLen', `${c.codeLen} is more than the ${grid * grid} tokens of the grid`);
  }
  const seen = new Set<string>();
  c.outputs.forEach((o, i) => {
    if (seen.has(o.name))
      ctx.addIssue({ code: 'custom', path: ['outputs', i, 'name'], message: `duplicate output '${o.name}'` });
    seen.add(o.name);
  });
});

export type OracleConfig = z.output<typeof oracleConfigSchema>;
export type OracleConfigInput = z.input<typeof oracleConfigSchema>;

/**
 * Any oracle field but `outputs`, each optional and without a default: what a task config may change of a preset
 * (e.g. `{ momentum: 0.99, codeLen: 64 }`). The combination is checked by `oracleConfigSchema`.
 */
export const oracleOverridesSchema = oracleObject
  .omit({ outputs: true })
  .extend({
    ctxChannels: z.number().int().positive().optional(),
    bottleneck: z.enum(['resize', 'learned']).optional(),
    momentum: z.number().gt(0).lt(1).optional(),
    minCount: z.number().positive().optional(),
    commitment: z.number().nonnegative().optional(),
    codeDropout: z.enum(['random', 'none']).optional(),
    withEncoderCtx: z.boolean().optional(),
    withDecoderCtx: z.boolean().optional(),
  })
  .partial();
export type OracleOverrides = z.output<typeof oracleOverridesSchema>;

/** Size presets (everything but `outputs`; the remaining fields take the schema defaults). */
export const ORACLE_PRESETS = {
  mu: {
    imageSize: 16,
    patch: 4,
    width: 16,
    encDepth: 1,
    decDepth: 1,
    heads: 2,
    mlp: 32,
    codeLen: 4,
    codewordDim: 8,
    dictSize: 16,
  },
  quick: {
    imageSize: 32,
    patch: 4,
    width: 64,
    encDepth: 2,
    decDepth: 2,
    heads: 2,
    mlp: 256,
    codeLen: 16,
    codewordDim: 32,
    dictSize: 128,
  },
  tiny: {
    imageSize: 64,
    patch: 8,
    width: 96,
    encDepth: 2,
    decDepth: 3,
    heads: 4,
    mlp: 384,
    codeLen: 16,
    codewordDim: 32,
    dictSize: 256,
  },
  b16: {
    imageSize: 512,
    patch: 16,
    width: 768,
    encDepth: 6,
    decDepth: 12,
    heads: 12,
    mlp: 3072,
    codeLen: 256,
    codewordDim: 768,
    dictSize: 4096,
  },
} as const satisfies Record<string, Omit<OracleConfigInput, 'outputs'>>;

export type OraclePreset = keyof typeof ORACLE_PRESETS;

/** The preset names, smallest first. */
export const ORACLE_PRESET_NAMES = ['mu', 'quick', 'tiny', 'b16'] as const satisfies readonly OraclePreset[];

/** Validates a config: the parsed config with defaults, or one line naming the field (`<where>: <field>: <why>`). */
export function validateOracleConfig(input: unknown, where = 'oracle config'): E.Either<string, OracleConfig> {
  return validate(oracleConfigSchema, input, where);
}

/** `validateOracleConfig`, throwing a `UsageError` (one line, exit 2) for a bad config. */
export function oracleConfig(input: unknown, where = 'oracle config'): OracleConfig {
  return orUsageError(validateOracleConfig(input, where));
}

/** A preset's sizes with `outputs` and any overrides, validated. */
export function oraclePreset(
  name: OraclePreset,
  rest: { outputs: readonly OracleOutputInput[] } & Partial<Omit<OracleConfigInput, 'outputs'>>,
): OracleConfig {
  if (!(name in ORACLE_PRESETS))
    throw new UsageError(`oracle preset: unknown '${name}' (${Object.keys(ORACLE_PRESETS).join(', ')})`);
  return oracleConfig({ ...ORACLE_PRESETS[name], ...rest }, `oracle preset ${name}`);
}

/** The token grid [gh, gw] of the image (square images: gh = gw). */
export function oracleGrid(cfg: OracleConfig): [number, number] {
  const g = cfg.imageSize / cfg.patch;
  return [g, g];
}

/** P, the number of image tokens. */
export function oracleTokens(cfg: OracleConfig): number {
  const [gh, gw] = oracleGrid(cfg);
  return gh * gw;
}

/** The side of the square code grid under bottleneck 'resize'. */
export function codeSide(cfg: OracleConfig): number {
  return Math.round(Math.sqrt(cfg.codeLen));
}

/**
 * Stage II predicts `code + 1` (0 is pad/BOS), so its vocabulary must be exactly `dictSize + 1`; anything else is a
 * `UsageError` naming the field.
 */
export function checkStageTwoVocab(cfg: Pick<OracleConfig, 'dictSize'>, vocabSize: number, field = 'vocabSize'): void {
  if (vocabSize !== cfg.dictSize + 1) {
    throw new UsageError(
      `stage II ${field}: ${vocabSize} must equal the oracle's dictSize + 1 = ${cfg.dictSize + 1} (codes 1..${cfg.dictSize}, 0 for pad/BOS)`,
    );
  }
}
