/**
 * What the MLE and tuning loops share: the small interfaces the lead wires to core-model's run directory
 * (checkpoints, metrics log, progress bar), an in-memory checkpointer, the gradient step with its non-finite guard,
 * saving/restoring the training state, and greedy held-out evaluation.
 *
 * Dimension legend: B batch, N samples per input, L sequence length, V vocabulary.
 */
import * as tf from '@tensorflow/tfjs-core';
import { addMany, Rng, type Optimizer, type RngState, type SequencePolicy } from '@reward-tune/core-model';
import { batchSize, decodeRows, imagesTensor, type Batch, type Task } from './task';

/** The loops: MLE pretraining, reward tuning, and UViM's stage I oracle (oracle-loop.ts). */
export const PHASES = ['mle', 'tune', 'oracle'] as const;
export type Phase = (typeof PHASES)[number];

/** Everything a resumed run needs to continue exactly where it stopped. */
export interface TrainState {
  readonly phase: Phase;
  /** Updates applied so far. */
  readonly step: number;
  /** Parameter values by name (as in `policy.params`). */
  readonly params: ReadonlyMap<string, tf.Tensor>;
  readonly optimizer: { readonly step: number; readonly tensors: ReadonlyMap<string, tf.Tensor> };
  /** The training stream's RNG (batches, samples). */
  readonly rng: RngState;
  /** Loop bookkeeping (best held-out value, evaluations without improvement, …): plain numbers, JSON-safe. */
  readonly loop: Readonly<Record<string, number>>;
}

/**
 * Where checkpoints go. `save` receives the loop's live tensors: it must copy or write them before its promise
 * resolves, because training continues and changes them. `loadLatest` returns tensors the caller owns; the loops
 * dispose them once restored.
 */
export interface Checkpointer {
  save(state: TrainState): Promise<void>;
  loadLatest(): Promise<TrainState | undefined>;
}

/** One line of `metrics.jsonl`. */
export type MetricsRecord =
  | {
      readonly kind: 'train';
      readonly phase: Phase;
      readonly step: number;
      readonly wallTime: number;
      readonly loss: number;
      /** Tuning: mean and std of the rewards of all B×N samples of the step. */
      readonly rewardMean?: number;
      readonly rewardStd?: number;
      /** Tuning: the terms of the loss. */
      readonly pgLoss?: number;
      readonly kl?: number;
      readonly auxLoss?: number;
      /** Stage I: dead codewords replaced at the step, and the perplexity of the batch's code. */
      readonly splits?: number;
      readonly batchPerplexity?: number;
    }
  | {
      readonly kind: 'eval';
      readonly phase: Phase;
      readonly step: number;
      readonly wallTime: number;
      /** Held-out mean reward of the greedy output (when the task defines a reward for it). */
      readonly rewardMean: number;
      /** MLE: held-out teacher-forced loss. */
      readonly loss?: number;
      /** `task.evaluate` on the held-out set, greedy decoding. */
      readonly metrics: Readonly<Record<string, number>>;
    }
  | {
      readonly kind: 'distribution';
      readonly phase: Phase;
      readonly step: number;
      /** `start` (the MLE policy) or `end` (the tuned policy). */
      readonly label: 'start' | 'end';
      /** Rewards of T=1 samples of the held-out examples. */
      readonly rewards: readonly number[];
    }
  | {
      readonly kind: 'event';
      readonly phase: Phase;
      readonly step: number;
      readonly wallTime: number;
      readonly event: 'start' | 'resumed' | 'aux-warmup' | 'non-finite' | 'early-stop' | 'interrupted' | 'done';
      readonly detail?: string;
    };

export interface MetricsSink {
  log(record: MetricsRecord): void;
}

export interface ProgressInfo {
  readonly phase: Phase;
  readonly step: number;
  readonly totalSteps: number;
  readonly loss: number;
  readonly rewardMean?: number;
  /** Tuning's auxiliary warm-up step (TuneConfig.auxWarmup), while it runs before update 1. */
  readonly warmup?: number;
}
export type Progress = (info: ProgressInfo) => void;

/** The collaborators every loop takes besides the model. */
export interface LoopIo {
  readonly checkpointer?: Checkpointer;
  readonly metrics?: MetricsSink;
  readonly progress?: Progress;
  /** Wall clock in ms (injectable for deterministic logs). */
  readonly now?: () => number;
  /**
   * Aborting it asks the loop to stop cleanly: it is checked after each completed update (and its evaluation and
   * scheduled checkpoint), and then the loop saves a checkpoint of that state, logs an `interrupted` event and returns
   * `stopped: 'interrupted'`. An abort after the last update changes nothing: the run is done.
   */
  readonly signal?: AbortSignal;
}

