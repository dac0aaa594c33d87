/**
 * A toy UViM task for the tests (not exported from the package): 16×16 scenes of 4×4 blocks, each block of one of
 * three classes; the task output is the one-hot class map `seg` [16, 16, 3], the image a grey level per block that
 * says which blocks differ but not their class. Stage I is core-model's `mu` oracle over `seg`; stage II a `mu/8`
 * encoder-decoder predicting the oracle's code + 1; the reward of a decoded map is its pixel accuracy. The task
 * takes the batched pair of the Task contract (encodeTargetsBatch, decodeBatch) as the UViM tasks do, and the
 * adapter is the shape a UViM task package gives the runner.
 *
 * Dimension legend: B batch, R rows, L code length (4), K dictionary size (16).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  decodeStageTwo,
  EncoderDecoder,
  modelConfig,
  ORACLE_PRESETS,
  readTensor,
  Rng,
  stageTwoProcessors,
  stageTwoTargets,
  type FrozenOracle,
  type OracleBatch,
} from '@reward-tune/core-model';
import type { ImageTable } from '../batches';
import {
  evalSectionSchema,
  mleSectionSchema,
  oracleSectionSchema,
  tuneSectionSchema,
  type OracleSection,
} from '../config-sections';
import { WHOLE_OUTPUT_REWARD } from '../estimators';
import { evaluateGreedy } from '../loop';
import type { OracleTable } from '../oracle-loop';
import type { TaskAdapter } from '../runner/adapter';
import { loadFrozenOracle } from '../runner/oracle';
import type { RewardResult, Task } from '../task';
import { sequentialBatches } from '../batches';

export const SIZE = 16;
export const CLASSES = 3;
const BLOCK = 4;

/** One scene: its block classes [4·4] and its image [16·16·3] in [−1, 1]. */
export interface BlockExample {
  readonly index: number;
  readonly classes: Int32Array;
  readonly image: Float32Array;
}

/** Scene `index` of a stream (deterministic in seed and index). */
export function blockExample(seed: number, index: number): BlockExample {
  const rng = Rng.fromSeed(seed * 100003 + index);
  const blocks = (SIZE / BLOCK) ** 2;
  const classes = Int32Array.from({ length: blocks }, () => rng.int(CLASSES));
  const grey = Float32Array.from({ length: blocks }, () => rng.next() * 2 - 1);
  const image = new Float32Array(SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++) {
      const b = Math.floor(y / BLOCK) * (SIZE / BLOCK) + Math.floor(x / BLOCK);
      image.fill(grey[b], (y * SIZE + x) * 3, (y * SIZE + x + 1) * 3);
    }
  return { index, classes, image };
}

/** The class of every pixel [16·16]. */
export function pixelClasses(ex: BlockExample): Int32Array {
  return Int32Array.from(
    { length: SIZE * SIZE },
    (_, p) => ex.classes[Math.floor(Math.floor(p / SIZE) / BLOCK) * (SIZE / BLOCK) + Math.floor((p % SIZE) / BLOCK)],
  );
}

/** The one-hot labels [B, 16, 16, 3] of examples. */
export function segLabels(examples: readonly BlockExample[]): tf.Tensor4D {
  const data = new Float32Array(examples.length * SIZE * SIZE * CLASSES);
  examples.forEach((ex, i) => pixelClasses(ex).forEach((c, p) => (data[(i * SIZE * SIZE + p) * CLASSES + c] = 1)));
  return tf.tensor4d(data, [examples.length, SIZE, SIZE, CLASSES]);
}

/** Images [B, 16, 16, 3] of examples. */
export function imagesOf(examples: readonly BlockExample[]): tf.Tensor4D {
  const data = new Float32Array(examples.length * SIZE * SIZE * 3);
  examples.forEach((ex, i) => data.set(ex.image, i * SIZE * SIZE * 3));
  return tf.tensor4d(data, [examples.length, SIZE, SIZE, 3]);
}

/** Stage I examples of a stream: labels and context per batch. */
export function blockOracleTable(seed: number, size: number): OracleTable {
  return {
    size,
    batch: (indices): OracleBatch => {
      const examples = indices.map((i) => blockExample(seed, i));
      return { labels: { seg: segLabels(examples) }, ctx: imagesOf(examples) };
    },
  };
}

export const SEG_OUTPUT = { name: 'seg', channels: CLASSES, loss: 'xent' } as const;

/** Pixel accuracy of a predicted class map. */
const accuracy = (pred: Int32Array, ex: BlockExample): number => {
  const want = pixelClasses(ex);
  let hit = 0;
  for (let p = 0; p < want.length; p++) if (pred[p] === want[p]) hit++;
  return hit / want.length;
};

/**
 * The stage II task over a frozen oracle (given lazily: `pretrain-oracle` sets the task up before any oracle
 * exists). Predictions are class maps [16·16].
 */
export class BlockTask implements Task<BlockExample, Int32Array> {
  constructor(private readonly oracle: () => FrozenOracle) {}

  encodeTargetsBatch(examples: readonly BlockExample[], images: tf.Tensor4D): Promise<Int32Array> {
    const seg = segLabels(examples);
    return stageTwoTargets(this.oracle(), { seg }, images).finally(() => seg.dispose());
  }

