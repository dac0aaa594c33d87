/**
 * MLE pretraining: teacher-forced next-token cross-entropy on the task's target sequences (big_vision's
 * `weighted_softmax_xent(normalize=True)`, see `losses.ts`), with held-out loss and greedy task metric at intervals,
 * periodic checkpoints, resume, early stopping on a plateau, and a non-finite guard. The targets come example by
 * example, or a batch at a time from the backend (UViM stage II: the frozen oracle's code + 1, every step).
 *
 * Dimension legend: B batch, L sequence length, V vocabulary.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, tokensTensor, type Optimizer, type SequencePolicy } from '@reward-tune/core-model';
import type { MleConfig } from './config-sections';
import { weightedSoftmaxXent } from './losses';
import {
  captureState,
  evaluateGreedy,
  gradientStep,
  interruptDetail,
  interruptRequested,
  isDue,
  restoreState,
  type LoopIo,
  type MetricsRecord,
} from './loop';
import { batchSize, encodeTargetRows, imagesTensor, type Batch, type BatchSource, type Task } from './task';

export type { MleConfig } from './config-sections';

/** Stop when the watched held-out value has not improved by `minDelta` for `patience` evaluations in a row. */
export type EarlyStop = NonNullable<MleConfig['earlyStop']>;

export interface MleOptions<E, P, A> extends LoopIo {
  readonly policy: SequencePolicy;
  readonly optimizer: Optimizer;
  readonly task: Task<E, P, A>;
  readonly train: BatchSource<E>;
  readonly heldOut?: readonly Batch<E>[];
  /** The training stream (batches, target encodings); replaced by the checkpoint's on resume. */
  readonly rng: Rng;
  /** The `mle` section (config-sections.ts), or any part of it with `steps`. */
  readonly config: MleConfig;
}

export interface MleResult {
  readonly steps: number;
  /**
   * `interrupted`: `signal` was aborted; the state after the last update is checkpointed (when a checkpointer is
   * set).
   */
  readonly stopped: 'done' | 'early-stop' | 'non-finite' | 'interrupted';
  /** Per-update loss of the updates this call ran. */
  readonly losses: number[];
  /** The best watched held-out value and the update it was reached at (with early stopping). */
  readonly best?: { readonly step: number; readonly value: number };
}

function mleLoss(
  policy: SequencePolicy,
  images: tf.Tensor4D,
  targets: Int32Array,
  weights: Float32Array | undefined,
  smoothing: number,
): tf.Scalar {
  const b = images.shape[0];
  const l = policy.length;
  const tokens = tokensTensor(targets, [b, l]);
  const w = weights ? tf.tensor2d(weights, [b, l]) : undefined;
  return weightedSoftmaxXent(policy.logProbs(images, tokens), tokens, { weights: w, labelSmoothing: smoothing });
}

/** Mean per-example MLE loss over the held-out set (targets encoded with a fresh RNG from `seed`). */
export async function heldOutLoss<E, P, A>(
  policy: SequencePolicy,
  task: Task<E, P, A>,
  heldOut: readonly Batch<E>[],
  seed: number,
  labelSmoothing = 0,
): Promise<number> {
  const rng = Rng.fromSeed(seed);
  let total = 0;
  let count = 0;
  for (const batch of heldOut) {
    const b = batchSize(batch);
    const img = imagesTensor(batch.images);
    const { targets, weights } = await encodeTargetRows(task, batch.examples, img.tensor, policy.length, rng);
    const loss = tf.tidy(() => mleLoss(policy, img.tensor, targets, weights, labelSmoothing));
    total += (await loss.data())[0] * b;
    count += b;
    loss.dispose();
    if (img.owned) img.tensor.dispose();
  }
  return count > 0 ? total / count : NaN;
}

