/**
 * Reward tuning with REINFORCE from an MLE policy: the loop. One step reads top to bottom:
 * batch → sample N per input (temperature T, 1 by default; no truncation) → decode → reward [B, N] (rollout.ts) →
 * the estimator's rows and advantages (estimators.ts) → teacher-forced log-probs of the sampled tokens under the
 * sampled distribution → −A·log P (+ KL, + aux) → gradients → optimizer (update.ts).
 *
 * Around the steps, this file holds what a run needs: resume from the latest checkpoint (the training stream's RNG
 * included, so a resumed run repeats an uninterrupted one), the non-finite guard, the metrics log, held-out
 * evaluation, periodic checkpoints, the interrupt, the auxiliary loss's warm-up, and the reward distributions
 * before and after.
 *
 * Dimension legend: B batch, N samples per input, L sequence length, V vocabulary.
 */
import { Rng, tokensTensor, type Optimizer, type SequencePolicy } from '@reward-tune/core-model';
import type { TuneConfig } from './config-sections';
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
import {
  BATCH_STREAM,
  jobRng,
  sampleAndReward,
  sampleRewardDistribution,
  WARMUP_STREAM,
  type ScoredSamples,
} from './rollout';
import { batchSize, imagesTensor, type Batch, type BatchSource, type Task } from './task';
import type { ImportancePer } from './reinforce-loss';
import { checkUpdateConfig, update, type PartRng } from './update';

export type { TuneConfig } from './config-sections';
export type { Estimator } from './estimators';

export interface TuneOptions<E, P, A> extends LoopIo {
  readonly policy: SequencePolicy;
  readonly optimizer: Optimizer;
  readonly task: Task<E, P, A>;
  readonly train: BatchSource<E>;
  readonly heldOut?: readonly Batch<E>[];
  /** The training stream (batches and samples); replaced by the checkpoint's on resume. */
  readonly rng: Rng;
  /** The `tune` section (config-sections.ts), or any part of it with `steps` and `numSamples`. */
  readonly config: TuneConfig;
  /** Frozen reference policy for the KL penalty (the MLE model); required when klCoef > 0. */
  readonly reference?: SequencePolicy;
  /** The optimizer of the auxiliary warm-up (TuneConfig.auxWarmup); required when that is > 0. */
  readonly warmupOptimizer?: Optimizer;
  /**
   * Where the samples come from when not from here (distributed tuning: actors on other processes); needs
   * TuneConfig.seedDerivation 'per-job', so that they are the samples this loop would have drawn.
   */
  readonly rollouts?: RolloutSource<E, A>;
  /** Importance weights for samples of an older policy (UpdateContext.importanceClip); with `rollouts` only. */
  readonly importanceClip?: number;
  /** Per row or per token (UpdateContext.importancePer). */
  readonly importancePer?: ImportancePer;
}

/** An update's batch and samples, drawn elsewhere (TuneOptions.rollouts). */
export interface RolloutSource<E, A> {
  /**
   * Update `step`'s batch (drawn with `jobRng(base, step, BATCH_STREAM)`, `base` the run's RNG state) and the
   * samples of each of its `microBatch`-input parts (part i with `jobRng(base, step, i)`), asked for when the policy
   * has had `step` updates. `stats` go into the step's train record.
   */
  take(step: number): Promise<{
    readonly batch: Batch<E>;
    readonly shards: readonly ScoredSamples<A>[];
    readonly stats?: RolloutStats;
  }>;
}

/** What a RolloutSource reports with a step (numbers, or numbers by name, e.g. by actor). */
export type RolloutStats = Readonly<Record<string, number | Readonly<Record<string, number>>>>;

export interface TuneResult {
  /** Updates applied in total (including those before a resume). */
  readonly steps: number;
  /**
   * `interrupted`: `signal` was aborted; the state after the last update is checkpointed (when a checkpointer is
   * set).
   */
  readonly stopped: 'done' | 'non-finite' | 'interrupted';
  /** Per-update total loss of the updates this call ran. */
  readonly losses: number[];
}

