/**
 * Reward tuning with REINFORCE from an MLE policy. One step reads top to bottom:
 * batch → sample N per input (temperature T, 1 by default; no truncation) → decode → reward [B, N] → baseline →
 * advantages → teacher-forced log-probs of the sampled tokens under the sampled distribution → −A·log P (+ KL,
 * + aux) → gradients → optimizer.
 *
 * Estimators (the rows that carry the gradient, and their baseline):
 * - `paper` (default, big_vision detection_reward.py): only sample 0 of each input; baseline = mean reward of the
 *   other N−1 samples; advantage not normalised; loss averaged over all B×L token positions.
 * - `rloo`: all N samples, each against the mean of the other N−1.
 * - `greedy` (self-critical): all N samples, each against the reward of the input's greedy output.
 * - `rtg` (reward to go): all N samples, one advantage per token: the reward the sample collects from that token on
 *   (the task splits it over tokens, `RewardResult.tokenRewards`), against the same quantity's mean over the other
 *   N−1 samples (advantages.ts). A token's gradient no longer carries the outcome of what was drawn before it.
 * - `expected`: `rtg`, except at the positions where the task gives the value of every token
 *   (`RewardResult.tokenValues`: what the sample's own step would collect had that token been drawn instead, the
 *   rest of the sample as drawn). There the gradient is the exact expectation over the token, Σ_v ∇π(v)·Q(v)
 *   (losses.ts `expectedValueLoss`), instead of one drawn token's (Q(y) − baseline)·∇log π(y): no sampling noise
 *   from that token at all. Biased twice over (a token is credited only with its own step's value, as `rtg` at
 *   discount 0, and the step's later tokens stay as drawn rather than following it), in exchange for much less
 *   noise.
 * The first four baselines are independent of the sample they are subtracted from, so those four are unbiased
 * (`rtg` at its default discount 1; a smaller one trades bias for less noise).
 *
 * Dimension legend: B batch, N samples per input, R rows carrying the gradient, L sequence length, V vocabulary.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, scoreRows, tokensTensor, type Optimizer, type SequencePolicy } from '@reward-tune/core-model';
import { paperAdvantages, rewardToGoAdvantages, rlooAdvantages } from './advantages';
import { expectedValueLoss, klPenalty, policyGradientLoss, selectTokenLogProbs, type PgReduction } from './losses';
import {
  captureState,
  evaluateGreedy,
  gradientStep,
  interruptDetail,
  interruptRequested,
  isDue,
  restoreState,
  type GradStep,
  type LoopIo,
  type LossFn,
  type MetricsRecord,
} from './loop';
import { batchSize, imagesTensor, type Batch, type BatchSource, type Task } from './task';

export type Estimator = 'paper' | 'rloo' | 'greedy' | 'rtg' | 'expected';

export interface TuneConfig {
  /** Total updates (a resumed run continues up to this count). */
  readonly steps: number;
  /** N samples per input (≥ 2 for `paper`, `rloo`, `rtg` and `expected`). */
  readonly numSamples: number;
  readonly estimator?: Estimator;
  /** Centre and scale the step's advantages to unit std (off in the paper; not with `expected`). */
  readonly normalizeAdvantages?: boolean;
  /**
   * `rtg`, and `expected` where it does not enumerate: discount γ of a reward d steps later, γ^d, a step being
   * `task.tokensPerStep` tokens (default 1, unbiased; < 1 trades bias for less noise).
   */
  readonly discount?: number;
  /**
   * Sampling temperature T of the training samples (default 1, the model's own distribution). The policy gradient
   * then re-scores them under that same distribution, softmax(logits / T), so it stays unbiased: for the expected
   * reward of the tempered policy, whose greedy output is the model's. T < 1 draws samples nearer the greedy output
   * the evaluation decodes. The KL and auxiliary terms use the model's own log-probs.
   */
  readonly temperature?: number;
  /** `token` (paper: mean over all R×L positions) or `sequence` (sum over L, mean over R). */
  readonly reduction?: PgReduction;
  /** Weight of the per-token KL penalty to `reference` (0 = off, the paper). */
  readonly klCoef?: number;
  /** Weight of `task.auxLoss` when the task has one (detection: 0.3). */
  readonly auxLossWeight?: number;
  /**
   * What the auxiliary loss may train: `model` (every parameter, the paper) or `head` (only the output layer, via
   * head-only log-probs, which core-model's `scoreRows` reads off the same forward pass): a read-out of the features
   * the reward shapes, which then cannot pull those features away from the reward.
   */
  readonly auxLossScope?: 'model' | 'head';
  /**
   * Steps of the auxiliary loss alone before the first update (0 = none): each samples one output per input of a
   * training batch and trains `task.auxLoss` in `auxLossScope` with `TuneOptions.warmupOptimizer`. Detection's
   * confidence starts untrained after MLE (p(confidence 1) ≈ 0, a loss of several nats) and the tuning rate barely
   * moves it; the warm-up fits it first. A resumed run does not warm up again; an interrupt ends the warm-up early.
   */
  readonly auxWarmup?: number;
  /**
   * Inputs sampled and differentiated at a time (default: the whole batch); the chunks' gradients are summed into
   * one update, equal to the whole batch's. For batches larger than the backend's memory allows (wasm: a few hundred
   * rows).
   */
  readonly microBatch?: number;
  /** Held-out greedy evaluation every this many updates (and after the last). */
  readonly evalEvery?: number;
  readonly checkpointEvery?: number;
  /** T=1 samples per held-out example for the start/end reward distributions (0 = skip). */
  readonly distributionSamples?: number;
  /** Seed of the distribution sampling, kept apart from the training stream so it does not change training. */
  readonly distributionSeed?: number;
}

