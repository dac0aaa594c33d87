/**
 * The loops' collaborators over core-model's run directory: checkpoints as safetensors files in
 * `<run>/checkpoints/` (atomic, the last `keep` kept), `metrics.jsonl` records, the progress display, and Ctrl-C
 * as the loops' stop signal. A run directory thus holds everything a resumed run needs and everything its report is
 * drawn from.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/Either';
import {
  checkpointPath,
  latestCheckpoint,
  loadCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
  writeAtomic,
  type HostTensor,
  type Progress as ProgressDisplay,
} from '@reward-tune/core-model';
import {
  PHASES,
  type Checkpointer,
  type MetricsRecord,
  type MetricsSink,
  type Phase,
  type Progress,
  type TrainState,
} from './loop';
import { currentHistory } from './report';

const toTensor = (h: HostTensor): tf.Tensor =>
  tf.tensor(h.data, h.shape as number[], h.dtype === 'I32' ? 'int32' : 'float32');

/**
 * Checkpoints in `dir` as `step_<n>.safetensors`, with the run's resolved `config` and the loop's phase and
 * bookkeeping in the metadata. A checkpoint that cannot be read is an error naming the file (never silently skipped:
 * resuming from an older state than the user thinks would be worse).
 */
export function fileCheckpointer(
  dir: string,
  opts: {
    readonly config: unknown;
    readonly keep?: number;
    /** Metadata of the run's own in every checkpoint (e.g. the oracle config of stage I, stage II's oracle). */
    readonly extra?: Readonly<Record<string, string>>;
  },
): Checkpointer {
  return {
    async save(state: TrainState): Promise<void> {
      await saveCheckpoint(checkpointPath(dir, state.step), {
        params: state.params,
        optimizer: state.optimizer,
        step: state.step,
        rngState: state.rng,
        config: opts.config,
        extra: { ...opts.extra, phase: state.phase, loop: JSON.stringify(state.loop) },
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
      if (!(PHASES as readonly string[]).includes(phase))
        throw new Error(`${file}: metadata "phase" is ${JSON.stringify(phase)}, not a training phase`);
      if (c.optimizer === undefined)
        throw new Error(`${file}: holds no optimizer state, so training cannot resume from it`);
      const loop = JSON.parse(c.extra.loop ?? '{}', (_k, v) => (v === null ? NaN : v)) as Record<string, number>;
      return {
        phase: phase as Phase,
        step: c.step,
        params: new Map([...c.params].map(([n, h]) => [n, toTensor(h)])),
        optimizer: {
          step: c.optimizer.step,
          tensors: new Map([...c.optimizer.tensors].map(([n, h]) => [n, toTensor(h)])),
        },
        rng: c.rngState,
        loop,
      };
    },
  };
}

/**
 * Appends each record as one JSON line (NaN and ±Infinity become null, which the report reads back as NaN).
 *
 * A loop's `resumed` or `start` event first leaves in the file only the run as it now stands (report.ts
 * `currentHistory`): a loop resumed from its checkpoint at update s repeats the updates after s that an earlier
 * attempt (one killed after that checkpoint, say) already logged, so its phase's records past s go; a loop that
 * starts afresh in a run directory without a checkpoint drops all of its phase's. A line cut short by a kill goes too.
 */
export function jsonlMetrics(file: string): MetricsSink {
  return {
    log: (r: MetricsRecord) => {
      if (r.kind === 'event' && (r.event === 'resumed' || r.event === 'start')) keepCurrentHistory(file, r);
      appendFileSync(file, `${JSON.stringify(r)}\n`);
    },
  };
}

/** Rewrites `file` (atomically, only when something goes) as `currentHistory` keeps it before `event`. */
function keepCurrentHistory(file: string, event: MetricsRecord): void {
  if (!existsSync(file)) return;
  const lines = new Map<MetricsRecord, string>();
  let unreadable = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      lines.set(JSON.parse(line) as MetricsRecord, line);
    } catch {
      unreadable = true; // the last line of an attempt killed while writing it
    }
  }
  const kept = currentHistory([...lines.keys(), event]).slice(0, -1);
  if (kept.length === lines.size && !unreadable) return;
  writeAtomic(file, kept.map((r) => `${lines.get(r)}\n`).join(''));
}

/** Feeds the loops' progress to core-model's display (a bar on a TTY, JSON lines otherwise). */
export function progressTo(display: ProgressDisplay): Progress {
  return ({ step, loss, rewardMean, warmup }) => {
    const values: Record<string, number> = { loss };
    if (rewardMean !== undefined) values.reward = rewardMean;
    if (warmup !== undefined) values.warmup = warmup;
    display.update(step, values);
  };
}

/** What the first Ctrl-C prints (one line). */
export const SIGINT_NOTICE = 'stopping after this step; a checkpoint will be saved — press Ctrl-C again to quit now';

export interface SigintInterruption {
  /** Aborted by the first SIGINT; pass it as the loops' `signal`. */
  readonly signal: AbortSignal;
  /** Removes the handler, giving Ctrl-C its default meaning back (idempotent). Call it when the loop returns. */
  dispose(): void;
}

export interface SigintOptions {
  /** Where the notice goes (default process.stderr). On a TTY it starts on a fresh line, below the progress bar. */
  readonly stream?: { write(text: string): unknown; readonly isTTY?: boolean };
  /** What the second SIGINT calls with 130 (128 + SIGINT, the shell's code for it); default process.exit. */
  readonly exit?: (code: number) => void;
}

/**
 * Ctrl-C for a CLI training run: the first SIGINT aborts `signal` (the loop finishes its update, saves a checkpoint
 * and returns `stopped: 'interrupted'`) and prints `SIGINT_NOTICE`; a second one exits at once with code 130, for
 * when the current update or evaluation takes too long to wait for.
 */
export function interruptOnSigint(opts: SigintOptions = {}): SigintInterruption {
  const controller = new AbortController();
  const stream = opts.stream ?? process.stderr;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const onSigint = () => {
    if (!controller.signal.aborted) {
      controller.abort(new Error('SIGINT'));
      stream.write(`${stream.isTTY ? '\n' : ''}${SIGINT_NOTICE}\n`);
    } else {
      exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, dispose: () => void process.off('SIGINT', onSigint) };
}
