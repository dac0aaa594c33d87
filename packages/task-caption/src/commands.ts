/**
 * `task-caption`'s commands (also `nx run task-caption:<command>`): reinforce's task runner with captioning's
 * adapter.
 *
 *   pretrain  data → vocabulary (saved as <run>/vocabulary.json) → model → MLE → evaluation → report
 *   tune      an MLE run's weights → reward tuning with CIDEr-D (estimator `paper` by default;
 *             `--set tune.estimator=greedy` for self-critical) → evaluation → report
 *   eval      a run's (or checkpoint's) weights → greedy captions, CIDEr-D and BLEU-1..4 on the test split
 *             (`eval.split`: test, or val)
 *   noise     the gradient noise scale of tuning from a checkpoint
 *   pool      best-of-N: the mean reward of a random, the most likely and the best of N samples per test image
 *   demo      MLE (shipped checkpoint or pretraining) → tuning → both evaluated → table and compare.html (demo.ts)
 *
 * The adapter's parts live with their ideas: the config in config.ts, the data, vocabulary, model and task for a
 * config in setup.ts, the evaluation suite in eval.ts, the demo's comparison in compare.ts.
 */
import path from 'node:path';
import { shippedCheckpoints, taskRunner, type TaskAdapter } from '@reward-tune/reinforce';
import { comparison } from './compare';
import { captionConfigSpec, type CaptionConfig } from './config';
import type { CaptionExample } from './dataset';
import { jsonStats, summaryLine, type CaptionEval } from './eval';
import { captionSetup } from './setup';
import type { CaptionPrediction } from './task';

export const TASK = 'task-caption';

/** Where the shipped MLE checkpoints live (next to dist/ in the installed package), each with its vocabulary. */
export const SHIPPED_DIR = path.resolve(__dirname, '..', 'checkpoints');
export const shippedCheckpoint = shippedCheckpoints(SHIPPED_DIR);

export const captionAdapter: TaskAdapter<CaptionConfig, CaptionExample, CaptionPrediction, unknown, CaptionEval> = {
  tool: TASK,
  spec: captionConfigSpec,
  // The bundled CLI (dist/cli.cjs), whose `sampler` command tune.sampler.kind=process starts.
  samplerCli: path.resolve(__dirname, '..', 'dist', 'cli.cjs'),
  setUp: captionSetup,
  shippedCheckpoint,
  modelKey: (c) => JSON.stringify({ model: c.model, caption: c.caption, data: c.data }),
  summaryLine,
  jsonStats,
  demoCompare: comparison,
};

export const runner = taskRunner(captionAdapter);
export const { pretrainCommand, tuneCommand, evalCommand, noiseCommand, poolCommand, samplerCommand } = runner;
