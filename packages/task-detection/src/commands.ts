/**
 * `task-detection`'s commands (also `nx run task-detection:<command>`): reinforce's task runner with detection's
 * adapter.
 *
 *   pretrain  data → model → MLE (checkpoints, held-out curve) → evaluation suite → report
 *   tune      an MLE run's weights → reward tuning with the paper's reward + confidence loss → evaluation → report
 *   eval      a run's (or checkpoint's) weights → evaluation suite on the test split (`eval.split`: test, or val)
 *   noise     the gradient noise scale of tuning from a checkpoint
 *   pool      best-of-N: the mean reward of a random, the most likely and the best of N samples per test image
 *   demo      data → MLE (the shipped checkpoint, or pretraining with --from-scratch) → tuning → both evaluated
 *             with the same greedy decoding → a table and report.html comparing them (demo.ts)
 *
 * The adapter's parts live with their ideas: the config in config.ts, the data, model and task for a config in
 * setup.ts, the evaluation suite in eval.ts, the demo's comparison in compare.ts.
 */
import path from 'node:path';
import { shippedCheckpoints, taskRunner, type TaskAdapter } from '@reward-tune/reinforce';
import { comparison } from './compare';
import { detectionConfigSpec, detectionMovedKeys, type DetectionConfig } from './config';
import type { DetectionExample } from './dataset';
import { statsOf, summaryLine, type DetectionEval } from './eval';
import { detectionSetup } from './setup';
import type { DetectionAux, DetectionPrediction } from './task';

export const TASK = 'task-detection';

/** Where the shipped MLE checkpoints live (next to dist/ in the installed package). */
export const SHIPPED_DIR = path.resolve(__dirname, '..', 'checkpoints');
/**
 * `tiny-paper` and `tiny-paper-estimator` differ from `tiny` only in how they tune and score, and so share its MLE
 * checkpoint.
 */
export const shippedCheckpoint = shippedCheckpoints(SHIPPED_DIR, {
  'tiny-paper': 'tiny',
  'tiny-paper-estimator': 'tiny',
});

export const detectionAdapter: TaskAdapter<
  DetectionConfig,
  DetectionExample,
  DetectionPrediction,
  DetectionAux,
  DetectionEval
> = {
  tool: TASK,
  spec: detectionConfigSpec,
  // The bundled CLI (dist/cli.cjs), whose `sampler` command tune.sampler.kind=process starts.
  samplerCli: path.resolve(__dirname, '..', 'dist', 'cli.cjs'),
  movedKeys: detectionMovedKeys,
  setUp: detectionSetup,
  shippedCheckpoint,
  // wellFormed is a decoding choice, not part of the model: a checkpoint fits either way.
  modelKey: (c) => JSON.stringify({ model: c.model, tokens: { ...c.tokens, wellFormed: undefined }, data: c.data }),
  summaryLine,
  jsonStats: (ev) => ({ stats: statsOf(ev), mean_reward: ev.meanReward }),
  demoCompare: comparison,
};

export const runner = taskRunner(detectionAdapter);
export const { pretrainCommand, tuneCommand, evalCommand, noiseCommand, poolCommand, samplerCommand } = runner;