export interface TuneOptions<E, P, A> extends LoopIo {
  readonly policy: SequencePolicy;
  readonly optimizer: Optimizer;
  readonly task: Task<E, P, A>;
  readonly train: BatchSource<E>;
  readonly heldOut?: readonly Batch<E>[];
  /** The training stream (batches and samples); replaced by the checkpoint's on resume. */
  readonly rng: Rng;
  readonly config: TuneConfig;
  /** Frozen reference policy for the KL penalty (the MLE model); required when klCoef > 0. */
  readonly reference?: SequencePolicy;
  /** The optimizer of the auxiliary warm-up (TuneConfig.auxWarmup); required when that is > 0. */
  readonly warmupOptimizer?: Optimizer;
}

export interface TuneResult {
  /** Updates applied in total (including those before a resume). */
  readonly steps: number;
  /** `interrupted`: `signal` was aborted; the state after the last update is checkpointed (when a checkpointer is set). */
  readonly stopped: 'done' | 'non-finite' | 'interrupted';
  /** Per-update total loss of the updates this call ran. */
  readonly losses: number[];
}

/**
 * The rows [R] (indices into the flattened B×N samples) that carry the gradient, and their advantages: [R], or
 * [R, L] (one per token) for `rtg` and `expected` (0 where `expected` takes the exact expectation instead).
 */
export interface GradientRows {
  readonly rows: Int32Array;
  readonly advantages: Float64Array;
}