/** Runs (or resumes) reward tuning; see the file comment for the step. */
export async function tune<E, P, A>(opts: TuneOptions<E, P, A>): Promise<TuneResult> {
  const { policy, optimizer, config } = opts;
  const klCoef = config.klCoef ?? 0;
  checkUpdateConfig(config, opts.task);
  if (klCoef > 0 && !opts.reference) throw new Error('klCoef > 0 needs a reference policy');
  const now = opts.now ?? Date.now;
  const log = (r: MetricsRecord) => opts.metrics?.log(r);
  const heldOut = opts.heldOut ?? [];
  const perJob = config.seedDerivation === 'per-job';
  if (opts.rollouts && !perJob)
    throw new Error("samples drawn elsewhere (rollouts) need tune.seedDerivation 'per-job'");

  let rng = opts.rng;
  let step = 0;
  const loaded = await opts.checkpointer?.loadLatest();
  if (loaded) {
    step = loaded.step;
    rng = restoreState(loaded, 'tune', policy, optimizer);
    log({ kind: 'event', phase: 'tune', step, wallTime: now(), event: 'resumed' });
  } else {
    log({ kind: 'event', phase: 'tune', step, wallTime: now(), event: 'start' });
    await logDistribution(opts, 'start', step);
    if (heldOut.length > 0 && config.evalEvery) await logEval(opts, step, now);
    // Per job, the run's RNG is never drawn from: it is the seed every piece derives its own from (jobRng).
    const warmupRng = perJob ? jobRng(rng.state(), 0, WARMUP_STREAM) : rng;
    if ((config.auxWarmup ?? 0) > 0 && !(await warmUpAux(opts, warmupRng, now)))
      return { steps: 0, stopped: 'non-finite', losses: [] };
  }

  const losses: number[] = [];
  const base = rng.state();
  while (step < config.steps) {
    const k = step;
    const taken = await opts.rollouts?.take(k);
    const batch = taken?.batch ?? opts.train(k, perJob ? jobRng(base, k, BATCH_STREAM) : rng);
    const partRng: PartRng = perJob ? (part) => jobRng(base, k, part) : rng;
    const img = imagesTensor(batch.images);
    try {
      const { result, rewards, importance } = await update(
        { ...opts, importanceClip: opts.rollouts ? opts.importanceClip : undefined },
        img.tensor,
        batch.examples,
        partRng,
        taken?.shards,
      );
      if (!result.finite) {
        log({
          kind: 'event',
          phase: 'tune',
          step,
          wallTime: now(),
          event: 'non-finite',
          detail: `loss ${result.loss} at update ${step + 1}; not applied`,
        });
        return { steps: step, stopped: 'non-finite', losses };
      }
      step += 1;
      losses.push(result.loss);
      const mean = rewards.reduce((s, x) => s + x, 0) / rewards.length;
      const std = Math.sqrt(rewards.reduce((s, x) => s + (x - mean) ** 2, 0) / rewards.length);
      log({
        kind: 'train',
        phase: 'tune',
        step,
        wallTime: now(),
        loss: result.loss,
        rewardMean: mean,
        rewardStd: std,
        ...result.terms,
        ...importance,
        ...taken?.stats,
      });
      opts.progress?.({ phase: 'tune', step, totalSteps: config.steps, loss: result.loss, rewardMean: mean });
    } finally {
      img.tensor.dispose(); // a training batch is consumed by its step
    }
    if (heldOut.length > 0 && config.evalEvery && isDue(step, config.evalEvery, config.steps))
      await logEval(opts, step, now);
    const scheduled = isDue(step, config.checkpointEvery, config.steps);
    const interrupted = interruptRequested(opts.signal, step, config.steps);
    if (opts.checkpointer && (scheduled || interrupted)) {
      await opts.checkpointer.save(captureState('tune', step, policy, optimizer, rng, {}));
    }
    if (interrupted) {
      log({
        kind: 'event',
        phase: 'tune',
        step,
        wallTime: now(),
        event: 'interrupted',
        detail: interruptDetail(step, opts.checkpointer !== undefined),
      });
      return { steps: step, stopped: 'interrupted', losses };
    }
  }
  await logDistribution(opts, 'end', step);
  log({ kind: 'event', phase: 'tune', step, wallTime: now(), event: 'done' });
  return { steps: step, stopped: 'done', losses };
}