  async decodeBatch(tokens: Int32Array, examples: readonly BlockExample[], images: tf.Tensor4D): Promise<Int32Array[]> {
    const out = decodeStageTwo(this.oracle(), tokens, images);
    const classes = tf.tidy(() => tf.argMax(out.seg, -1));
    tf.dispose(Object.values(out));
    const values = Int32Array.from(await readTensor(classes));
    classes.dispose();
    const per = SIZE * SIZE;
    return examples.map((_, r) => values.slice(r * per, (r + 1) * per));
  }

  reward(predictions: readonly Int32Array[], ex: BlockExample): RewardResult {
    return { rewards: Float64Array.from(predictions, (p) => accuracy(p, ex)) };
  }

  evaluate(predictions: readonly Int32Array[], examples: readonly BlockExample[]): Record<string, number> {
    return { accuracy: predictions.reduce((s, p, i) => s + accuracy(p, examples[i]), 0) / predictions.length };
  }
}

/** The stage II model: `mu/8` at 16 px, vocabulary `vocab` (the dictionary + 1), length L, token 0 suppressed. */
export function blockModel(vocab: number, length: number, seed: number): EncoderDecoder {
  const cfg = modelConfig({ variant: 'mu/8', imageSize: [SIZE, SIZE], vocabSize: vocab, length });
  return EncoderDecoder.create(cfg, seed, stageTwoProcessors());
}

export const blockConfigSchema = z
  .object({
    seed: z.number().int().nonnegative().default(0),
    data: z
      .object({ train: z.number().int().positive().default(64), val: z.number().int().positive().default(8) })
      .strict()
      .prefault({}),
    /** The stage II vocabulary when not the dictionary + 1 (to test the refusal). */
    vocab: z.number().int().positive().optional(),
    oracle: oracleSectionSchema({ preset: 'mu', steps: 6 }),
    mle: mleSectionSchema({ steps: 4 }),
    tune: tuneSectionSchema({ steps: 2, evalEvery: 2, reward: WHOLE_OUTPUT_REWARD }),
    eval: evalSectionSchema,
  })
  .strict();
export type BlockConfig = z.output<typeof blockConfigSchema>;

const MU_PRESET = {
  oracle: { steps: 6, batchSize: 4, evalEvery: 3, checkpointEvery: 3, heldOutImages: 4, model: { momentum: 0.9 } },
  mle: {
    steps: 4,
    batchSize: 4,
    evalEvery: 2,
    checkpointEvery: 2,
    heldOutImages: 4,
    optimizer: { name: 'adamw', lr: 1e-3 },
  },
  tune: { steps: 2, batchSize: 2, numSamples: 2, evalEvery: 2, checkpointEvery: 1, heldOutImages: 4 },
  eval: { batchSize: 4, pictures: 0 },
};

export interface BlockEval {
  readonly accuracy: number;
  readonly meanReward: number;
}

/** The dictionary size a config's oracle section gives. */
const dictSizeOf = (o: OracleSection): number => o.model.dictSize ?? ORACLE_PRESETS[o.preset].dictSize;
const codeLenOf = (o: OracleSection): number => o.model.codeLen ?? ORACLE_PRESETS[o.preset].codeLen;

function table(seed: number, size: number): ImageTable<BlockExample> {
  const examples = Array.from({ length: size }, (_, i) => blockExample(seed, i));
  const pixels = new Float32Array(size * SIZE * SIZE * 3);
  examples.forEach((ex, i) => pixels.set(ex.image, i * SIZE * SIZE * 3));
  return { examples, size: SIZE, pixels };
}

/** The toy UViM task's adapter: what task-panoptic and task-colorize give the runner. */
export const blockAdapter: TaskAdapter<BlockConfig, BlockExample, Int32Array, unknown, BlockEval> = {
  tool: 'task-blocks',
  spec: { schema: blockConfigSchema, presets: { mu: MU_PRESET }, defaultPreset: 'mu' },
  oracle: { section: (c) => c.oracle, outputs: () => [SEG_OUTPUT] },
  setUp: (cfg) => {
    const frozen = (): FrozenOracle => {
      if (cfg.oracle.checkpoint === undefined) throw new Error('no oracle.checkpoint');
      return loadFrozenOracle(cfg.oracle.checkpoint);
    };
    const task = new BlockTask(frozen);
    const streams = { train: cfg.seed * 3 + 1, val: cfg.seed * 3 + 2, test: cfg.seed * 3 + 3 };
    return {
      task,
      buildModel: (seed) => blockModel(cfg.vocab ?? dictSizeOf(cfg.oracle) + 1, codeLenOf(cfg.oracle), seed),
      images: (split, limit) => {
        const n = split === 'train' ? cfg.data.train : cfg.data.val;
        return table(streams[split], limit > 0 ? Math.min(limit, n) : n);
      },
      oracleData: (split, limit) => {
        const n = split === 'train' ? cfg.data.train : cfg.data.val;
        return blockOracleTable(streams[split], limit > 0 ? Math.min(limit, n) : n);
      },
      evaluate: async (model, _dir, val) => {
        const r = await evaluateGreedy(model, task, sequentialBatches(val, cfg.eval.batchSize));
        return { accuracy: r.metrics.accuracy, meanReward: r.rewardMean };
      },
    };
  },
  shippedCheckpoint: (p) => `/nowhere/${p}.safetensors`,
  modelKey: (c) => JSON.stringify(c.oracle),
  summaryLine: (name, ev) => `${name}: accuracy ${ev.accuracy.toFixed(3)}`,
  jsonStats: (ev) => ({ ...ev }),
  demoCompare: () => ({ table: '', page: '' }),
};
