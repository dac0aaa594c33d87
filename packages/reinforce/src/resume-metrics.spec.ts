// A run killed after its last checkpoint (kill -9: no interrupt event, no final checkpoint) and then resumed logs
// each update once in metrics.jsonl: the resumed loop's records replace what the killed attempt logged past the
// checkpoint, for both loops, with the file checkpointer and the JSON-lines sink a CLI run uses (cpu backend).
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@reward-tune/core-model';
import type { Checkpointer, MetricsSink } from './loop';
import { trainMle } from './mle';
import { tune } from './tune';
import { fileCheckpointer, jsonlMetrics } from './run-io';
import { Adam, FeaturePolicy, toyBatch, toyTask } from './testing/toys';

const F = 4;
const L = 3;
const V = 4;
const TOTAL = 6;
const heldOut = () => [toyBatch(Rng.fromSeed(99), 8, F, L)];

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Loop = 'mle' | 'tune';

/** One attempt of a run; `dieAt` (0-based update) makes the batch source throw there, as a kill during that update. */
function attempt(
  loop: Loop,
  io: { checkpointer?: Checkpointer; metrics: MetricsSink },
  dieAt = Infinity,
): Promise<unknown> {
  const train = (step: number, rng: Rng) => {
    if (step === dieAt) throw new Error('killed');
    return toyBatch(rng, 8, F, L);
  };
  const common = {
    policy: new FeaturePolicy(F, 8, V, L, Rng.fromSeed(2)),
    optimizer: new Adam(0.05),
    task: toyTask,
    train,
    heldOut: heldOut(),
    rng: Rng.fromSeed(3),
    ...io,
  };
  const config = { steps: TOTAL, checkpointEvery: 2, evalEvery: 3 };
  return loop === 'mle'
    ? trainMle({ ...common, config })
    : tune({ ...common, config: { ...config, numSamples: 2, distributionSamples: 2 } });
}

const read = (file: string): Record<string, unknown>[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const { wallTime: _, ...r } = JSON.parse(l);
      return r;
    });

describe.each<Loop>(['mle', 'tune'])('%s killed after a checkpoint and resumed', (loop) => {
  it('logs every update once, as the uninterrupted run does', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), `resume-metrics-${loop}-`));
    const straight = path.join(dir, 'straight.jsonl');
    await attempt(loop, { metrics: jsonlMetrics(straight) });

    const file = path.join(dir, 'metrics.jsonl');
    const checkpointer = fileCheckpointer(path.join(dir, 'checkpoints'), { config: {} });
    // Killed during update 6, after update 5 was logged and the checkpoint of update 4 saved.
    await expect(attempt(loop, { checkpointer, metrics: jsonlMetrics(file) }, 5)).rejects.toThrow('killed');
    const killed = read(file);
    expect(killed.filter((r) => r.kind === 'train').map((r) => r.step)).toEqual([1, 2, 3, 4, 5]);
    appendFileSync(file, '{"kind":"train","pha'); // the line the kill cut short

    await attempt(loop, {
      checkpointer: fileCheckpointer(path.join(dir, 'checkpoints'), { config: {} }),
      metrics: jsonlMetrics(file),
    });
    const resumed = read(file);
    const steps = (rs: Record<string, unknown>[], kind: string) => rs.filter((r) => r.kind === kind).map((r) => r.step);
    expect(steps(resumed, 'train')).toEqual([1, 2, 3, 4, 5, 6]);
    expect(steps(resumed, 'eval')).toEqual(steps(read(straight), 'eval'));
    expect(resumed.filter((r) => r.kind === 'event').map((r) => [r.event, r.step])).toEqual([
      ['start', 0],
      ['resumed', 4],
      ['done', TOTAL],
    ]);
    // The records are the uninterrupted run's, the resume event aside (the resumed updates repeat it exactly).
    expect(resumed.filter((r) => r.kind !== 'event')).toEqual(read(straight).filter((r) => r.kind !== 'event'));
  });
});
