/**
 * `task-detection fit-score --from <run or checkpoint>`: fits the score head (score-head.ts), a learned expected IoU
 * read from the frozen model's own view of each box, and measures it.
 *
 *   1. greedy-decodes the training images (`--images`, default all) and the val and test splits as the evaluation
 *      does (well-formed slots, `eval.batchSize` at a time), keeping each box's features and its match IoU at 0.5;
 *   2. fits one head per candidate (`--hidden` × `--l2`) to the training boxes, and picks the one with the best val
 *      AP (the first of equals; candidates are tried in the order given, so put the simpler first);
 *   3. writes the chosen head to `<dir>/fit-score/score-head.json` (`eval --set eval.scoreHead=<it>` scores by it)
 *      and the record to `<dir>/fit-score/fit-score.json`: every candidate's train loss and val AP, and on val and
 *      test the AP under the likelihood, the in-sequence confidence, the fitted score and the oracle score; the test
 *      split's evaluation goes to `<dir>/fit-score/eval/` as `eval` writes it, scored by the fitted rule.
 *
 * <dir> is where `eval` of the same checkpoint writes (reinforce's evalDirOf). With --json one line:
 * `{"checkpoint","chosen":{"hidden","l2"},"head","val":{"likelihood","confidence","fitted","oracle"},"test":{…}}`
 * (AP under each rule).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { initBackend, UsageError } from '@reward-tune/core-model';
import { evalDirOf, loadCounter, loadWeights, logLine, parseCommand, resolveCheckpoint } from '@reward-tune/reinforce';
import { runner } from './commands';
import type { DetectionExample } from './dataset';
import { evaluatePredictions, predictTable, writeDetectionEval, type ImageTable, type ScoredPrediction } from './eval';
import {
  applyScoreHead,
  DEFAULT_FIT,
  fitScoreHead,
  headLoss,
  NUM_FEATURES,
  type FitOptions,
  type ScoreHead,
} from './score-head';
import { decodingModel, detectionSetup } from './setup';
import type { DetectionTask } from './task';

/** The candidates tried by default: a logistic regression and one hidden layer, each at three penalties. */
export const DEFAULT_HIDDEN = [0, 16];
export const DEFAULT_L2 = [1e-4, 1e-3, 1e-2];

/** The boxes of some predictions as rows: features [N × F], targets [N] (match IoU at 0.5). */
export interface BoxRows {
  readonly features: Float32Array;
  readonly targets: Float32Array;
}

/** The non-null slots of each prediction (which must carry features) as rows, with the reward's match IoU. */
export function boxRows(
  task: Pick<DetectionTask, 'reward'>,
  predictions: readonly ScoredPrediction[],
  examples: readonly DetectionExample[],
): BoxRows {
  const features: number[] = [];
  const targets: number[] = [];
  predictions.forEach((p, i) => {
    if (p.features === undefined) throw new Error('boxRows: a prediction without features');
    const { matchIou } = task.reward([p], examples[i]).aux![0];
    p.slots.forEach((b, k) => {
      if (b.conf === 0) return;
      for (let j = 0; j < NUM_FEATURES; j++) features.push(p.features![k * NUM_FEATURES + j]);
      targets.push(matchIou[k]);
    });
  });
  return { features: Float32Array.from(features), targets: Float32Array.from(targets) };
}

/** The same predictions with the head's scores as their `fitted` rule (from the features they carry). */
export function withFitted(predictions: readonly ScoredPrediction[], head: ScoreHead): ScoredPrediction[] {
  return predictions.map((p) => ({ ...p, byRule: { ...p.byRule, fitted: applyScoreHead(head, p.features!) } }));
}

export interface Candidate {
  readonly hidden: number;
  readonly l2: number;
  readonly train_loss: number;
  readonly val_AP: number;
}

/**
 * Fits a head for each (hidden, l2) on `train`, scores the val predictions with it, and returns every candidate's
 * numbers and the head of the best val AP (the first of equals).
 */
export function chooseHead(
  task: Pick<DetectionTask, 'evaluate'>,
  train: BoxRows,
  val: { predictions: readonly ScoredPrediction[]; examples: readonly DetectionExample[] },
  grid: { hidden: readonly number[]; l2: readonly number[] },
  fit: Omit<FitOptions, 'hidden' | 'l2'> = DEFAULT_FIT,
  onCandidate?: (c: Candidate) => void,
): { candidates: Candidate[]; head: ScoreHead } {
  const candidates: Candidate[] = [];
  let best: { head: ScoreHead; ap: number } | undefined;
  for (const hidden of grid.hidden) {
    for (const l2 of grid.l2) {
      const head = fitScoreHead(train.features, train.targets, { ...fit, hidden, l2 });
      const scored = withFitted(val.predictions, head);
      const ap = task.evaluate(
        scored.map((p) => ({ slots: p.slots, scores: p.byRule.fitted })),
        val.examples,
      ).AP;
      const c = { hidden, l2, train_loss: headLoss(head, train.features, train.targets), val_AP: ap };
      candidates.push(c);
      onCandidate?.(c);
      if (best === undefined || ap > best.ap) best = { head, ap };
    }
  }
  if (best === undefined) throw new UsageError('fit-score: no candidate to fit (--hidden and --l2 need values)');
  return { candidates, head: best.head };
}

