/**
 * UViM stage I: the oracle's training loop (core-model's `oracleTrainStep`: gradients to the parameters, the
 * dictionary by EMA outside the tape), with what the other loops have around their steps: resume from the latest
 * checkpoint (parameters, dictionary state, optimizer, RNG and the loop's bookkeeping, so that a resumed run repeats
 * an uninterrupted one exactly), the non-finite guard, held-out evaluation with codebook health, periodic
 * checkpoints and the interrupt.
 *
 * A checkpoint holds the parameters and the state tensors `state/dictionary`, `state/counts` side by side (core-model
 * oracle/checkpoint.ts), so the run's checkpoints are stage I checkpoints as they are (with the oracle config in their
 * metadata, which the run directory's checkpointer adds: `oracleMetadata`).
 *
 * Records (`metrics.jsonl`, phase `oracle`): per update `train` with the loss, its terms (`rec`, `rec_<key>`,
 * `commitment`), the dead codes split (`splits`) and the batch code's `batchPerplexity`; per evaluation `eval` with
 * the held-out reconstruction loss (`loss`, eval mode: no code dropout) and `metrics`: the held-out code's
 * `perplexity` (exp of its entropy; K when every code is equally used), `unusedFraction` (codes never assigned in
 * the held-out set), `maxShare` (the most used code's share), the per-key losses, the EMA counts' `emaPerplexity`
 * and `emaMaxShare` (the usage of the last ~1/(1 − momentum) steps) and the `splits` so far.
 *
 * Dimension legend: B batch, L code length, K dictionary size.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  codebookHealth,
  codeHistogram,
  oracleLoss,
  oracleStateFromHost,
  oracleStateTensors,
  oracleTrainStep,
  readTensor,
  Rng,
  type OracleBatch,
  type OracleConfig,
  type OracleModel,
  type OracleState,
  type Optimizer,
} from '@reward-tune/core-model';
import {
  disposeState,
  interruptDetail,
  interruptRequested,
  isDue,
  type LoopIo,
  type MetricsRecord,
  type TrainState,
} from './loop';

/** Stage I training batches, drawn with the loop's `rng`; the loop disposes each batch's tensors after its step. */
export type OracleBatchSource = (step: number, rng: Rng) => OracleBatch;

/** A split of stage I examples: how many, and the batch of any of them (tensors the caller owns). */
export interface OracleTable {
  readonly size: number;
  batch(indices: readonly number[]): OracleBatch;
}

/** Training batches drawn uniformly with replacement from the loop's RNG (as batches.ts `randomBatches`). */
export function randomOracleBatches(table: OracleTable, batchSize: number): OracleBatchSource {
  return (_step, rng) => table.batch(Array.from({ length: batchSize }, () => rng.int(table.size)));
}

/** The first `count` examples of a table (all when 0) in consecutive batches. */
export function sequentialOracleBatches(table: OracleTable, batchSize: number, count = 0): OracleBatch[] {
  const n = count > 0 ? Math.min(count, table.size) : table.size;
  const out: OracleBatch[] = [];
  for (let s = 0; s < n; s += batchSize)
    out.push(table.batch(Array.from({ length: Math.min(batchSize, n - s) }, (_, i) => s + i)));
  return out;
}

/** Every tensor of a batch. */
export const oracleBatchTensors = (b: OracleBatch): tf.Tensor[] => [
  ...Object.values(b.labels),
  ...(b.ctx ? [b.ctx] : []),
  ...Object.values(b.weights ?? {}),
];

/** The loop's own options (an `oracle` section, oracleSectionSchema, has them all). */
export interface OracleLoopConfig {
  readonly steps: number;
  /** Held-out evaluation every this many updates and after the last (0 or absent: none). */
  readonly evalEvery?: number;
  /** A checkpoint every this many updates; one is always written after the last. */
  readonly checkpointEvery?: number;
}

export interface OracleLoopOptions extends LoopIo {
  readonly cfg: OracleConfig;
  /** The oracle to train: its parameters are updated in place, its state is the start (result.state the end). */
  readonly model: OracleModel;
  readonly optimizer: Optimizer;
  readonly train: OracleBatchSource;
  /** Held-out batches (the caller's: not disposed). */
  readonly heldOut?: readonly OracleBatch[];
  /** The training stream (batches, code dropout, splits); replaced by the checkpoint's on resume. */
  readonly rng: Rng;
  readonly config: OracleLoopConfig;
}

export interface OracleLoopResult {
  readonly steps: number;
  readonly stopped: 'done' | 'non-finite' | 'interrupted';
  readonly losses: number[];
  /** The dictionary state at the end. */
  readonly state: OracleState;
}

/** Held-out reconstruction loss (eval mode) and the usage of the held-out code. */
export interface OracleEval {
  readonly loss: number;
  readonly metrics: Record<string, number>;
}

/** The oracle on held-out batches in eval mode: mean loss per example, per-key losses, codebook use. */
export async function evaluateOracle(
  model: OracleModel,
  cfg: OracleConfig,
  heldOut: readonly OracleBatch[],
): Promise<OracleEval> {
  const hist = new Float64Array(cfg.dictSize);
  const sums: Record<string, number> = {};
  let count = 0;
  for (const batch of heldOut) {
    const r = oracleLoss(model.params, model.state, cfg, batch);
    try {
      const b = r.encoded.codes.shape[0];
      const codes = await readTensor(r.encoded.codes);
      const h = codeHistogram(codes, cfg.dictSize);
      for (let k = 0; k < hist.length; k++) hist[k] += h[k];
      const named: [string, tf.Scalar][] = [['loss', r.loss], ...Object.entries(r.terms)];
      for (const [k, v] of named) sums[k] = (sums[k] ?? 0) + (await readTensor(v))[0] * b;
      count += b;
    } finally {
      tf.dispose(r as unknown as tf.TensorContainer);
    }
  }
  const mean = (k: string) => (count > 0 ? (sums[k] ?? NaN) / count : NaN);
  const health = codebookHealth(hist);
  const metrics: Record<string, number> = { ...health };
  for (const k of Object.keys(sums)) if (k.startsWith('rec_')) metrics[k] = mean(k);
  const ema = codebookHealth(model.state.counts);
  metrics.emaPerplexity = ema.perplexity;
  metrics.emaMaxShare = ema.maxShare;
  return { loss: mean('loss'), metrics };
}

