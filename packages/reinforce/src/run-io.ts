/**
 * The loops' collaborators over core-model's run directory: checkpoints as safetensors files in
 * `<run>/checkpoints/` (atomic, the last `keep` kept), `metrics.jsonl` records, and the progress display.
 * A run directory thus holds everything a resumed run needs and everything its report is drawn from.
 */
import { appendFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/Either';
import {
  checkpointPath,
  latestCheckpoint,
  loadCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
  type HostTensor,
  type Progress as ProgressDisplay,
} from '@reward-tune/core-model';
import type { Checkpointer, MetricsRecord, MetricsSink, Phase, Progress, TrainState } from './loop';

const toTensor = (h: HostTensor): tf.Tensor => tf.tensor(h.data, h.shape as number[], h.dtype === 'I32' ? 'int32' : 'float32');

/**
 * Checkpoints in `dir` as `step_<n>.safetensors`, with the run's resolved `config` and the loop's phase and
 * bookkeeping in the metadata. A checkpoint that cannot be read is an error naming the file (never silently skipped:
 * resuming from an older state than the user thinks would be worse).
 */
export function fileCheckpointer(dir: string, opts: { readonly config: unknown; readonly keep?: number }): Checkpointer {
  return {
    async save(state: TrainState): Promise<void> {
      await saveCheckpoint(checkpointPath(dir, state.step), {
        params: state.params,
        optimizer: state.optimizer,
        step: state.step,
        rngState: state.rng,
        config: opts.config,
        extra: { phase: state.phase, loop: JSON.stringify(state.loop) },
      });
      pruneCheckpoints(dir, opts.keep ?? 3);
    },
    async loadLatest(): Promise<TrainState | undefined> {
      const file = latestCheckpoint(dir);
      if (file === undefined) return undefined;
      const ckpt = loadCheckpoint(file);
      if (E.isLeft(ckpt)) throw new Error(ckpt.left);
      const c = ckpt.right;
      const phase = c.extra.phase;
      if (phase !== 'mle' && phase !== 'tune') throw new Error(`${file}: metadata "phase" is ${JSON.stringify(phase)}, not a training phase`);
      if (c.optimizer === undefined) throw new Error(`${file}: holds no optimizer state, so training cannot resume from it`);
      const loop = JSON.parse(c.extra.loop ?? '{}', (_k, v) => (v === null ? NaN : v)) as Record<string, number>;
      return {
        phase: phase as Phase,
        step: c.step,
        params: new Map([...c.params].map(([n, h]) => [n, toTensor(h)])),
        optimizer: { step: c.optimizer.step, tensors: new Map([...c.optimizer.tensors].map(([n, h]) => [n, toTensor(h)])) },
        rng: c.rngState,
        loop,
      };
    },
  };
}

/** Appends each record as one JSON line (NaN and ±Infinity become null, which the report reads back as NaN). */
export function jsonlMetrics(file: string): MetricsSink {
  return { log: (r: MetricsRecord) => appendFileSync(file, `${JSON.stringify(r)}\n`) };
}

/** Feeds the loops' progress to core-model's display (a bar on a TTY, JSON lines otherwise). */
export function progressTo(display: ProgressDisplay): Progress {
  return ({ step, loss, rewardMean }) => {
    const values: Record<string, number> = { loss };
    if (rewardMean !== undefined) values.reward = rewardMean;
    display.update(step, values);
  };
}