/** Which samples carry the gradient and with which advantage, for each estimator. */
export function estimatorRows(
  estimator: Estimator,
  rewards: Float64Array,
  batch: number,
  samples: number,
  greedyRewards?: Float64Array,
  tokenRewards?: {
    readonly values: Float64Array;
    readonly length: number;
    readonly discount?: number;
    readonly tokensPerStep?: number;
    /** [B, N, L] `expected` only: 1 where the task enumerated the token's values. */
    readonly enumerated?: Uint8Array;
  },
): GradientRows {
  switch (estimator) {
    case 'paper':
      return { rows: Int32Array.from({ length: batch }, (_, b) => b * samples), advantages: paperAdvantages(rewards, batch, samples) };
    case 'rloo':
      return { rows: Int32Array.from({ length: batch * samples }, (_, i) => i), advantages: rlooAdvantages(rewards, batch, samples) };
    case 'greedy': {
      if (!greedyRewards || greedyRewards.length !== batch) throw new RangeError(`greedy estimator needs ${batch} greedy rewards`);
      if (rewards.length !== batch * samples) throw new RangeError(`rewards has ${rewards.length} values, expected ${batch}×${samples}`);
      const adv = new Float64Array(batch * samples);
      for (let i = 0; i < adv.length; i++) adv[i] = rewards[i] - greedyRewards[Math.floor(i / samples)];
      return { rows: Int32Array.from({ length: batch * samples }, (_, i) => i), advantages: adv };
    }
    case 'rtg':
    case 'expected': {
      if (!tokenRewards) throw new RangeError(`the ${estimator} estimator needs per-token rewards (the task's reward must return tokenRewards)`);
      const t = tokenRewards;
      const advantages = rewardToGoAdvantages(t.values, batch, samples, t.length, t.discount, t.tokensPerStep);
      if (estimator === 'expected') {
        if (t.enumerated?.length !== advantages.length) throw new RangeError(`the expected estimator needs ${advantages.length} enumerated flags, got ${t.enumerated?.length}`);
        t.enumerated.forEach((e, i) => e && (advantages[i] = 0));
      }
      return { rows: Int32Array.from({ length: batch * samples }, (_, i) => i), advantages };
    }
  }
}

/** (a − mean)/std over the step's advantages; all zero when they are all equal. */
export function normalizeAdvantages(a: Float64Array): Float64Array {
  const n = a.length;
  if (n === 0) return a;
  const mean = a.reduce((s, x) => s + x, 0) / n;
  const std = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
  return a.map((x) => (std > 1e-12 ? (x - mean) / std : 0));
}

export interface ReinforceLossInput<A> {
  /** [B, H, W, C] the rows' images. */
  readonly images: tf.Tensor4D;
  /** [R] the image of each row (index into `images`); absent: row r is image r. */
  readonly rowImages?: Int32Array;
  /** [R, L] the sampled tokens of each row. */
  readonly tokens: tf.Tensor2D;
  /** [R] advantages, or [R, L] (one per token, `rtg` and `expected`). */
  readonly advantages: Float64Array;
  /** [R, L, V] `expected` only: the enumerated tokens' values, 0 at the positions not enumerated. */
  readonly tokenValues?: Float32Array;
  readonly reduction: PgReduction;
  /** The temperature the rows were sampled at (TuneConfig.temperature; default 1). */
  readonly temperature?: number;
  /** [R, L] log π_ref of the tokens, with its weight. */
  readonly kl?: { readonly coef: number; readonly refTokenLogProbs: tf.Tensor2D };
  readonly aux?: {
    readonly weight: number;
    readonly loss: NonNullable<Task<unknown, unknown, A>['auxLoss']>;
    readonly values: readonly A[];
    /** Score the rows again with gradients to the output layer only (TuneConfig.auxLossScope 'head'). */
    readonly headOnly?: boolean;
  };
}

/**
 * The tuning loss of one step, to call inside a gradient tape: re-scores the rows' tokens teacher-forced (the same
 * logits processors as the sampler) and adds the optional KL and auxiliary terms. Named terms go into `terms`.
 */