/** The loop's state for a checkpoint: parameters and state tensors (disposed by `dispose` once saved). */
function oracleTrainState(
  step: number,
  model: OracleModel,
  optimizer: Optimizer,
  rng: Rng,
  loop: Record<string, number>,
): { readonly state: TrainState; dispose(): void } {
  const stateTensors = oracleStateTensors(model.state);
  return {
    state: {
      phase: 'oracle',
      step,
      params: new Map<string, tf.Tensor>([...model.params, ...stateTensors]),
      optimizer: optimizer.getState(),
      rng: rng.state(),
      loop: { ...loop },
    },
    dispose: () => tf.dispose([...stateTensors.values()]),
  };
}

/** Puts a loaded checkpoint into the parameters and optimizer, disposes it, and returns the state and the RNG. */
async function restoreOracle(
  loaded: TrainState,
  model: OracleModel,
  cfg: OracleConfig,
  optimizer: Optimizer,
): Promise<{ state: OracleState; rng: Rng }> {
  try {
    if (loaded.phase !== 'oracle') throw new Error(`checkpoint phase is '${loaded.phase}', expected 'oracle'`);
    for (const [name, v] of model.params) {
      const t = loaded.params.get(name);
      if (!t) throw new Error(`checkpoint lacks parameter '${name}'`);
      if (!tf.util.arraysEqual(t.shape, v.shape))
        throw new Error(`checkpoint parameter '${name}' has shape [${t.shape}], expected [${v.shape}]`);
      v.assign(t);
    }
    const host = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, t] of loaded.params)
      if (name.startsWith('state/')) host.set(name, { shape: t.shape, data: (await readTensor(t)) as Float32Array });
    const state = oracleStateFromHost(host, cfg);
    optimizer.setState(loaded.optimizer);
    return { state, rng: Rng.fromState(loaded.rng) };
  } finally {
    disposeState(loaded);
  }
}

/** Runs (or resumes) stage I training; see the file comment. */
export async function trainOracle(opts: OracleLoopOptions): Promise<OracleLoopResult> {
  const { cfg, optimizer, config } = opts;
  const heldOut = opts.heldOut ?? [];
  const now = opts.now ?? Date.now;
  const log = (r: MetricsRecord) => opts.metrics?.log(r);
  const params = opts.model.params;
  let state = opts.model.state;
  let rng = opts.rng;
  let step = 0;
  let splits = 0;
  const loaded = await opts.checkpointer?.loadLatest();
  if (loaded) {
    step = loaded.step;
    splits = loaded.loop.splits ?? 0;
    ({ state, rng } = await restoreOracle(loaded, opts.model, cfg, optimizer));
    log({ kind: 'event', phase: 'oracle', step, wallTime: now(), event: 'resumed' });
  } else {
    log({ kind: 'event', phase: 'oracle', step, wallTime: now(), event: 'start' });
  }
  const save = async () => {
    if (!opts.checkpointer) return;
    const s = oracleTrainState(step, { params, state }, optimizer, rng, { splits });
    try {
      await opts.checkpointer.save(s.state);
    } finally {
      s.dispose();
    }
  };

  const losses: number[] = [];
  while (step < config.steps) {
    const batch = opts.train(step, rng);
    let r;
    try {
      r = await oracleTrainStep(params, state, cfg, optimizer, batch, { rng });
    } finally {
      tf.dispose(oracleBatchTensors(batch)); // a training batch is consumed by its step
    }
    if (!r.finite) {
      const detail = `loss ${r.loss} at update ${step + 1}; not applied`;
      log({ kind: 'event', phase: 'oracle', step, wallTime: now(), event: 'non-finite', detail });
      return { steps: step, stopped: 'non-finite', losses, state };
    }
    state = r.state;
    splits += r.splits;
    step += 1;
    losses.push(r.loss);
    log({
      kind: 'train',
      phase: 'oracle',
      step,
      wallTime: now(),
      loss: r.loss,
      ...r.terms,
      splits: r.splits,
      batchPerplexity: r.batchHealth.perplexity,
    });
    opts.progress?.({ phase: 'oracle', step, totalSteps: config.steps, loss: r.loss });
    if (heldOut.length > 0 && config.evalEvery && isDue(step, config.evalEvery, config.steps)) {
      const ev = await evaluateOracle({ params, state }, cfg, heldOut);
      const metrics = { ...ev.metrics, splits };
      log({ kind: 'eval', phase: 'oracle', step, wallTime: now(), rewardMean: NaN, loss: ev.loss, metrics });
    }
    const scheduled = isDue(step, config.checkpointEvery, config.steps);
    const interrupted = interruptRequested(opts.signal, step, config.steps);
    if (scheduled || interrupted) await save();
    if (interrupted) {
      const detail = interruptDetail(step, opts.checkpointer !== undefined);
      log({ kind: 'event', phase: 'oracle', step, wallTime: now(), event: 'interrupted', detail });
      return { steps: step, stopped: 'interrupted', losses, state };
    }
  }
  log({ kind: 'event', phase: 'oracle', step, wallTime: now(), event: 'done' });
  return { steps: step, stopped: 'done', losses, state };
}
