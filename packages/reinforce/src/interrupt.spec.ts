// Interrupting a loop through its AbortSignal (what Ctrl-C does in a CLI) leaves a checkpoint from which a fresh
// policy and optimizer continue exactly as the uninterrupted run did (cpu backend, fixed seeds), for both loops,
// with the in-memory and the safetensors-file checkpointer.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { Rng, type SequencePolicy } from '@reward-tune/core-model';
import { MemoryCheckpointer, type Checkpointer, type MetricsRecord, type Progress } from './loop';
import { trainMle, type MleConfig } from './mle';
import { tune, type TuneConfig } from './tune';
import { fileCheckpointer } from './run-io';
import { Adam, FeaturePolicy, toyBatch, toyTask } from './testing/toys';

const F = 4;
const L = 3;
const V = 4;
const TOTAL = 10;
const train = (_step: number, rng: Rng) => toyBatch(rng, 8, F, L);
const policyAt = (seed: number) => new FeaturePolicy(F, 8, V, L, Rng.fromSeed(seed));
const values = (p: SequencePolicy) => Object.fromEntries([...p.params].map(([k, v]) => [k, Array.from(v.dataSync())]));

let heldOut: ReturnType<typeof toyBatch>[];
beforeAll(async () => {
  await tf.setBackend('cpu');
  heldOut = [toyBatch(Rng.fromSeed(99), 16, F, L)];
});

/** A progress callback that aborts the signal once update `k` is done, as a Ctrl-C during that update would. */
function abortAfter(k: number): { signal: AbortSignal; progress: Progress } {
  const controller = new AbortController();
  return { signal: controller.signal, progress: ({ step }) => step === k && controller.abort() };
}

const events = (records: MetricsRecord[]) =>
  records
    .filter((r): r is Extract<MetricsRecord, { kind: 'event' }> => r.kind === 'event')
    .map((r) => [r.event, r.step]);

type Loop = 'mle' | 'tune';
interface Run {
  readonly stopped: string;
  readonly steps: number;
  readonly losses: number[];
}

// MLE with held-out evaluation and an early-stop watch (never triggered) so that its bookkeeping travels too;
// tuning with the rloo estimator and held-out evaluation (which must not disturb the training stream).
const mleConfig: MleConfig = {
  steps: TOTAL,
  checkpointEvery: 4,
  evalEvery: 3,
  earlyStop: { on: 'loss', patience: 100 },
};
const tuneConfig: TuneConfig = { steps: TOTAL, checkpointEvery: 4, evalEvery: 3, numSamples: 3, estimator: 'rloo' };

async function run(
  loop: Loop,
  policy: SequencePolicy,
  optimizer: Adam,
  seed: number,
  io: { checkpointer?: Checkpointer; signal?: AbortSignal; progress?: Progress; records?: MetricsRecord[] },
): Promise<Run> {
  const metrics = io.records ? { log: (r: MetricsRecord) => io.records?.push(r) } : undefined;
  const common = { policy, optimizer, task: toyTask, train, heldOut, rng: Rng.fromSeed(seed), ...io, metrics };
  return loop === 'mle' ? trainMle({ ...common, config: mleConfig }) : tune({ ...common, config: tuneConfig });
}

describe.each<Loop>(['mle', 'tune'])('%s interrupted through its signal', (loop) => {
  const lr = loop === 'mle' ? 0.03 : 0.05;
  let full: Run;
  let straight: SequencePolicy;
  beforeAll(async () => {
    straight = policyAt(2);
    full = await run(loop, straight, new Adam(lr), 3, {});
    expect(full.stopped).toBe('done');
    expect(full.losses).toHaveLength(TOTAL);
  });

  it.each([
    ['memory', 5, [4, 5]], // the interruption adds a checkpoint between the scheduled ones
    ['memory', 4, [4]], // the scheduled checkpoint of that update serves; no second save
    ['file', 7, [4, 7]],
  ] as const)(
    '%s checkpointer, stopped after update %i, resumes into the uninterrupted run',
    async (kind, k, savedSteps) => {
      const dir = kind === 'file' ? mkdtempSync(path.join(tmpdir(), 'interrupt-')) : '';
      const memory = new MemoryCheckpointer();
      const checkpointer = kind === 'file' ? fileCheckpointer(dir, { config: { loop }, keep: 5 }) : memory;
      try {
        const records: MetricsRecord[] = [];
        const first = await run(loop, policyAt(2), new Adam(lr), 3, { checkpointer, records, ...abortAfter(k) });
        expect(first.stopped).toBe('interrupted');
        expect(first.steps).toBe(k);
        expect(first.losses).toHaveLength(k);
        const last = records[records.length - 1];
        expect(last).toMatchObject({
          kind: 'event',
          event: 'interrupted',
          phase: loop,
          step: k,
          detail: `stopped after update ${k}; checkpoint saved`,
        });
        expect(events(records)).toEqual([
          ['start', 0],
          ['interrupted', k],
        ]);
        const saved =
          kind === 'file'
            ? readdirSync(dir)
                .sort()
                .map((f) => Number(/step_(\d+)/.exec(f)?.[1]))
            : memory.steps();
        expect(saved).toEqual(savedSteps);

        // Fresh objects, another initialisation and seed: everything that matters must come from the checkpoint.
        const resumed = policyAt(77);
        const optimizer = new Adam(lr);
        const resumedRecords: MetricsRecord[] = [];
        const second = await run(loop, resumed, optimizer, 999, { checkpointer, records: resumedRecords });
        expect(second.stopped).toBe('done');
        expect(events(resumedRecords)).toEqual([
          ['resumed', k],
          ['done', TOTAL],
        ]);
        expect(optimizer.step).toBe(TOTAL);
        expect([...first.losses, ...second.losses]).toEqual(full.losses);
        expect(values(resumed)).toEqual(values(straight));
      } finally {
        memory.dispose();
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('runs to the end when the abort comes after the last update, and reports when nothing could be saved', async () => {
    const late = await run(loop, policyAt(2), new Adam(lr), 3, abortAfter(TOTAL));
    expect(late.stopped).toBe('done');
    expect(late.losses).toEqual(full.losses);

    const records: MetricsRecord[] = [];
    const bare = await run(loop, policyAt(2), new Adam(lr), 3, { records, ...abortAfter(2) });
    expect(bare.stopped).toBe('interrupted');
    expect(bare.losses).toEqual(full.losses.slice(0, 2));
    expect(records[records.length - 1]).toMatchObject({
      event: 'interrupted',
      step: 2,
      detail: 'stopped after update 2; no checkpointer, nothing saved',
    });
  });
});