export function reinforceLoss<A>(policy: SequencePolicy, input: ReinforceLossInput<A>, terms: Record<string, tf.Scalar> = {}): tf.Scalar {
  // One pass for both where the policy can: each image encoded once, the head-only aux log-probs from the same features.
  const head = input.aux !== undefined && input.aux.weight > 0 && input.aux.headOnly === true;
  const scores = scoreRows(policy, input.images, input.tokens, { rowImages: input.rowImages, head });
  const logProbs = scores.logProbs; // [R, L, V]
  const [r, l] = input.tokens.shape;
  const adv = input.advantages.length === r ? tf.tensor1d(Float32Array.from(input.advantages)) : tf.tensor2d(Float32Array.from(input.advantages), [r, l]);
  // log softmax(z/T) = log softmax(log softmax(z)/T): the softmax forgets the shift. Masked tokens stay ≈ −∞.
  const t = input.temperature ?? 1;
  const sampledLogProbs = t === 1 ? logProbs : tf.logSoftmax(tf.div<tf.Tensor3D>(logProbs, t));
  let pg = policyGradientLoss(sampledLogProbs, input.tokens, adv, input.reduction);
  if (input.tokenValues) pg = tf.add(pg, expectedValueLoss(sampledLogProbs, tf.tensor3d(input.tokenValues, logProbs.shape), input.reduction));
  terms.pgLoss = pg;
  let loss: tf.Scalar = pg;
  if (input.kl && input.kl.coef > 0) {
    const kl = klPenalty(logProbs, input.tokens, input.kl.refTokenLogProbs);
    terms.kl = kl;
    loss = tf.add(loss, tf.mul(kl, input.kl.coef));
  }
  if (input.aux && input.aux.weight > 0) {
    const aux = input.aux.loss(scores.headLogProbs ?? logProbs, input.tokens, input.aux.values);
    terms.auxLoss = aux;
    loss = tf.add(loss, tf.mul(aux, input.aux.weight));
  }
  return loss;
}

/** Runs (or resumes) reward tuning; see the file comment for the step. */
export async function tune<E, P, A>(opts: TuneOptions<E, P, A>): Promise<TuneResult> {
  const { policy, optimizer, config } = opts;
  const klCoef = config.klCoef ?? 0;
  checkUpdateConfig(config);
  if (klCoef > 0 && !opts.reference) throw new Error('klCoef > 0 needs a reference policy');
  const now = opts.now ?? Date.now;
  const log = (r: MetricsRecord) => opts.metrics?.log(r);
  const heldOut = opts.heldOut ?? [];

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
    if ((config.auxWarmup ?? 0) > 0 && !(await warmUpAux(opts, rng, now))) return { steps: 0, stopped: 'non-finite', losses: [] };
  }

  const losses: number[] = [];
  while (step < config.steps) {
    const batch = opts.train(step, rng);
    const img = imagesTensor(batch.images);
    try {
      const { result, rewards } = await update(opts, img.tensor, batch.examples, rng);
      if (!result.finite) {
        log({ kind: 'event', phase: 'tune', step, wallTime: now(), event: 'non-finite', detail: `loss ${result.loss} at update ${step + 1}; not applied` });
        return { steps: step, stopped: 'non-finite', losses };
      }
      step += 1;
      losses.push(result.loss);
      const mean = rewards.reduce((s, x) => s + x, 0) / rewards.length;
      const std = Math.sqrt(rewards.reduce((s, x) => s + (x - mean) ** 2, 0) / rewards.length);
      log({ kind: 'train', phase: 'tune', step, wallTime: now(), loss: result.loss, rewardMean: mean, rewardStd: std, ...result.terms });
      opts.progress?.({ phase: 'tune', step, totalSteps: config.steps, loss: result.loss, rewardMean: mean });
    } finally {
      img.tensor.dispose(); // a training batch is consumed by its step
    }
    if (heldOut.length > 0 && config.evalEvery && isDue(step, config.evalEvery, config.steps)) await logEval(opts, step, now);
    const scheduled = isDue(step, config.checkpointEvery, config.steps);
    const interrupted = interruptRequested(opts.signal, step, config.steps);
    if (opts.checkpointer && (scheduled || interrupted)) {
      await opts.checkpointer.save(captureState('tune', step, policy, optimizer, rng, {}));
    }
    if (interrupted) {
      log({ kind: 'event', phase: 'tune', step, wallTime: now(), event: 'interrupted', detail: interruptDetail(step, opts.checkpointer !== undefined) });
      return { steps: step, stopped: 'interrupted', losses };
    }
  }
  await logDistribution(opts, 'end', step);
  log({ kind: 'event', phase: 'tune', step, wallTime: now(), event: 'done' });
  return { steps: step, stopped: 'done', losses };
}