/** Keeps every state it is given (as copies), for tests and short in-process runs. */
export class MemoryCheckpointer implements Checkpointer {
  private readonly saved: TrainState[] = [];

  get count(): number {
    return this.saved.length;
  }

  async save(state: TrainState): Promise<void> {
    this.saved.push(copyState(state));
  }

  async loadLatest(): Promise<TrainState | undefined> {
    const last = this.saved[this.saved.length - 1];
    return last ? copyState(last) : undefined;
  }

  /** The steps saved so far, oldest first. */
  steps(): number[] {
    return this.saved.map((s) => s.step);
  }

  dispose(): void {
    for (const s of this.saved.splice(0)) disposeState(s);
  }
}

export function copyState(s: TrainState): TrainState {
  const clone = (m: ReadonlyMap<string, tf.Tensor>) => new Map([...m].map(([k, t]) => [k, tf.clone(t)] as const));
  return {
    phase: s.phase,
    step: s.step,
    params: clone(s.params),
    optimizer: { step: s.optimizer.step, tensors: clone(s.optimizer.tensors) },
    rng: [...s.rng] as unknown as RngState,
    loop: { ...s.loop },
  };
}

export function disposeState(s: TrainState): void {
  for (const t of s.params.values()) t.dispose();
  for (const t of s.optimizer.tensors.values()) t.dispose();
}

/** The live state of a run, for `Checkpointer.save` (tensors are the loop's own: not to be disposed). */
export function captureState(
  phase: Phase,
  step: number,
  policy: SequencePolicy,
  optimizer: Optimizer,
  rng: Rng,
  loop: Record<string, number>,
): TrainState {
  return { phase, step, params: policy.params, optimizer: optimizer.getState(), rng: rng.state(), loop: { ...loop } };
}

/** Puts a loaded state into the policy and optimizer, disposes it, and returns the run's RNG. */
export function restoreState(state: TrainState, phase: Phase, policy: SequencePolicy, optimizer: Optimizer): Rng {
  try {
    if (state.phase !== phase) throw new Error(`checkpoint phase is '${state.phase}', expected '${phase}'`);
    for (const [name, v] of policy.params) {
      const t = state.params.get(name);
      if (!t) throw new Error(`checkpoint lacks parameter '${name}'`);
      if (!tf.util.arraysEqual(t.shape, v.shape)) {
        throw new Error(`checkpoint parameter '${name}' has shape [${t.shape}], expected [${v.shape}]`);
      }
      v.assign(t);
    }
    optimizer.setState(state.optimizer);
    return Rng.fromState(state.rng);
  } finally {
    disposeState(state);
  }
}

export interface GradStep {
  readonly loss: number;
  /** Named loss terms read back after the step (e.g. pgLoss, kl). */
  readonly terms: Readonly<Record<string, number>>;
  /** False when the loss or a gradient was NaN or ±∞; the update was then not applied. */
  readonly finite: boolean;
}

/**
 * One optimizer update from `lossFn`, which returns the total loss and any named terms to read back (all scalars).
 * Given several functions (the chunks of a batch too large to differentiate at once, each already weighted by its
 * share of the batch), their gradients, losses and terms are summed (accumulateGradients) and the optimizer applies
 * the sum once. The update is applied only when the loss and every gradient are finite, so a non-finite step leaves
 * the parameters as they were after the last good step.
 */
export async function gradientStep(
  policy: SequencePolicy,
  optimizer: Optimizer,
  lossFn: LossFn | readonly LossFn[],
): Promise<GradStep> {
  // Frozen parameters are left out of the differentiation: tfjs then prunes every op that only leads to them (with
  // a frozen encoder, its whole backward pass); the trainable gradients are the same ops on the same values.
  const names = [...policy.params.keys()].filter((n) => !(optimizer.isFrozen?.(n) ?? false));
  if (names.length === 0) throw new RangeError('every parameter is frozen (lrMults): nothing to update');
  const acc = accumulateGradients(policy, names, typeof lossFn === 'function' ? [lossFn] : lossFn);
  try {
    const sumSq = tf.tidy(() => addMany([tf.scalar(0), ...[...acc.grads.values()].map((g) => tf.sum(tf.square(g)))]));
    const [loss, gradSq, ...termValues] = await Promise.all([
      acc.loss.data(),
      sumSq.data(),
      ...Object.values(acc.terms).map((t) => t.data()),
    ]);
    sumSq.dispose();
    const finite = Number.isFinite(loss[0]) && Number.isFinite(gradSq[0]);
    if (finite) optimizer.apply(policy.params, acc.grads);
    const read: Record<string, number> = {};
    Object.keys(acc.terms).forEach((k, i) => (read[k] = termValues[i][0]));
    return { loss: loss[0], terms: read, finite };
  } finally {
    acc.dispose();
  }
}

