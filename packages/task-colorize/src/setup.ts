/**
 * From a resolved config to the objects the task runner takes: the data (data.ts, read once and checked before any
 * run directory exists), the stage II model (the config's `model` section, vocabulary dictSize + 1, length the code
 * length, token 0 suppressed), the task over the frozen oracle of `oracle.checkpoint`, stage I's batches and the
 * evaluation suite (eval.ts). `colorizeAdapter` is what cli.ts hands reinforce's task runner.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  createModel,
  orUsageError,
  stageTwoProcessors,
  UsageError,
  type EncoderDecoder,
  type LoadedOracle,
} from '@reward-tune/core-model';
import {
  loadFrozenOracle,
  logLine,
  shippedCheckpoints,
  type TaskAdapter,
  type OracleSection,
  type TaskSetup,
} from '@reward-tune/reinforce';
import { colorizeConfigSpec, codeLenOf, dictSizeOf, RGB_OUTPUT, type ColorizeConfig } from './config';
import { colourData, greyTable, oracleTable, type ColourItem } from './data';
import { colorizeCompare } from './compare';
import { evaluateColorize, type ColorizeEval } from './eval';
import { ColorizeTask, type ColourPrediction } from './task';

/** The shipped checkpoints: `<package>/checkpoints/<preset>-{oracle,mle}.safetensors`. */
export const CHECKPOINT_DIR = path.join(__dirname, '..', 'checkpoints');
export const shippedOracle = shippedCheckpoints(CHECKPOINT_DIR, {}, 'oracle');

/** The stage II model of a config. */
export function buildStageTwoModel(cfg: ColorizeConfig, seed: number): EncoderDecoder {
  return createModel(cfg.model, dictSizeOf(cfg.oracle) + 1, codeLenOf(cfg.oracle), seed, stageTwoProcessors());
}

/**
 * A config's `oracle` section as stage II reads it: without `oracle.checkpoint`, the shipped oracle of its size
 * preset (`checkpoints/<preset>-oracle.safetensors`) when the package has one.
 */
export function oracleSection(cfg: ColorizeConfig): OracleSection {
  if (cfg.oracle.checkpoint !== undefined) return cfg.oracle;
  const shipped = shippedOracle(cfg.oracle.preset);
  return existsSync(shipped) ? { ...cfg.oracle, checkpoint: shipped } : cfg.oracle;
}

/** The frozen oracle of a config (loaded on first use). */
export const frozenOracleOf = (cfg: ColorizeConfig) => (): LoadedOracle => {
  const from = oracleSection(cfg).checkpoint;
  if (from === undefined) throw new UsageError('no oracle.checkpoint: train one with task-colorize pretrain-oracle');
  return loadFrozenOracle(from);
};

export function colorizeSetup(cfg: ColorizeConfig): TaskSetup<ColourItem, ColourPrediction, unknown, ColorizeEval> {
  const data = orUsageError(colourData(cfg));
  const oracle = frozenOracleOf(cfg);
  const task = new ColorizeTask(oracle, { size: data.size, reward: cfg.reward });
  return {
    task,
    buildModel: (seed) => buildStageTwoModel(cfg, seed),
    images: (split, limit) => {
      if (split === 'test' && data.testIsVal) logLine(`${data.source}: no test/ folder: test = val`);
      return greyTable(data.splits[split], data.size, limit);
    },
    oracleData: (split, limit) => oracleTable(data.splits[split], data.size, limit),
    evaluate: (model, dir, images, split) =>
      evaluateColorize({ cfg, model, task, oracle: oracle(), images, dir, split }),
  };
}

export const colorizeAdapter: TaskAdapter<ColorizeConfig, ColourItem, ColourPrediction, unknown, ColorizeEval> = {
  tool: 'task-colorize',
  spec: colorizeConfigSpec,
  // The bundled CLI (dist/cli.cjs), whose `sampler` command tune.sampler.kind=process starts.
  samplerCli: path.resolve(__dirname, '..', 'dist', 'cli.cjs'),
  oracle: { section: oracleSection, outputs: () => [RGB_OUTPUT] },
  setUp: (cfg) => colorizeSetup(cfg),
  shippedCheckpoint: shippedCheckpoints(CHECKPOINT_DIR),
  modelKey: (c) => JSON.stringify({ model: c.model, oracle: { preset: c.oracle.preset, model: c.oracle.model } }),
  summaryLine: (name, ev) =>
    `${name}: colourfulness ${ev.greedy.colourfulness.toFixed(1)} (ground truth ${ev.groundTruth.colourfulness.toFixed(1)}), ` +
    `near-grey ${(100 * ev.greedy.grey_fraction).toFixed(1)}%, PSNR ${ev.greedy.psnr.toFixed(2)} dB, luma PSNR ${ev.greedy.luma_psnr.toFixed(2)} dB`,
  jsonStats: (ev) => ({
    images: ev.images,
    ground_truth: ev.groundTruth,
    ...ev.greedy,
    samples: ev.samples,
    frechet_colour_proxy: ev.frechet,
    reward: ev.reward,
  }),
  // The demo line's top-level rows: the ground truth (what "at least as colourful as the data" is measured against)
  // and the frozen oracle's two bounds, all on the same test images as `mle` and `tuned`.
  demoJson: (r) => ({
    ground_truth: r.mle.ev.groundTruth,
    true_code: r.mle.ev.trueCode,
    zero_code: r.mle.ev.zeroCode,
  }),
  demoCompare: (r) => colorizeCompare(r),
};