/**
 * One update from a batch: its loss inputs (updateInputs), then gradientStep over their chunks, each chunk's loss and
 * terms weighted by its share of the rows, so that the chunks' summed gradient is the whole batch's.
 */
async function update<E, P, A>(
  opts: TuneOptions<E, P, A>,
  batchImages: tf.Tensor4D,
  examples: readonly E[],
  rng: Rng,
): Promise<{ readonly result: GradStep; readonly rewards: Float64Array }> {
  const { policy } = opts;
  const step = await updateInputs(opts, batchImages, examples, rng);
  try {
    // A whole batch is one chunk of share 1: multiplying by 1 is exact, so it updates as it always did.
    const chunks = step.chunks.map(({ share, input }): LossFn => (terms) => {
      const own: Record<string, tf.Scalar> = {};
      const loss = reinforceLoss(policy, input, own);
      for (const [k, t] of Object.entries(own)) terms[k] = tf.mul(t, share);
      return tf.mul(loss, share) as tf.Scalar;
    });
    return { result: await gradientStep(policy, opts.optimizer, chunks), rewards: step.rewards };
  } finally {
    step.dispose();
  }
}

export interface UpdateInputs<A> {
  /** [B, N] rewards of every sample. */
  readonly rewards: Float64Array;
  /** The tuning loss's inputs, `microBatch` inputs' rows per chunk, with each chunk's share of the rows. */
  readonly chunks: readonly { readonly share: number; readonly input: ReinforceLossInput<A> }[];
  dispose(): void;
}

/**
 * What one update differentiates, from a batch: N samples per input, their rewards, the estimator's rows and
 * advantages, and the loss inputs of those rows (tokens, images, the reference's log-probs for the KL term, the
 * auxiliary values). Sampling goes `microBatch` inputs at a time (the whole batch by default), and so do the chunks,
 * so a batch larger than the backend's memory allows still makes one update.
 */
