/**
 * `task-panoptic`'s commands (also `nx run task-panoptic:<command>`): reinforce's task runner with the panoptic
 * adapter, a UViM task.
 *
 *   pretrain-oracle  stage I: the oracle (VQ-VAE over the two-channel labels, the image as context)
 *   pretrain         stage II: the code language model by MLE over a frozen oracle (--set oracle.checkpoint=…)
 *   tune             reward tuning with per-image PQ (estimator `paper` by default)
 *   eval             the evaluation suite (eval.ts) on the test split
 *   demo             shipped (or trained) oracle and stage II → tuning → both evaluated → table and compare.html
 */
import path from 'node:path';
import { UsageError, type FrozenOracle } from '@reward-tune/core-model';
import { loadFrozenOracle, shippedCheckpoints, taskRunner, type TaskAdapter } from '@reward-tune/reinforce';
import { comparison } from './compare';
import { panopticConfigSpec, type PanopticConfig } from './config';
import { evaluatePanopticModel, jsonStats, pqr, summaryLine, type PanopticEval } from './eval';
import { buildStageTwoModel, dataOf, firstRows, oracleOutputs, panopticOracleTable, type PanopticItem } from './setup';
import { PanopticTask } from './task';
import type { TwoChannelMap } from './two-channel';

export const TASK = 'task-panoptic';

/** Where the shipped checkpoints live (next to dist/ in the installed package). */
export const SHIPPED_DIR = path.resolve(__dirname, '..', 'checkpoints');
/** `tiny-32`, `tiny-64` and `tiny-paper` differ from `tiny` only in how they tune, and so share its checkpoints. */
const SHARED: Readonly<Record<string, string>> = { 'tiny-32': 'tiny', 'tiny-64': 'tiny', 'tiny-paper': 'tiny' };
/** The shipped stage I checkpoint of a preset (`<preset>-oracle.safetensors`). */
export const shippedOracle = shippedCheckpoints(SHIPPED_DIR, SHARED, 'oracle');
/** The shipped stage II checkpoint of a preset (`<preset>-lm.safetensors`). */
export const shippedLm = shippedCheckpoints(SHIPPED_DIR, SHARED, 'lm');

/** Semantic classes (void + categories) of a config's data, known once its data is read (setUp). */
const classCounts = new Map<string, number>();
const dataKey = (cfg: PanopticConfig): string => JSON.stringify(cfg.data);
function numClassesOf(cfg: PanopticConfig): number {
  const n = classCounts.get(dataKey(cfg));
  if (n !== undefined) return n;
  if (cfg.data.dir === undefined) return 7; // the synthetic scenes: void + 3 things + 3 stuff
  throw new UsageError(`${TASK}: the classes of ${cfg.data.dir} are known only once its data is read`);
}

export const panopticAdapter: TaskAdapter<PanopticConfig, PanopticItem, TwoChannelMap, unknown, PanopticEval> = {
  tool: TASK,
  spec: panopticConfigSpec,
  // The bundled CLI (dist/cli.cjs), whose `sampler` command tune.sampler.kind=process starts.
  samplerCli: path.resolve(__dirname, '..', 'dist', 'cli.cjs'),
  oracle: {
    section: (c) => c.oracle,
    outputs: (c) => oracleOutputs(numClassesOf(c), c.panoptic.instances),
    shipped: shippedOracle,
  },
  setUp: (cfg, outRoot) => {
    const data = dataOf(cfg, outRoot);
    classCounts.set(dataKey(cfg), data.classes.numClasses);
    const frozen = (): FrozenOracle => {
      if (cfg.oracle.checkpoint === undefined)
        throw new UsageError('stage II needs oracle.checkpoint (a stage I checkpoint or run)');
      return loadFrozenOracle(cfg.oracle.checkpoint);
    };
    const task = new PanopticTask(frozen, data.classes, cfg.panoptic.instances, cfg.reward);
    return {
      task,
      buildModel: (seed) => buildStageTwoModel(cfg, seed),
      images: (split, limit) => firstRows(data.splits[split], limit),
      oracleData: (split, limit) =>
        panopticOracleTable(
          firstRows(data.splits[split], limit),
          data.classes,
          cfg.panoptic.instances,
          cfg.panoptic.thingWeight,
        ),
      evaluate: (model, dir, images, split) =>
        evaluatePanopticModel(
          {
            oracle: frozen(),
            task,
            classes: data.classes,
            instances: cfg.panoptic.instances,
            batchSize: cfg.eval.batchSize,
            pictures: cfg.eval.pictures,
            samples: cfg.tune.distributionSamples,
            seed: cfg.tune.distributionSeed,
          },
          model,
          dir,
          images,
          split,
        ),
    };
  },
  shippedCheckpoint: shippedLm,
  // What a shipped stage II model must share with a run: the model, the oracle's sizes (which oracle is checked by
  // its content hash), the labels and the data.
  modelKey: (c) =>
    JSON.stringify({
      model: c.model,
      oracle: { preset: c.oracle.preset, model: c.oracle.model },
      panoptic: c.panoptic,
      data: c.data,
    }),
  summaryLine,
  jsonStats,
  demoCompare: comparison,
  demoJson: (r) => ({ oracle: pqr(r.mle.ev.oracle), zero_code: pqr(r.mle.ev.zeroCode) }),
};

export const runner = taskRunner(panopticAdapter);
export const {
  pretrainOracleCommand,
  pretrainCommand,
  tuneCommand,
  evalCommand,
  demoCommand,
  noiseCommand,
  poolCommand,
  samplerCommand,
} = runner;