function numberList(flag: string, value: unknown, fallback: readonly number[], integer: boolean): number[] {
  if (value === undefined) return [...fallback];
  const text = String(value);
  const parts = text.split(',').map((s) => s.trim());
  const values = parts.map(Number);
  if (
    parts.some((p) => p === '') ||
    values.some((v) => !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v)))
  )
    throw new UsageError(
      `--${flag} ${text}: expected ${integer ? 'non-negative integers' : 'non-negative numbers'} separated by commas`,
    );
  return values;
}

export async function fitScoreCommand(args: readonly string[]): Promise<number> {
  const opts = parseCommand(args, {
    extra: {
      images: { type: 'string', description: 'training images whose greedy boxes the head is fitted to (default all)' },
      hidden: { type: 'string', description: `hidden units to try (0: logistic; default ${DEFAULT_HIDDEN.join(',')})` },
      l2: { type: 'string', description: `L2 penalties to try (default ${DEFAULT_L2.join(',')})` },
    },
  });
  if (!opts) return 0;
  const hidden = numberList('hidden', opts.extra.hidden, DEFAULT_HIDDEN, true);
  const l2 = numberList('l2', opts.extra.l2, DEFAULT_L2, false);
  const images = numberList('images', opts.extra.images, [0], true)[0];
  if (opts.from === undefined) throw new UsageError('fit-score needs --from <run directory or checkpoint>');
  const t0 = Date.now();
  const file = resolveCheckpoint(opts.from);
  // The checkpoint's config, scored as it is evaluated, without a head of its own (this makes one).
  const cfg = runner.runConfigFrom(file, { ...opts, preset: undefined });
  const fitCfg = { ...cfg, eval: { ...cfg.eval, score: 'likelihood' as const, scoreHead: undefined } };
  const setup = detectionSetup(fitCfg, opts.out);
  await initBackend(opts.backend);
  const model = setup.buildModel(cfg.seed);
  loadWeights(model, file);
  const task = setup.task as DetectionTask;
  const policy = decodingModel(fitCfg, task.opts.vocab, model);
  const predict = async (split: 'train' | 'val' | 'test', limit: number) => {
    const table = setup.images(split, limit) as ImageTable;
    const predictions = await predictTable(
      policy,
      task,
      table,
      cfg.eval.batchSize,
      'likelihood',
      loadCounter(`decoding ${split}`),
      { features: true },
    );
    return { table, predictions, examples: table.examples };
  };
  let train, val, test;
  try {
    train = await predict('train', images);
    val = await predict('val', 0);
    test = await predict('test', 0);
  } finally {
    model.dispose();
  }
  const rows = boxRows(task, train.predictions, train.examples);
  if (rows.targets.length === 0)
    throw new UsageError(`fit-score: the model drew no box on the ${train.examples.length} training images`);
  logLine(`fit-score: ${rows.targets.length} boxes from ${train.examples.length} training images`);
  const { candidates, head } = chooseHead(task, rows, val, { hidden, l2 }, DEFAULT_FIT, (c) =>
    logLine(`  hidden ${c.hidden}, l2 ${c.l2}: train loss ${c.train_loss.toFixed(4)}, val AP ${c.val_AP.toFixed(4)}`),
  );
  const split = (s: typeof val) => {
    const ev = evaluatePredictions(task, withFitted(s.predictions, head), s.examples, 'fitted');
    const ap = { ...Object.fromEntries(Object.entries(ev.byScore).map(([r, m]) => [r, m.AP])), oracle: ev.oracle.AP };
    return { ev, ap };
  };
  const onVal = split(val);
  const onTest = split(test);
  const dir = path.join(evalDirOf(file, opts.out, 'task-detection'), 'fit-score');
  mkdirSync(dir, { recursive: true });
  const headFile = path.join(dir, 'score-head.json');
  writeFileSync(headFile, `${JSON.stringify(head)}\n`);
  writeDetectionEval(onTest.ev, test.table, dir, 0, 'test');
  const wall = (Date.now() - t0) / 1000;
  const record = {
    checkpoint: path.resolve(file),
    head: path.resolve(headFile),
    train_images: train.examples.length,
    train_boxes: rows.targets.length,
    fit: DEFAULT_FIT,
    candidates,
    chosen: { hidden: head.hidden, l2: head.l2 },
    val: onVal.ap,
    test: onTest.ap,
    wall_s: wall,
  };
  writeFileSync(path.join(dir, 'fit-score.json'), `${JSON.stringify(record, null, 2)}\n`);
  const f = (ap: Record<string, number>) =>
    Object.entries(ap)
      .map(([k, v]) => `${k} ${v.toFixed(3)}`)
      .join(', ');
  logLine(`fit-score: chose hidden ${head.hidden}, l2 ${head.l2} on val`);
  logLine(`  val AP: ${f(onVal.ap)}`);
  logLine(`  test AP: ${f(onTest.ap)}`);
  logLine(
    `wrote ${dir} (${wall.toFixed(0)} s); score by it: eval --from ${opts.from} --set eval.scoreHead=${headFile} --set eval.score=fitted`,
  );
  if (opts.json)
    process.stdout.write(
      `${JSON.stringify({ checkpoint: record.checkpoint, chosen: record.chosen, head: record.head, val: record.val, test: record.test })}\n`,
    );
  return 0;
}