export async function updateInputs<E, P, A>(
  opts: Pick<TuneOptions<E, P, A>, 'policy' | 'task' | 'config' | 'reference'>,
  batchImages: tf.Tensor4D,
  examples: readonly E[],
  rng: Rng,
): Promise<UpdateInputs<A>> {
  const { policy, task, config } = opts;
  const estimator = config.estimator ?? 'paper';
  const klCoef = config.klCoef ?? 0;
  const n = config.numSamples;
  const b = examples.length;
  checkUpdateConfig(config);
  const micro = Math.min(config.microBatch ?? b, b);
  const made: tf.Tensor[] = [];
  const dispose = () => tf.dispose(made);
  try {
    const parts: { readonly first: number; readonly images: tf.Tensor4D; readonly scored: ScoredSamples<A> }[] = [];
    for (let start = 0; start < b; start += micro) {
      const count = Math.min(micro, b - start);
      const images = count === b ? batchImages : tf.slice(batchImages, [start, 0, 0, 0], [count, -1, -1, -1]);
      if (images !== batchImages) made.push(images);
      const want = { greedy: estimator === 'greedy', tokenRewards: estimator === 'rtg' || estimator === 'expected', tokenValues: estimator === 'expected' };
      const scored = await sampleAndReward(policy, task, images, examples.slice(start, start + count), n, want, rng, config.temperature);
      parts.push({ first: start * n, images, scored });
    }
    const l = parts[0].scored.length;
    const rewards = concat(parts.map((p) => p.scored.rewards), (n) => new Float64Array(n));
    const greedyRewards = estimator === 'greedy' ? concat(parts.map((p) => p.scored.greedyRewards ?? new Float64Array()), (n) => new Float64Array(n)) : undefined;
    const tokenRewards =
      estimator === 'rtg' || estimator === 'expected'
        ? {
            values: concat(parts.map((p) => p.scored.tokenRewards ?? new Float64Array()), (n) => new Float64Array(n)),
            length: l,
            discount: config.discount,
            tokensPerStep: task.tokensPerStep,
            enumerated: estimator === 'expected' ? concat(parts.map((p) => p.scored.tokenValues?.enumerated ?? new Uint8Array()), (n) => new Uint8Array(n)) : undefined,
          }
        : undefined;
    const picked = estimatorRows(estimator, rewards, b, n, greedyRewards, tokenRewards);
    // Advantages per row (1) or per token (L).
    const per = picked.advantages.length / picked.rows.length;
    const advantages = config.normalizeAdvantages ? normalizeAdvantages(picked.advantages) : picked.advantages;
    const auxLoss = task.auxLoss?.bind(task);
    const chunks = parts.map((part) => {
      // This part's rows: k indexes the step's rows, local the part's own samples.
      const ks = Array.from(picked.rows.keys()).filter((k) => picked.rows[k] >= part.first && picked.rows[k] < part.first + part.scored.rewards.length);
      const local = ks.map((k) => picked.rows[k] - part.first);
      const tokens = tokensTensor(rowsOf(part.scored.tokens, l, local, (n) => new Int32Array(n)), [ks.length, l]);
      made.push(tokens);
      // Row r is sample r mod N of input ⌊r/N⌋ (paper: row b is input b, so the images serve as they are).
      const images = part.images;
      const rowImages = estimator === 'paper' ? undefined : Int32Array.from(local, (row) => Math.floor(row / n));
      let kl: ReinforceLossInput<A>['kl'];
      if (klCoef > 0 && opts.reference) {
        const ref = opts.reference;
        const refTokenLogProbs = tf.tidy(() => selectTokenLogProbs(scoreRows(ref, images, tokens, { rowImages }).logProbs, tokens));
        made.push(refTokenLogProbs);
        kl = { coef: klCoef, refTokenLogProbs };
      }
      const auxWeight = config.auxLossWeight ?? 1;
      const input: ReinforceLossInput<A> = {
        images,
        rowImages,
        tokens,
        advantages: rowsOf(advantages, per, ks, (n) => new Float64Array(n)),
        tokenValues: part.scored.tokenValues && rowsOf(part.scored.tokenValues.values, l * part.scored.tokenValues.vocab, local, (n) => new Float32Array(n)),
        reduction: config.reduction ?? 'token',
        temperature: config.temperature,
        kl,
        aux:
          auxLoss && auxWeight > 0
            ? { weight: auxWeight, loss: auxLoss, values: local.map((row) => part.scored.aux[row] as A), headOnly: config.auxLossScope === 'head' }
            : undefined,
      };
      return { share: ks.length / picked.rows.length, input };
    });
    return { rewards, chunks, dispose };
  } catch (err) {
    dispose();
    throw err;
  }
}

/**
 * What an update needs of the config: a baseline sample for the leave-one-out estimators, unnormalised advantages for
 * `expected`, a positive microBatch and temperature.
 */
function checkUpdateConfig(config: TuneConfig): void {
  const t = config.temperature;
  if (t !== undefined && !(t > 0 && Number.isFinite(t))) throw new RangeError(`temperature must be a positive number, got ${t}`);
  const estimator = config.estimator ?? 'paper';
  const n = config.numSamples;
  if (estimator !== 'greedy' && n < 2) throw new RangeError(`estimator '${estimator}' needs numSamples ≥ 2, got ${n}`);
  // Normalising would rescale the drawn tokens' advantages but not the enumerated tokens' values beside them.
  if (estimator === 'expected' && config.normalizeAdvantages) throw new RangeError("estimator 'expected' does not combine with normalizeAdvantages");
  const m = config.microBatch;
  if (m !== undefined && !(Number.isInteger(m) && m >= 1)) throw new RangeError(`microBatch must be a positive integer, got ${m}`);
}