export interface AccumulatedGradients {
  /** Summed gradient of each named parameter the losses reach. */
  readonly grads: Map<string, tf.Tensor>;
  readonly loss: tf.Scalar;
  readonly terms: Record<string, tf.Scalar>;
  dispose(): void;
}

/**
 * The sum of the gradients (with respect to the parameters `names`), losses and named terms of `chunks`,
 * differentiated one at a time so that only one chunk's activations are alive at once. The caller disposes.
 */
export function accumulateGradients(
  policy: SequencePolicy,
  names: readonly string[],
  chunks: readonly LossFn[],
): AccumulatedGradients {
  if (chunks.length === 0) throw new RangeError('accumulateGradients needs at least one loss function');
  const vars = names.map((n) => policy.params.get(n) as tf.Variable);
  const grads = new Map<string, tf.Tensor>();
  const terms: Record<string, tf.Scalar> = {};
  let total: tf.Scalar | undefined;
  /** acc + x, disposing both (the first x is kept as it is). */
  const add = <T extends tf.Tensor>(acc: T | undefined, x: T): T => {
    if (acc === undefined) return x;
    const sum = tf.add(acc, x) as T;
    acc.dispose();
    x.dispose();
    return sum;
  };
  const dispose = () => {
    total?.dispose();
    for (const g of grads.values()) g.dispose();
    for (const t of Object.values(terms)) t.dispose();
  };
  try {
    for (const chunk of chunks) {
      const own: Record<string, tf.Scalar> = {};
      const { value, grads: g } = tf.variableGrads(() => {
        const loss = chunk(own);
        // Keep the named terms alive past the gradient tape's tidy.
        for (const k of Object.keys(own)) own[k] = tf.keep(own[k]);
        return loss;
      }, vars);
      total = add(total, value);
      for (const k of Object.keys(own)) terms[k] = add(terms[k], own[k]);
      names.forEach((n, i) => {
        const gi = g[vars[i].name];
        if (gi) grads.set(n, add(grads.get(n), gi));
      });
    }
  } catch (err) {
    dispose();
    throw err;
  }
  return { grads, loss: total as tf.Scalar, terms, dispose };
}

/** A loss to differentiate: returns the loss and puts named terms to read back into `terms`. */
export type LossFn = (terms: Record<string, tf.Scalar>) => tf.Scalar;

export interface HeldOutEval<P> {
  /** Mean reward of the greedy output over the held-out examples. */
  readonly rewardMean: number;
  readonly metrics: Record<string, number>;
  readonly predictions: P[];
}

/** Greedy decoding of every held-out batch, then the task's reward (per example) and official metric (overall). */
export async function evaluateGreedy<E, P, A>(
  policy: SequencePolicy,
  task: Task<E, P, A>,
  heldOut: readonly Batch<E>[],
): Promise<HeldOutEval<P>> {
  const predictions: P[] = [];
  const examples: E[] = [];
  let rewardSum = 0;
  for (const batch of heldOut) {
    const b = batchSize(batch);
    const img = imagesTensor(batch.images);
    try {
      const s = await policy.sample(img.tensor, { numSamples: 1, greedy: true });
      const preds = await decodeRows(task, s.tokens, s.length, img.tensor, batch.examples, 1);
      for (let i = 0; i < b; i++) {
        const ex = batch.examples[i];
        const pred = preds[i];
        rewardSum += task.reward([pred], ex).rewards[0];
        predictions.push(pred);
        examples.push(ex);
      }
    } finally {
      if (img.owned) img.tensor.dispose();
    }
  }
  const n = examples.length;
  return {
    rewardMean: n > 0 ? rewardSum / n : NaN,
    metrics: n > 0 ? task.evaluate(predictions, examples) : {},
    predictions,
  };
}

/** Whether the loop must stop after update number `step` (1-based) of `total` because `signal` was aborted. */
export function interruptRequested(signal: AbortSignal | undefined, step: number, total: number): boolean {
  return signal?.aborted === true && step < total;
}

/** The `detail` of an `interrupted` event: where the run stopped and whether it can be resumed from there. */
export function interruptDetail(step: number, checkpointed: boolean): string {
  return checkpointed
    ? `stopped after update ${step}; checkpoint saved`
    : `stopped after update ${step}; no checkpointer, nothing saved`;
}

/** Whether the action due every `every` steps runs after update number `step` (1-based), always at the last. */
export function isDue(step: number, every: number | undefined, total: number): boolean {
  return (every !== undefined && every > 0 && step % every === 0) || step === total;
}