/** Runs (or resumes) MLE pretraining. */
export async function trainMle<E, P, A>(opts: MleOptions<E, P, A>): Promise<MleResult> {
  const { policy, optimizer, task, config } = opts;
  const smoothing = config.labelSmoothing ?? 0;
  const heldOut = opts.heldOut ?? [];
  const stop = config.earlyStop;
  if (stop && !(config.evalEvery && heldOut.length > 0))
    throw new Error('earlyStop needs evalEvery and a held-out set');
  const now = opts.now ?? Date.now;
  const log = (r: MetricsRecord) => opts.metrics?.log(r);

  let rng = opts.rng;
  let step = 0;
  // Early-stopping bookkeeping, saved in checkpoints: best value (NaN: none yet), its step, evaluations since.
  let book = { bestValue: NaN, bestStep: 0, badEvals: 0 };
  const loaded = await opts.checkpointer?.loadLatest();
  if (loaded) {
    step = loaded.step;
    book = {
      bestValue: loaded.loop.bestValue ?? NaN,
      bestStep: loaded.loop.bestStep ?? 0,
      badEvals: loaded.loop.badEvals ?? 0,
    };
    rng = restoreState(loaded, 'mle', policy, optimizer);
    log({ kind: 'event', phase: 'mle', step, wallTime: now(), event: 'resumed' });
  } else {
    log({ kind: 'event', phase: 'mle', step, wallTime: now(), event: 'start' });
  }
  const save = async () => {
    if (opts.checkpointer) await opts.checkpointer.save(captureState('mle', step, policy, optimizer, rng, book));
  };
  const best = () => (Number.isNaN(book.bestValue) ? undefined : { step: book.bestStep, value: book.bestValue });

  const losses: number[] = [];
  while (step < config.steps) {
    const batch = opts.train(step, rng);
    batchSize(batch);
    const img = imagesTensor(batch.images);
    let result;
    try {
      const { targets, weights } = await encodeTargetRows(task, batch.examples, img.tensor, policy.length, rng);
      result = await gradientStep(policy, optimizer, () => mleLoss(policy, img.tensor, targets, weights, smoothing));
    } finally {
      img.tensor.dispose(); // a training batch is consumed by its step
    }
    if (!result.finite) {
      log({
        kind: 'event',
        phase: 'mle',
        step,
        wallTime: now(),
        event: 'non-finite',
        detail: `loss ${result.loss} at update ${step + 1}; not applied`,
      });
      return { steps: step, stopped: 'non-finite', losses, best: best() };
    }
    step += 1;
    losses.push(result.loss);
    log({ kind: 'train', phase: 'mle', step, wallTime: now(), loss: result.loss });
    opts.progress?.({ phase: 'mle', step, totalSteps: config.steps, loss: result.loss });

    let plateau = false;
    if (heldOut.length > 0 && config.evalEvery && isDue(step, config.evalEvery, config.steps)) {
      const loss = await heldOutLoss(policy, task, heldOut, config.evalSeed ?? 0, smoothing);
      const ev = await evaluateGreedy(policy, task, heldOut);
      log({ kind: 'eval', phase: 'mle', step, wallTime: now(), loss, rewardMean: ev.rewardMean, metrics: ev.metrics });
      if (stop) {
        const value = stop.on === 'loss' ? loss : ev.metrics[stop.key];
        if (value === undefined)
          throw new Error(
            `earlyStop watches metric '${(stop as { key: string }).key}', which task.evaluate does not return`,
          );
        const sign = stop.on === 'metric' && stop.mode === 'max' ? 1 : -1;
        if (Number.isNaN(book.bestValue) || sign * (value - book.bestValue) > (stop.minDelta ?? 0)) {
          book = { bestValue: value, bestStep: step, badEvals: 0 };
        } else {
          book = { ...book, badEvals: book.badEvals + 1 };
          plateau = book.badEvals >= stop.patience;
        }
      }
    }
    const scheduled = plateau || isDue(step, config.checkpointEvery, config.steps);
    if (scheduled) await save();
    if (plateau) {
      log({
        kind: 'event',
        phase: 'mle',
        step,
        wallTime: now(),
        event: 'early-stop',
        detail: `best ${book.bestValue} at update ${book.bestStep}`,
      });
      return { steps: step, stopped: 'early-stop', losses, best: best() };
    }
    if (interruptRequested(opts.signal, step, config.steps)) {
      if (!scheduled) await save();
      log({
        kind: 'event',
        phase: 'mle',
        step,
        wallTime: now(),
        event: 'interrupted',
        detail: interruptDetail(step, opts.checkpointer !== undefined),
      });
      return { steps: step, stopped: 'interrupted', losses, best: best() };
    }
  }
  log({ kind: 'event', phase: 'mle', step, wallTime: now(), event: 'done' });
  return { steps: step, stopped: 'done', losses, best: best() };
}