/**
 * TuneConfig.auxWarmup: the auxiliary loss alone, in its scope (auxLossScope), before the first update. Returns
 * false (after logging it) when a step's loss is not finite; nothing is applied from that step.
 */
async function warmUpAux<E, P, A>(opts: TuneOptions<E, P, A>, rng: Rng, now: () => number): Promise<boolean> {
  const { policy, task, config } = opts;
  const steps = config.auxWarmup ?? 0;
  const auxLoss = task.auxLoss?.bind(task);
  const logProbs = config.auxLossScope === 'head' ? policy.headLogProbs?.bind(policy) : policy.logProbs.bind(policy);
  if (!auxLoss) throw new Error('auxWarmup needs a task with an auxLoss');
  if (!logProbs) throw new Error("auxLossScope 'head' needs a policy with headLogProbs");
  if (!opts.warmupOptimizer) throw new Error('auxWarmup > 0 needs a warmupOptimizer');
  const losses: number[] = [];
  for (let k = 0; k < steps && !opts.signal?.aborted; k++) {
    const batch = opts.train(k, rng);
    const img = imagesTensor(batch.images);
    try {
      const s = await sampleAndReward(policy, task, img.tensor, batch.examples, 1, {}, rng, config.temperature);
      const tokens = tokensTensor(s.tokens, [batchSize(batch), s.length]);
      try {
        const result = await gradientStep(policy, opts.warmupOptimizer, (terms) => {
          terms.auxLoss = auxLoss(logProbs(img.tensor, tokens), tokens, s.aux as A[]);
          return terms.auxLoss;
        });
        if (!result.finite) {
          opts.metrics?.log({
            kind: 'event',
            phase: 'tune',
            step: 0,
            wallTime: now(),
            event: 'non-finite',
            detail: `aux warm-up loss ${result.loss} at warm-up step ${k + 1}; not applied`,
          });
          return false;
        }
        losses.push(result.loss);
        opts.progress?.({ phase: 'tune', step: 0, totalSteps: config.steps, loss: result.loss, warmup: k + 1 });
      } finally {
        tokens.dispose();
      }
    } finally {
      img.tensor.dispose(); // a training batch is consumed by its step, as in the loop
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length);
  const w = Math.min(10, losses.length);
  const detail = `aux loss ${mean(losses.slice(0, w)).toFixed(4)} → ${mean(losses.slice(-w)).toFixed(4)} (mean of the first and last ${w} of ${losses.length} steps)`;
  opts.metrics?.log({ kind: 'event', phase: 'tune', step: 0, wallTime: now(), event: 'aux-warmup', detail });
  return true;
}

async function logEval<E, P, A>(opts: TuneOptions<E, P, A>, step: number, now: () => number): Promise<void> {
  const ev = await evaluateGreedy(opts.policy, opts.task, opts.heldOut ?? []);
  opts.metrics?.log({
    kind: 'eval',
    phase: 'tune',
    step,
    wallTime: now(),
    rewardMean: ev.rewardMean,
    metrics: ev.metrics,
  });
}

async function logDistribution<E, P, A>(
  opts: TuneOptions<E, P, A>,
  label: 'start' | 'end',
  step: number,
): Promise<void> {
  const k = opts.config.distributionSamples ?? 0;
  if (k <= 0 || !opts.heldOut?.length || !opts.metrics) return;
  const rewards = await sampleRewardDistribution(
    opts.policy,
    opts.task,
    opts.heldOut,
    k,
    Rng.fromSeed(opts.config.distributionSeed ?? 0),
  );
  opts.metrics.log({ kind: 'distribution', phase: 'tune', step, label, rewards: Array.from(rewards) });
}