/** Rows `rows` of a row-major array of `rowSize`-value rows, in that order, in an array made by `make`. */
function rowsOf<T extends Float64Array | Float32Array | Int32Array>(values: T, rowSize: number, rows: readonly number[], make: (length: number) => T): T {
  const out = make(rows.length * rowSize);
  rows.forEach((row, k) => out.set(values.subarray(row * rowSize, (row + 1) * rowSize), k * rowSize));
  return out;
}

/** The parts end to end, in an array made by `make`. */
function concat<T extends Float64Array | Float32Array | Uint8Array>(parts: readonly T[], make: (length: number) => T): T {
  const out = make(parts.reduce((s, p) => s + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
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
          opts.metrics?.log({ kind: 'event', phase: 'tune', step: 0, wallTime: now(), event: 'non-finite', detail: `aux warm-up loss ${result.loss} at warm-up step ${k + 1}; not applied` });
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

interface ScoredSamples<A> {
  /** [B, N, L] */
  readonly tokens: Int32Array;
  readonly length: number;
  /** [B, N] */
  readonly rewards: Float64Array;
  /** [B·N] per-sample aux from the reward (undefined where the task gives none). */
  readonly aux: (A | undefined)[];
  /** [B] reward of each input's greedy output (self-critical baseline only). */
  readonly greedyRewards?: Float64Array;
  /** [B, N, L] the task's per-token split of each reward (`rtg` and `expected`). */
  readonly tokenRewards?: Float64Array;
  /** `expected` only: the task's token values [B, N, L, V] and which positions it enumerated [B, N, L]. */
  readonly tokenValues?: { readonly values: Float32Array; readonly enumerated: Uint8Array; readonly vocab: number };
}

/**
 * N samples per input at temperature T without truncation, decoded and rewarded; plus, if asked, the greedy output's
 * reward and the task's per-token rewards.
 */
async function sampleAndReward<E, P, A>(
  policy: SequencePolicy,
  task: Task<E, P, A>,
  images: tf.Tensor4D,
  examples: readonly E[],
  n: number,
  want: { readonly greedy?: boolean; readonly tokenRewards?: boolean; readonly tokenValues?: boolean },
  rng: Rng,
  temperature = 1,
): Promise<ScoredSamples<A>> {
  const b = examples.length;
  const sampled = await policy.sample(images, { numSamples: n, temperature, topK: 0, topP: 0, rng });
  const l = sampled.length;
  const rewards = new Float64Array(b * n);
  const aux: (A | undefined)[] = new Array(b * n);
  const tokenRewards = want.tokenRewards ? new Float64Array(b * n * l) : undefined;
  let tokenValues: ScoredSamples<A>['tokenValues'];
  for (let i = 0; i < b; i++) {
    const ex = examples[i];
    const preds: P[] = [];
    for (let j = 0; j < n; j++) preds.push(task.decode(sampled.tokens.slice((i * n + j) * l, (i * n + j + 1) * l), ex));
    const r = task.reward(preds, ex, { tokenRewards: want.tokenRewards, tokenValues: want.tokenValues });
    if (r.rewards.length !== n) throw new RangeError(`task.reward returned ${r.rewards.length} rewards for ${n} samples`);
    rewards.set(r.rewards, i * n);
    for (let j = 0; j < n; j++) aux[i * n + j] = r.aux?.[j];
    if (tokenRewards) {
      if (r.tokenRewards?.length !== n || r.tokenRewards.some((t) => t.length !== l)) {
        throw new RangeError(`the rtg estimator needs task.reward to return tokenRewards: ${n} arrays of ${l} values`);
      }
      r.tokenRewards.forEach((t, j) => tokenRewards.set(t, (i * n + j) * l));
    }
    if (want.tokenValues) {
      const given = r.tokenValues;
      const vocab = given?.[0] ? given[0].values.length / l : 0;
      if (given?.length !== n || !(vocab >= 1 && Number.isInteger(vocab)) || given.some((t) => t.values.length !== l * vocab || t.enumerated.length !== l)) {
        throw new RangeError(`the expected estimator needs task.reward to return tokenValues: ${n} of [${l}, V] values and [${l}] flags`);
      }
      tokenValues ??= { values: new Float32Array(b * n * l * vocab), enumerated: new Uint8Array(b * n * l), vocab };
      for (let j = 0; j < n; j++) {
        const row = i * n + j;
        tokenValues.enumerated.set(given[j].enumerated, row * l);
        // Only the enumerated positions: the loss sums over every [L, V] entry (expectedValueLoss).
        for (let t = 0; t < l; t++) if (given[j].enumerated[t]) tokenValues.values.set(given[j].values.subarray(t * vocab, (t + 1) * vocab), (row * l + t) * vocab);
      }
    }
  }
  if (!want.greedy) return { tokens: sampled.tokens, length: l, rewards, aux, tokenRewards, tokenValues };
  const g = await policy.sample(images, { numSamples: 1, greedy: true });
  const greedyRewards = new Float64Array(b);
  for (let i = 0; i < b; i++) {
    const ex = examples[i];
    greedyRewards[i] = task.reward([task.decode(g.tokens.slice(i * l, (i + 1) * l), ex)], ex).rewards[0];
  }
  return { tokens: sampled.tokens, length: l, rewards, aux, greedyRewards, tokenRewards, tokenValues };
}

async function logEval<E, P, A>(opts: TuneOptions<E, P, A>, step: number, now: () => number): Promise<void> {
  const ev = await evaluateGreedy(opts.policy, opts.task, opts.heldOut ?? []);
  opts.metrics?.log({ kind: 'eval', phase: 'tune', step, wallTime: now(), rewardMean: ev.rewardMean, metrics: ev.metrics });
}

/** Rewards of T=1 samples of every held-out example, from an RNG of its own. */
export async function sampleRewardDistribution<E, P, A>(
  policy: SequencePolicy,
  task: Task<E, P, A>,
  heldOut: readonly Batch<E>[],
  samplesPerExample: number,
  rng: Rng,
): Promise<Float64Array> {
  const out: number[] = [];
  for (const batch of heldOut) {
    const b = batchSize(batch);
    const img = imagesTensor(batch.images);
    try {
      const s = await policy.sample(img.tensor, { numSamples: samplesPerExample, temperature: 1, topK: 0, topP: 0, rng });
      for (let i = 0; i < b; i++) {
        const ex = batch.examples[i];
        const preds: P[] = [];
        for (let j = 0; j < samplesPerExample; j++) {
          const row = i * samplesPerExample + j;
          preds.push(task.decode(s.tokens.slice(row * s.length, (row + 1) * s.length), ex));
        }
        out.push(...task.reward(preds, ex).rewards);
      }
    } finally {
      if (img.owned) img.tensor.dispose();
    }
  }
  return Float64Array.from(out);
}

async function logDistribution<E, P, A>(opts: TuneOptions<E, P, A>, label: 'start' | 'end', step: number): Promise<void> {
  const k = opts.config.distributionSamples ?? 0;
  if (k <= 0 || !opts.heldOut?.length || !opts.metrics) return;
  const rewards = await sampleRewardDistribution(opts.policy, opts.task, opts.heldOut, k, Rng.fromSeed(opts.config.distributionSeed ?? 0));
  opts.metrics.log({ kind: 'distribution', phase: 'tune', step, label, rewards: Array.from(rewards) });
}
